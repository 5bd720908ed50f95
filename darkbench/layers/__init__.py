"""Layer families, found rather than listed: section name -> family module.

A family is a module that defines NAMES (its section names, the canonical one first), KEYS (the options
it reads), build(sec, ctx) -> Layer and module(layer, net) -> torch module, plus any traits it differs
in from traits.DEFAULTS (upper-case names; checked when the family is registered). Helper modules define no
NAMES and are not families: spec (Layer, Context), traits, options (which keys a section reads),
loading (darknet's weights loader), bflops (the fork's float32 BF), fork_common, recurrent, registry.

Families come from, in this order:
- the modules of this package;
- entry points in the group "darkbench.layers" (each names a family module);
- the environment variable DARKBENCH_LAYERS: family files, separated by os.pathsep
  (DARKBENCH_LAYERS=path/to/scale.py:path/to/other.py), so a layer type can be added in one file.
A section name claimed by two families is an error naming both.
"""
from .registry import ENV, GROUP, families, family, sections_with  # noqa: F401
from .traits import DEFAULTS, trait  # noqa: F401 (the traits' home)
