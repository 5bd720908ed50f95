"""The registry of layer families: section name -> family module (see the package docstring).

It imports no family statically (they import spec, which asks this module for a layer's family). Every
family is checked as it is registered (traits.problems): a misspelt trait is an error, not a default."""
import importlib
import pkgutil
import sys

from .. import plugins
from ..errors import DarkbenchError
from .traits import problems, trait

GROUP = "darkbench.layers"
ENV = "DARKBENCH_LAYERS"

_registry = None  # {section name: family}, filled on first use so a bad plugin is a DarkbenchError


def _builtin():
    package = sys.modules[__package__]  # darkbench.layers, loaded before any family is looked up
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        yield importlib.import_module(f"{__package__}.{info.name}"), f"{__package__}.{info.name}"


def _entry_points():
    return plugins.entry_points(GROUP, "layer family")


def _files():
    return plugins.files(ENV, "layer family", "darkbench_layers_")


def _load():
    registry, where = {}, {}
    for gen in (_builtin, _entry_points, _files):
        for fam, origin in gen():
            if not hasattr(fam, "NAMES") and gen is _builtin:  # a helper module (spec, traits, recurrent...)
                continue
            wrong = problems(fam)
            if wrong:
                path = getattr(fam, "__file__", None)
                raise DarkbenchError(f"layer family{'' if origin == path else ' ' + origin}: {'; '.join(wrong)}",
                                     path)
            for name in fam.NAMES:
                if name in registry and registry[name] is not fam:
                    raise DarkbenchError(f"layer section [{name}] is defined by both {where[name]} and {origin}")
                registry[name], where[name] = fam, origin
    return registry


def _families():
    global _registry
    if _registry is None:
        _registry = _load()
    return _registry


def families():
    """Every family module once, builtin ones first (alphabetically), then plugins."""
    return tuple(dict.fromkeys(_families().values()))


def family(name):
    """The family module of a section or layer type name, or None."""
    return _families().get(name)


def sections_with(name):
    """The section names (aliases too) of the families whose trait `name` is true, in family order."""
    return tuple(section for fam in families() if trait(fam, name) for section in fam.NAMES)
