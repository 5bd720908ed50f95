"""Finding a model file by name: the name as given, DARKBENCH_CFG_PATH, the project's cfgs, darknet's zoo.

A leaf module (it imports nothing of darkbench but errors), so anything may ask it for a path."""
import os
from importlib.resources import files
from pathlib import Path

from .errors import DarkbenchError


def _project_cfg():
    """The project's published cfgs: shipped inside an installed package as darkbench/zoo (pyproject.toml maps
    the repository's top-level cfg/ to the package darkbench.zoo), else cfg/ beside the package in a source
    tree (a checkout run in place, or an editable install)."""
    shipped = Path(str(files(__package__) / "zoo"))
    return shipped if shipped.is_dir() else Path(__file__).resolve().parent.parent / "cfg"


PROJECT_CFG = _project_cfg()
DARKNET_ZOO = Path("/usr/share/darknet/cfg")


def search_path():
    """Where bare names are looked for after the name as given."""
    extra = [Path(p) for p in os.environ.get("DARKBENCH_CFG_PATH", "").split(os.pathsep) if p]
    return extra + [PROJECT_CFG, DARKNET_ZOO]


def resolve(name):
    """A path as given if it exists, else the search path (bare names only, with or without .cfg)."""
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
