"""openvino: darkbench's ONNX export (fused model, static batch) compiled by OpenVINO for the CPU (optional:
pip install 'darkbench[engines]'; absent, a skipped entry)."""
import os
import shutil
import tempfile

import numpy as np

from ..traits import Traits
from .base import Backend, Runner, Skip

# OpenVINO's CPU plugin: darkbench dtype -> INFERENCE_PRECISION_HINT and the CPU capability it needs
PRECISION = {"fp32": ("f32", None), "bf16": ("bf16", "BF16"), "fp16": ("f16", "FP16")}


def _batch(shape, batch):
    return np.random.default_rng(0).random((batch, *shape), dtype=np.float32)


class OpenVINO(Backend):
    """The dtype's inference precision is set explicitly: on CPUs with bf16 OpenVINO's default for an fp32
    model is bf16."""
    name = "openvino"
    devices = ("cpu",)
    dtypes = tuple(PRECISION)
    limits = "OpenVINO's GPU plugin is for Intel GPUs"
    traits = Traits(order=50, color="tab:cyan", marker="P", versions={"openvino": ("openvino",)})
    torch = False
    modules = ("openvino", "onnx", "torch.onnx")

    def prepare(self, case, timed):
        try:
            import openvino as ov
        except ImportError:
            raise Skip("OpenVINO is not installed (pip install 'darkbench[engines]')") from None
        from ...export import export_onnx
        hint, needs = PRECISION[case.dtype]
        core = ov.Core()
        caps = list(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
        if needs and needs not in caps:
            raise Skip(f"OpenVINO has no {case.dtype} on this CPU (capabilities: {', '.join(caps)})")
        model = case.model.build(fuse=True)
        tmp = tempfile.mkdtemp(prefix="darkbench-openvino-")
        try:
            f = os.path.join(tmp, "model.onnx")
            export_onnx(model, f, batch=case.batch)
            config = {"INFERENCE_PRECISION_HINT": hint, "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1,
                      "ENABLE_CPU_PINNING": False}
            if case.threads:
                config["INFERENCE_NUM_THREADS"] = case.threads
            compiled = core.compile_model(f, "CPU", config)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        got = compiled.get_property("INFERENCE_PRECISION_HINT")
        if got != getattr(ov.Type, hint):
            raise Skip(f"OpenVINO runs this model at {got} where {hint} was asked")
        req = compiled.create_infer_request()
        x = _batch(tuple(model.input_shape), case.batch)

        def outputs(a):
            res = req.infer({0: np.ascontiguousarray(a, dtype=np.float32)})
            return [np.array(res[o]) for o in compiled.outputs]
        return Runner(lambda: req.infer({0: x}, share_inputs=True), "cpu",
                      f"OpenVINO {ov.__version__} CPU, ONNX export, INFERENCE_PRECISION_HINT={hint}, LATENCY hint, "
                      f"1 stream, {compiled.get_property('INFERENCE_NUM_THREADS')} threads, no pinning",
                      events=False, outputs=outputs)
