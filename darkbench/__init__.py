"""darkbench: count, build and time Darknet-style networks.

darkbench.analyse(model) counts a darknet cfg or a Keras model (.json/.keras) without importing torch;
darkbench.load(model) builds it as a torch module. Both are darkbench.models' (the one door to every model).
darkbench.detect(model, images) finds objects as darknet's detectors do (darkbench/detect.py).
darkbench.evaluate(model, data, weights) scores a detector on a darknet .data file's images as the AlexeyAB fork's
`detector map` does (and by COCO's metrics)."""
__version__ = "0.1.0"

from .errors import DarkbenchError  # noqa: E402
from .models import analyse, load  # noqa: E402
from . import detect  # noqa: E402  (the module is callable: darkbench.detect(model, images, ...))
from .evaluation import evaluate  # noqa: E402


__all__ = ["DarkbenchError", "analyse", "load", "detect", "evaluate", "__version__"]
