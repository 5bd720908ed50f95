"""openvino: darkbench's ONNX export (fused model, static batch) converted to OpenVINO's IR and compiled by
OpenVINO for the CPU (optional: pip install 'darkbench[engines]'; absent, a skipped entry).

bf16 and fp16 are OpenVINO's inference precision hint (where the CPU has them); int8 the IR quantized by NNCF's
post-training quantization (calibrated on the calibration images, the nodes the layers keep in fp32 in its
ignored scope), the rest at f32. What ran is read from the compiled model's runtime graph."""
import os
import shutil
import tempfile

import numpy as np

from ...errors import DarkbenchError
from ..traits import Traits
from .base import Backend, Runner, Skip

# OpenVINO's CPU plugin: darkbench dtype -> INFERENCE_PRECISION_HINT and the CPU capability it needs
PRECISION = {"fp32": ("f32", None), "bf16": ("bf16", "BF16"), "fp16": ("f16", "FP16"), "int8": ("f32", "INT8")}
# the runtime precisions of a convolution running at the dtype, and the runtime graph's convolutions and products
RUNTIME = {"bf16": ("bf16",), "fp16": ("f16",), "int8": ("u8", "i8")}
CONV_LAYERS = frozenset({"Convolution", "Deconvolution", "FullyConnected", "MatMul"})


def _batch(shape, batch):
    return np.random.default_rng(0).random((batch, *shape), dtype=np.float32)


def _ran(compiled, dtype):
    """(convolutions and matrix products in the compiled model's runtime graph, how many ran at the dtype, the
    precisions the others ran in)."""
    total = at = 0
    others = set()
    for op in compiled.get_runtime_model().get_ordered_ops():
        info = op.get_rt_info()
        if str(info["layerType"].astype(str)) not in CONV_LAYERS:
            continue
        total += 1
        precision = str(info["runtimePrecision"].astype(str))
        if precision in RUNTIME[dtype]:
            at += 1
        else:
            others.add(precision)
    return total, at, sorted(others)


def _int8(net, onnx_path, ir, batches):
    """The IR quantized by NNCF; {node: why} of the nodes the layers keep in fp32 (NNCF's ignored scope: the IR's
    operations named after them)."""
    import onnx
    try:
        import nncf
    except ImportError:
        raise Skip("NNCF is not installed (pip install 'darkbench[engines]')") from None
    from ...export import kept_fp32
    from ..quiet import quiet
    kept = kept_fp32(net, onnx.load(onnx_path).graph)
    ops = [op.get_friendly_name() for op in ir.get_ordered_ops()]
    names = [n for n in ops if any(n == k or n.startswith(k + "/") for k in kept)]
    lost = sorted(k for k in kept if not any(n == k or n.startswith(k + "/") for n in names))
    if lost:
        raise DarkbenchError(f"OpenVINO's conversion renamed {lost[0]}, which the layers keep in fp32")
    with quiet():
        q = nncf.quantize(ir, nncf.Dataset(batches), subset_size=len(batches), target_device=nncf.TargetDevice.CPU,
                          ignored_scope=nncf.IgnoredScope(names=names) if names else None)
    return q, kept


class OpenVINO(Backend):
    """The dtype's inference precision is set explicitly: on CPUs with bf16 OpenVINO's default for an fp32
    model is bf16."""
    name = "openvino"
    devices = ("cpu",)
    dtypes = tuple(PRECISION)
    limits = "OpenVINO's GPU plugin is for Intel GPUs"
    traits = Traits(order=50, color="tab:cyan", marker="P", versions={"openvino": ("openvino",)})
    torch = False
    modules = ("openvino", "onnx", "torch.onnx", "nncf")

    def prepare(self, case, timed):
        try:
            import openvino as ov
        except ImportError:
            raise Skip("OpenVINO is not installed (pip install 'darkbench[engines]')") from None
        from ...export import export_onnx
        from .. import precision
        hint, needs = PRECISION[case.dtype]
        core = ov.Core()
        caps = list(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
        if needs and needs not in caps:
            raise Skip(f"OpenVINO has no {case.dtype} on this CPU (capabilities: {', '.join(caps)})")
        model = case.model.build(fuse=True)
        extra, what = {}, ""
        tmp = tempfile.mkdtemp(prefix="darkbench-openvino-")
        try:
            f = os.path.join(tmp, "model.onnx")
            export_onnx(model, f, batch=case.batch)
            ir = ov.convert_model(f)
            if case.dtype == "int8":
                batches, extra["calibration"] = precision.calibration_batches(case.model, case.batch, self.config)
                ir, kept = _int8(case.model.net, f, ir, batches)
                extra["kept_fp32"] = precision.kept_texts(kept)
                what = "NNCF int8 (post-training quantization for the CPU)"
            xml = os.path.join(tmp, "model.xml")
            ov.save_model(ir, xml, compress_to_fp16=False)  # the file compiled, its weights as they are
            extra["model_bytes"] = os.path.getsize(xml) + os.path.getsize(xml[:-4] + ".bin")
            config = {"INFERENCE_PRECISION_HINT": hint, "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1,
                      "ENABLE_CPU_PINNING": False}
            if case.threads:
                config["INFERENCE_NUM_THREADS"] = case.threads
            compiled = core.compile_model(xml, "CPU", config)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        got = compiled.get_property("INFERENCE_PRECISION_HINT")
        if got != getattr(ov.Type, hint):
            raise Skip(f"OpenVINO runs this model at {got} where {hint} was asked")
        if case.dtype != "fp32":
            convs, at, others = _ran(compiled, case.dtype)
            extra.update(precision.ran(case.dtype, convs, at, f"OpenVINO ran them in {', '.join(others) or '?'}"))
            if at < convs:
                what += f"; {convs - at} of {convs} convolutions ran in {', '.join(others)}"
        req = compiled.create_infer_request()
        x = _batch(tuple(model.input_shape), case.batch)

        def outputs(a):
            res = req.infer({0: np.ascontiguousarray(a, dtype=np.float32)})
            return [np.array(res[o]) for o in compiled.outputs]
        return Runner(lambda: req.infer({0: x}, share_inputs=True), "cpu",
                      f"OpenVINO {ov.__version__} CPU, ONNX export, INFERENCE_PRECISION_HINT={hint}, LATENCY hint, "
                      f"1 stream, {compiled.get_property('INFERENCE_NUM_THREADS')} threads, no pinning"
                      + (f", {what.lstrip('; ')}" if what else ""), events=False, outputs=outputs, extra=extra)
