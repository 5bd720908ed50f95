"""Every backend by name. Adding one: a Backend subclass (see backends.py) with a name and prepare(), listed here."""
from .backends import Darknet, Eager, Fused, OnnxRuntime
from .engines import OpenCV, OpenVINO
from .inductor import Compile

# name -> Backend class, in the order runs and reports list them
REGISTRY = {b.name: b for b in (Eager, Fused, Compile, OnnxRuntime, OpenVINO, OpenCV, Darknet)}
BACKENDS = tuple(REGISTRY)
