"""The registry of backends: name -> Backend class (see base.py), found as layer families are found: this
package's modules, entry points in the group `darkbench.backends` (a module or a class), and the files named
in DARKBENCH_BACKENDS=a.py:b.py. Loaded on first use, so a bad plugin is a DarkbenchError."""
import importlib
import inspect
import pkgutil
import sys

from ... import plugins
from ...errors import DarkbenchError
from .base import Backend, Case, Skip, check_declaration

GROUP = "darkbench.backends"
ENV = "DARKBENCH_BACKENDS"

_registry = None  # {name: Backend class} in order (traits.order, then discovery)


def _classes(mod):
    """The backends a module (or an entry point's class) defines: Backend subclasses with a name, defined there."""
    if inspect.isclass(mod):
        return [mod]
    return [c for c in vars(mod).values() if inspect.isclass(c) and issubclass(c, Backend)
            and c.__module__ == mod.__name__ and c.name]


def _builtin():
    package = sys.modules[__package__]
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        name = f"{__package__}.{info.name}"
        yield importlib.import_module(name), name


def _entry_points():
    return plugins.entry_points(GROUP, "backend")


def _files():
    return plugins.files(ENV, "backend", "darkbench_backends_")


def _load():
    found, where, flags = {}, {}, {}
    for gen in (_builtin, _entry_points, _files):
        for mod, origin in gen():
            for cls in _classes(mod):
                check_declaration(cls, origin)
                if cls.name in found and found[cls.name] is not cls:
                    raise DarkbenchError(f"backend {cls.name!r} is defined by both {where[cls.name]} and {origin}")
                for o in cls.options:
                    if flags.setdefault(o.name, cls.name) != cls.name:
                        raise DarkbenchError(f"backend option {o.name!r} is declared by both the {flags[o.name]} "
                                             f"backend ({where[flags[o.name]]}) and the {cls.name} backend ({origin})")
                found[cls.name], where[cls.name] = cls, origin
    order = {n: i for i, n in enumerate(found)}
    return dict(sorted(found.items(), key=lambda kv: (kv[1].traits.order, order[kv[0]])))


def backends():
    """{name: Backend class}, in the order runs and reports list them."""
    global _registry
    if _registry is None:
        _registry = _load()
    return _registry


def names():
    return tuple(backends())


def get(name):
    try:
        return backends()[name]
    except KeyError:
        raise DarkbenchError(f"unknown backend {name!r} (choose from {', '.join(names())})") from None


def options():
    """[(backend name, Option)] of every backend, in backend order."""
    return [(n, o) for n, cls in backends().items() for o in cls.options]


def record_traits(name):
    """The traits a results row of backend `name` carries (as JSON), None when no such backend is here."""
    cls = backends().get(name)
    return cls.traits.to_json() if cls is not None else None


def prepare(name, model, device="cpu", dtype="fp32", batch=1, threads=None, config=None, timed=None):
    """Backend `name` prepared for a bench Model (bench/model.py): a Runner whose outputs(x) maps a numpy
    (batch, ...) float32 array to a list of numpy outputs (those of the darknet layers runner.compare_at names,
    when given). Raises Skip when the backend cannot run this; close() the runner when done."""
    backend = get(name)(config)
    why = backend.unsupported(device, dtype, batch)
    if why:
        raise Skip(why)
    if timed is None:
        from ..measure import timer
        timed = timer(device)
    return backend.prepare(Case(model, device, dtype, batch, threads), timed)
