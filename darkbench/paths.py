"""Finding a model file by name: the name as given, DARKBENCH_CFG_PATH, the project's cfgs, darknet's zoo, then
the AlexeyAB fork's zoo ($DARKBENCH_ALEXEYAB/cfg) when that is set.

The fork's zoo comes last: it shares names with 2018 darknet's (yolov3, yolov3-tiny, alexnet, ...), and a bare
name that found a 2018 cfg before keeps finding it; names only the fork has (yolov4-tiny, ...) are found there.
A fork cfg with a 2018 namesake is reached by its path.

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
ALEXEYAB_ENV = "DARKBENCH_ALEXEYAB"  # the fork's build or source directory; its cfg/ holds the zoo


def alexeyab_zoo():
    """The fork's cfg/ folder from $DARKBENCH_ALEXEYAB (read at each call), or None when it is not set."""
    d = os.environ.get(ALEXEYAB_ENV)
    return Path(d) / "cfg" if d else None


def search_path():
    """Where bare names are looked for after the name as given."""
    extra = [Path(p) for p in os.environ.get("DARKBENCH_CFG_PATH", "").split(os.pathsep) if p]
    fork = alexeyab_zoo()
    return extra + [PROJECT_CFG, DARKNET_ZOO] + ([fork] if fork is not None else [])


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
        hint = "" if alexeyab_zoo() else f"; set {ALEXEYAB_ENV} to look in the AlexeyAB fork's zoo too"
        raise DarkbenchError(f"no such file (also looked in {looked}){hint}", name)
    raise DarkbenchError("no such file", name)
