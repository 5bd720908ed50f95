"""opencv: OpenCV DNN reading the darknet cfg and .weights itself (cv2.dnn.readNetFromDarknet), on its own CPU
backend (optional: pip install 'darkbench[engines]', OpenCV 4: OpenCV 5 dropped the darknet reader)."""
import os

import numpy as np

from ...errors import DarkbenchError
from ...layers import sections_with
from ..traits import Traits
from .base import Backend, Runner, Skip
from .passes import Pipeline

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

    def _read(self, case, make):
        """make(cv2, cfg, weights) on the case's darknet cfg (at its size) and weights, set to OpenCV's own CPU
        backend; Skip where OpenCV cannot."""
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
            net = make(cv2, cfg, model.weights)
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
        return cv2, net

    def pipeline(self, case, thresh, nms, clock):
        """OpenCV's own detector: cv2.imread, then DetectionModel.detect (its resize, forward, box decoding and
        NMS in one call, which it does not split)."""
        t = clock()
        cv2, model = self._read(case, lambda cv2, cfg, w: cv2.dnn_DetectionModel(cfg, w))
        a = case.model.net
        model.setInputParams(scale=1 / 255, size=(a.width, a.height), swapRB=True)
        load_s = clock() - t

        def image(path, st):
            frame = cv2.imread(path)
            if frame is None:
                raise DarkbenchError("OpenCV cannot read the image", path)
            st.stamp("decode")
            found = model.detect(frame, thresh, nms)
            st.stamp("detect")
            return found
        return Pipeline(image, {"decode": "cv2.imread (OpenCV's own decoder, BGR bytes)",
                                "detect": "cv2.dnn_DetectionModel.detect: its own resize to the network's input "
                                          "(cv2.resize, aspect not kept, where 2018 darknet letterboxes), forward, "
                                          "box decoding and per-class NMS in one call it does not split"},
                        note=f"OpenCV {cv2.__version__} DetectionModel (DNN_BACKEND_OPENCV, CPU), "
                             f"{cv2.getNumThreads()} threads; its layers are set up on the first call",
                        load_s=load_s, compile_s=None, prepare_s=load_s)

    def prepare(self, case, timed):
        def read(cv2, cfg, weights):
            net = cv2.dnn.readNetFromDarknet(cfg, weights)
            outs.extend(net.getUnconnectedOutLayersNames())
            return net
        outs = []
        cv2, net = self._read(case, read)
        model = case.model
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
                      agreement_note=note, extra={"model_bytes": os.path.getsize(model.weights)})
