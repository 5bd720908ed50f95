"""opencv: OpenCV DNN reading the darknet cfg and .weights itself (cv2.dnn.readNetFromDarknet), on its own CPU
backend (optional: pip install 'darkbench[engines]', OpenCV 4: OpenCV 5 dropped the darknet reader)."""
import os

import numpy as np

from ...layers import sections_with
from ..traits import Traits
from .base import Backend, Runner, Skip

# detection heads: OpenCV's layers of these names emit decoded boxes where darknet's give the activated map
YOLO_LIKE = sections_with("DETECTS")
ACTIVATIONS = ("leaky", "relu", "logistic", "tanh", "mish", "swish", "elu", "selu", "relu6", "identity")


def _heads_inputs(net, outs):
    """For OpenCV outputs named yolo_I / region_I: darknet layer I-1 (what the head reads) and OpenCV's name
    for its output: the last non-activation layer named *_{I-1} (OpenCV names an activation after the layer
    that follows it). None when an output is no detection head."""
    names = list(net.getLayerNames())
    at, fetch = [], []
    for o in outs:
        kind, _, idx = o.rpartition("_")
        if kind not in YOLO_LIKE or not idx.isdigit():
            return None
        prev = [n for n in names if n.rpartition("_")[2] == str(int(idx) - 1)
                and n.rpartition("_")[0] not in ACTIVATIONS]
        if not prev:
            return None
        at.append(int(idx) - 1)
        fetch.append(prev[-1])
    return tuple(at), fetch


class OpenCV(Backend):
    name = "opencv"
    devices = ("cpu",)
    dtypes = ("fp32",)
    limits = "OpenCV's CUDA target needs an OpenCV built with CUDA; its CPU backend runs fp32"
    traits = Traits(order=60, color="tab:brown", marker="X",
                    versions={"opencv": ("opencv-python-headless", "opencv-python", "opencv-contrib-python-headless")})
    torch = False
    modules = ("cv2",)

    def prepare(self, case, timed):
        try:
            import cv2
        except ImportError:
            raise Skip("OpenCV is not installed (pip install 'darkbench[engines]')") from None
        if not hasattr(getattr(cv2, "dnn", None), "readNetFromDarknet"):
            raise Skip(f"OpenCV {cv2.__version__} has no darknet reader (OpenCV 5 dropped it; "
                       "opencv-python-headless<5)")
        model = case.model
        if not model.net.supports_darknet_backend:
            raise Skip("OpenCV DNN reads darknet cfgs only (not this model)")
        if model.weights is None:
            raise Skip("OpenCV DNN needs a .weights file and this model has none")
        cfg = model.sized_cfg()
        try:
            net = cv2.dnn.readNetFromDarknet(cfg, model.weights)
            outs = list(net.getUnconnectedOutLayersNames())
        except cv2.error as e:
            lines = [ln for ln in str(e).strip().splitlines() if ln.strip()]
            raise Skip(f"OpenCV DNN cannot read this cfg: {lines[-1] if lines else e}"[:300]) from None
        finally:
            if cfg != model.path:
                os.unlink(cfg)
        net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        if case.threads:
            cv2.setNumThreads(case.threads)
        a = model.net
        x = np.random.default_rng(0).random((case.batch, a.channels, a.height, a.width), dtype=np.float32)

        def run():
            net.setInput(x)
            net.forward(outs)

        heads = _heads_inputs(net, outs)
        fetch, at, note = outs, None, ""
        if heads is not None:
            at, fetch = heads
            kinds = "/".join(dict.fromkeys(o.rpartition("_")[0] for o in outs))
            note = (f"compared at the inputs of OpenCV's {kinds} layers (darknet layers "
                    f"{', '.join(map(str, at))}): OpenCV's emit decoded boxes (x, y, w, h as image fractions, "
                    "objectness, class scores) where darknet's give the activated map")

        def outputs(a):
            net.setInput(np.ascontiguousarray(a, dtype=np.float32))
            return [np.array(o) for o in net.forward(fetch)]
        return Runner(run, "cpu", f"OpenCV {cv2.__version__} DNN (readNetFromDarknet, DNN_BACKEND_OPENCV, CPU), "
                      f"{cv2.getNumThreads()} threads", events=False, outputs=outputs, compare_at=at,
                      agreement_note=note)
