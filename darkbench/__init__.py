"""darkbench: count, build and time Darknet-style networks.

darkbench.analyse(model) counts a darknet cfg or a Keras model (.json/.keras) without importing torch;
darkbench.load(model) builds it as a torch module. Both are darkbench.models' (the one door to every model).
darkbench.detect(model, images) finds objects as darknet's detectors do (darkbench/detect.py)."""
__version__ = "0.1.0"

from .errors import DarkbenchError  # noqa: E402
from .models import analyse, load  # noqa: E402


def __getattr__(name):
    """darkbench.detect on first use (numpy and the image reader stay out of the analytic path): the module
    darkbench/detect.py, which is callable as darkbench.detect(model, images, ...)."""
    if name == "detect":
        import importlib
        return importlib.import_module(f"{__name__}.detect")
    raise AttributeError(f"module 'darkbench' has no attribute {name!r}")


__all__ = ["DarkbenchError", "analyse", "load", "detect", "__version__"]
