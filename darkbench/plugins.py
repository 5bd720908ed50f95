"""What a registry finds beyond its package's own modules: the entry points of a group, and the files an
environment variable names (os.pathsep-separated). The benchmark backends' registry (bench/backends/registry.py)
and the layer families' (layers/registry.py) use it."""
import importlib.util
import os
import sys

from .errors import DarkbenchError


def entry_points(group, what):
    """(loaded object, origin) of each entry point in `group`; one that cannot load is a DarkbenchError naming
    it (`what` it was to be: "backend", ...)."""
    from importlib.metadata import entry_points as found
    for ep in found(group=group):
        try:
            yield ep.load(), f"entry point {ep.name} ({ep.value})"
        except Exception as e:
            raise DarkbenchError(f"cannot load {what} entry point {ep.name} ({ep.value}): "
                                 f"{type(e).__name__}: {e}") from None


def files(env, what, prefix):
    """(module, path) of each file named in the environment variable `env`, loaded as module prefix + its stem
    (kept in sys.modules: torch.onnx and pickling look classes up by module name)."""
    for path in filter(None, os.environ.get(env, "").split(os.pathsep)):
        if not os.path.isfile(path):
            raise DarkbenchError(f"{env}: no such {what} file", path)
        name = prefix + os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        try:
            spec.loader.exec_module(mod)
        except Exception as e:
            del sys.modules[name]
            raise DarkbenchError(f"{env}: cannot load {what}: {type(e).__name__}: {e}", path) from None
        yield mod, path
