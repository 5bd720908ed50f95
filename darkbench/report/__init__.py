"""`darkbench report`: tables and figures from analysis and benchmark results (it never measures)."""
from .build import build  # noqa: F401
