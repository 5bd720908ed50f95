"""darkbench: count, build and time Darknet-style networks.

darkbench.analyse(model) counts a darknet cfg or a Keras model (.json/.keras) without importing torch;
darkbench.load(model) builds it as a torch module. Both are darkbench.models' (the one door to every model).
darkbench.detect(model, images) finds objects as darknet's detectors do (darkbench/detect.py).
darkbench.evaluate(model, data, weights) scores a detector on a darknet .data file's images as the AlexeyAB fork's
`detector map` does (and by COCO's metrics)."""
__version__ = "0.1.0"

from .errors import DarkbenchError  # noqa: E402
from .models import analyse, load  # noqa: E402


def __getattr__(name):
    """darkbench.detect and darkbench.evaluate on first use (numpy and the image reader stay out of the analytic
    path): the module darkbench/detect.py, which is callable as darkbench.detect(model, images, ...), and
    evaluation.evaluate."""
    if name == "detect":
        import importlib
        return importlib.import_module(f"{__name__}.detect")
    if name == "evaluate":
        import importlib
        return importlib.import_module(f"{__name__}.evaluation").evaluate
    raise AttributeError(f"module 'darkbench' has no attribute {name!r}")


__all__ = ["DarkbenchError", "analyse", "load", "detect", "evaluate", "__version__"]
