"""Layer families, found rather than listed: section name -> family module.

A family is a module that defines NAMES (its section names, the canonical one first), KEYS (the options
it reads), build(sec, ctx) -> Layer and module(layer, net) -> torch module, plus any traits it differs
in from base.DEFAULTS. Helper modules (base, recurrent) define no NAMES and are not families.

Families come from, in this order:
- the modules of this package;
- entry points in the group "darkbench.layers" (each names a family module);
- the environment variable DARKBENCH_LAYERS: family files, separated by os.pathsep
  (DARKBENCH_LAYERS=path/to/scale.py:path/to/other.py), so a layer type can be added in one file.
A section name claimed by two families is an error naming both.
"""
from .base import DEFAULTS, trait  # noqa: F401 (the traits' home)
from .registry import ENV, GROUP, families, family  # noqa: F401
