"""Inference engines other than torch: OpenCV DNN (reads the darknet cfg and .weights itself) and OpenVINO
(fed darkbench's ONNX export). Both optional: `pip install 'darkbench[engines]'`; absent, a skipped entry."""
import os
import shutil
import tempfile

import numpy as np

from .. import models
from ..layers import sections_with
from .backends import Backend, Runner, Skip, load, resized_cfg

YOLO_LIKE = sections_with("DETECTS")  # OpenCV's detection layers: decoded boxes where darknet gives the activated map
ACTIVATIONS = ("leaky", "relu", "logistic", "tanh", "mish", "swish", "elu", "selu", "relu6", "identity")


def _batch(shape, batch):
    return np.random.default_rng(0).random((batch, *shape), dtype=np.float32)


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


def opencv(path, device, dtype, batch, width=None, height=None, threads=None, weights=None):
    """cv2.dnn.readNetFromDarknet(cfg, weights), OpenCV's own CPU backend."""
    try:
        import cv2
    except ImportError:
        raise Skip("OpenCV is not installed (pip install 'darkbench[engines]')") from None
    if not hasattr(getattr(cv2, "dnn", None), "readNetFromDarknet"):
        raise Skip(f"OpenCV {cv2.__version__} has no darknet reader (OpenCV 5 dropped it; opencv-python-headless<5)")
    if device != "cpu":
        raise Skip("the opencv backend runs on the CPU (OpenCV's CUDA target needs an OpenCV built with CUDA)")
    if dtype != "fp32":
        raise Skip("OpenCV DNN's CPU backend runs fp32 only")
    if not models.traits(path).supports_darknet_backend:
        raise Skip("OpenCV DNN reads darknet cfgs only (not this model)")
    if weights is None:
        raise Skip("OpenCV DNN needs a .weights file and this model has none")
    cfg = resized_cfg(path, width, height) if (width is not None or height is not None) else path
    try:
        net = cv2.dnn.readNetFromDarknet(cfg, weights)
        outs = list(net.getUnconnectedOutLayersNames())
    except cv2.error as e:
        lines = [ln for ln in str(e).strip().splitlines() if ln.strip()]
        raise Skip(f"OpenCV DNN cannot read this cfg: {lines[-1] if lines else e}"[:300]) from None
    finally:
        if cfg != path:
            os.unlink(cfg)
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    if threads:
        cv2.setNumThreads(threads)
    a = models.analyse(path, width, height)
    x = _batch((a.channels, a.height, a.width), batch)

    def run():
        net.setInput(x)
        net.forward(outs)

    heads = _heads_inputs(net, outs)
    fetch, at, note = outs, None, ""
    if heads is not None:
        at, fetch = heads
        note = (f"compared at the inputs of OpenCV's {'/'.join(YOLO_LIKE)} layers (darknet layers "
                f"{', '.join(map(str, at))}): OpenCV's emit decoded boxes (x, y, w, h as image fractions, "
                "objectness, class scores) where darknet's give the activated map")

    def outputs(a):
        net.setInput(np.ascontiguousarray(a, dtype=np.float32))
        return [np.array(o) for o in net.forward(fetch)]
    return Runner(run, "cpu", f"OpenCV {cv2.__version__} DNN (readNetFromDarknet, DNN_BACKEND_OPENCV, CPU), "
               f"{cv2.getNumThreads()} threads", events=False, outputs=outputs, compare_at=at, agreement_note=note)


# OpenVINO's CPU plugin: darkbench dtype -> INFERENCE_PRECISION_HINT and the capability it needs
OPENVINO_PRECISION = {"fp32": ("f32", None), "bf16": ("bf16", "BF16"), "fp16": ("f16", "FP16")}


def openvino(path, device, dtype, batch, width=None, height=None, threads=None, weights=None):
    """darkbench's ONNX export (fused model, static batch) compiled by OpenVINO for the CPU, with the dtype's
    inference precision set explicitly: on CPUs with bf16 OpenVINO's default for an fp32 model is bf16."""
    try:
        import openvino as ov
    except ImportError:
        raise Skip("OpenVINO is not installed (pip install 'darkbench[engines]')") from None
    from ..export import export_onnx
    if device != "cpu":
        raise Skip("the openvino backend runs on the CPU (OpenVINO's GPU plugin is for Intel GPUs)")
    hint, needs = OPENVINO_PRECISION[dtype]
    core = ov.Core()
    caps = list(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
    if needs and needs not in caps:
        raise Skip(f"OpenVINO has no {dtype} on this CPU (capabilities: {', '.join(caps)})")
    model = load(path, weights, width, height, fuse=True)
    tmp = tempfile.mkdtemp(prefix="darkbench-openvino-")
    try:
        f = os.path.join(tmp, "model.onnx")
        export_onnx(model, f, batch=batch)
        config = {"INFERENCE_PRECISION_HINT": hint, "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1,
                  "ENABLE_CPU_PINNING": False}
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        compiled = core.compile_model(f, "CPU", config)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    got = compiled.get_property("INFERENCE_PRECISION_HINT")
    if got != getattr(ov.Type, hint):
        raise Skip(f"OpenVINO runs this model at {got} where {hint} was asked")
    req = compiled.create_infer_request()
    x = _batch(tuple(model.input_shape), batch)

    def outputs(a):
        res = req.infer({0: np.ascontiguousarray(a, dtype=np.float32)})
        return [np.array(res[o]) for o in compiled.outputs]
    return Runner(lambda: req.infer({0: x}, share_inputs=True), "cpu",
                  f"OpenVINO {ov.__version__} CPU, ONNX export, INFERENCE_PRECISION_HINT={hint}, LATENCY hint, "
                  f"1 stream, {compiled.get_property('INFERENCE_NUM_THREADS')} threads, no pinning", events=False,
                  outputs=outputs)


class OpenCV(Backend):
    name, torch, modules = "opencv", False, ("cv2",)

    def prepare(self, case, timed):
        return opencv(*case.args())


class OpenVINO(Backend):
    name, torch, modules = "openvino", False, ("openvino", "onnx", "torch.onnx")

    def prepare(self, case, timed):
        return openvino(*case.args())
