"""Kept for darkbench/keras, which imports Traffic from here: its home is darkbench/traffic.py (the layer
rules that lived here are in spec, traits, options, loading and bflops; C arithmetic in darkbench/carith)."""
from ..traffic import Traffic  # noqa: F401
