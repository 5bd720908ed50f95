"""Finding a model file by name and analysing it, whatever its kind (cfg or Keras)."""
import os
from pathlib import Path

from .errors import DarkbenchError

PROJECT_CFG = Path(__file__).resolve().parent.parent / "cfg"
DARKNET_ZOO = Path("/usr/share/darknet/cfg")
KERAS_SUFFIXES = (".json", ".keras")


def search_path():
    """Where bare names are looked for after the name as given."""
    extra = [Path(p) for p in os.environ.get("DARKBENCH_CFG_PATH", "").split(os.pathsep) if p]
    return extra + [PROJECT_CFG, DARKNET_ZOO]


def resolve(name):
    """A path as given if it exists, else the project's cfg/, else darknet's installed zoo."""
    name = os.fspath(name)
    if os.path.exists(name):
        return name
    if os.sep not in name and "/" not in name:
        for d in search_path():
            for cand in (name, name + ".cfg"):
                if (d / cand).exists():
                    return str(d / cand)
        looked = ", ".join(str(d) for d in search_path())
        raise DarkbenchError(f"no such file (also looked in {looked})", name)
    raise DarkbenchError("no such file", name)


def is_keras(path):
    return os.fspath(path).lower().endswith(KERAS_SUFFIXES)


def analyse(name, width=None, height=None):
    """Network (cfg) or KerasNetwork (.json/.keras) for a name or path."""
    from .network import analyse as analyse_cfg, announce
    path = resolve(name)
    if is_keras(path):
        from . import keras
        net = keras.analyse(path, width=width, height=height)
    else:
        net = analyse_cfg(path, width=width, height=height)
    announce(net)  # every command that reads a model warns, as darknet prints its unused options
    return net
