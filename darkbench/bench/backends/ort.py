"""onnxruntime: darkbench's ONNX export of the fused model, run by ONNX Runtime (optional: pip install onnxruntime).

fp16: the export converted to fp16 (onnxruntime's float16 converter, fp32 inputs and outputs kept); int8: the
export statically quantized (onnxruntime.quantization: QDQ, int8 weights per channel, uint8 activations
calibrated by min/max on the calibration images; the nodes the layers keep in fp32 excluded). What ran is read
from the graph ONNX Runtime optimised (SessionOptions.optimized_model_filepath)."""
import os
import shutil
import tempfile

import numpy as np

from ...errors import DarkbenchError
from ..traits import Traits
from .base import Backend, Runner, Skip

# convolutions and matrix products in a graph ONNX Runtime optimised: those that run on integers (QDQ fused into
# its quantized kernels) and the float ones (whose weights' type says fp32 or fp16)
QUANTIZED_OPS = frozenset({"QLinearConv", "ConvInteger", "QLinearMatMul", "MatMulInteger", "QGemm", "NhwcQLinearConv",
                           "MatMulIntegerToFloat", "DynamicQuantizeMatMul", "QLinearConvTranspose"})
FLOAT_OPS = frozenset({"Conv", "FusedConv", "ConvTranspose", "MatMul", "FusedMatMul", "Gemm", "FusedGemm"})
ELEM_FP16 = 10  # onnx.TensorProto.FLOAT16
# int8's activations: uint8, as ORT's x86 kernels pair u8 activations with s8 weights (VNNI); with int8 ones ORT
# left 4 of yolov3-tiny's 13 convolutions in fp32 and ran 1.2x slower (README, benchmark section)
ACTIVATIONS = "QUInt8"


def _ran(graph):
    """(convolutions and matrix products, how many ran quantized, how many with fp16 weights, the float ones'
    names) in an optimised ONNX graph."""
    inits = {i.name: i.data_type for i in graph.initializer}
    total = quantized = half = 0
    floats = []
    for n in graph.node:
        if n.op_type in QUANTIZED_OPS:
            total += 1
            quantized += 1
        elif n.op_type in FLOAT_OPS:
            total += 1
            if len(n.input) > 1 and inits.get(n.input[1]) == ELEM_FP16:
                half += 1
            else:
                floats.append(n.name)
    return total, quantized, half, floats


def _int8(net, f, out, batches):
    """The export `f` statically quantized into `out`; {node: why} of the nodes the layers keep in fp32."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from ...export import kept_fp32
    from ..quiet import quiet
    kept = kept_fp32(net, onnx.load(f).graph)
    pre = out + ".pre.onnx"
    with quiet():
        quant_pre_process(f, pre)
    names = {n.name for n in onnx.load(pre).graph.node}
    lost = sorted(set(kept) - names)
    if lost:
        raise DarkbenchError(f"ONNX Runtime's quantization pre-processing renamed {lost[0]}, which the layers keep in "
                             "fp32")

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter([{"input": b} for b in batches])

        def get_next(self):
            return next(self._it, None)
    with quiet():
        quantize_static(pre, out, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=getattr(QuantType, ACTIVATIONS), weight_type=QuantType.QInt8,
                        nodes_to_exclude=list(kept))
    os.unlink(pre)
    return kept


def _fp16(f, out):
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    from ..quiet import quiet
    with quiet():
        onnx.save(convert_float_to_float16(onnx.load(f), keep_io_types=True), out)


class OnnxRuntime(Backend):
    name = "onnxruntime"
    devices = ("cpu", "cuda")
    dtypes = {"cpu": ("fp32", "fp16", "int8"), "cuda": ("fp32",)}
    limits = "fp16 and int8 are read back from ONNX Runtime's CPU graph; on CUDA it runs fp32"
    traits = Traits(order=40, color="tab:purple", marker="v",
                    versions={"onnxruntime": ("onnxruntime", "onnxruntime-gpu")})
    torch = False
    modules = ("onnxruntime", "onnx", "torch.onnx", "onnxruntime.quantization", "onnxruntime.transformers.float16")

    def prepare(self, case, timed):
        try:
            import onnxruntime as ort
        except ImportError:
            raise Skip("onnxruntime is not installed (pip install onnxruntime)") from None
        from ...export import export_onnx
        from .. import precision
        providers = ["CPUExecutionProvider"]
        if case.device == "cuda":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise Skip("onnxruntime has no CUDAExecutionProvider here")
            providers = ["CUDAExecutionProvider"]
        spin = bool(self.config.spin) if self.config is not None else False
        model = case.model.build(fuse=True)
        extra, what = {}, ""
        tmp = tempfile.mkdtemp(prefix="darkbench-onnx-")
        try:
            f = os.path.join(tmp, "model.onnx")
            export_onnx(model, f, batch=case.batch)
            if case.dtype == "int8":
                batches, extra["calibration"] = precision.calibration_batches(case.model, case.batch, self.config)
                q = os.path.join(tmp, "int8.onnx")
                kept = _int8(case.model.net, f, q, batches)
                f, what = q, f"QDQ int8 (QInt8 weights per channel, {ACTIVATIONS} activations, min/max calibration)"
                extra["kept_fp32"] = precision.kept_texts(kept)
            elif case.dtype == "fp16":
                h = os.path.join(tmp, "fp16.onnx")
                _fp16(f, h)
                f, what = h, "fp16 model (fp32 inputs and outputs)"
            so = ort.SessionOptions()
            if case.threads:
                so.intra_op_num_threads = case.threads
                so.inter_op_num_threads = 1
            so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            # idle ORT threads spin by default and would steal the cores from the interleaved torch runs
            so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
            optimized = None
            if case.dtype != "fp32":
                optimized = so.optimized_model_filepath = os.path.join(tmp, "optimized.onnx")
                so.log_severity_level = 3  # its warning that the written graph is specific to this CPU
            sess = ort.InferenceSession(f, so, providers=providers)
            extra["model_bytes"] = os.path.getsize(f)
            if optimized:
                import onnx
                convs, quantized, half, floats = _ran(onnx.load(optimized).graph)
                at = quantized if case.dtype == "int8" else half
                fallback = ("ONNX Runtime's CPU provider has no fp16 kernels for them here and cast them to fp32"
                            if case.dtype == "fp16" else "ONNX Runtime ran them on dequantized fp32")
                extra.update(precision.ran(case.dtype, convs, at, fallback))
                if floats and case.dtype != "fp32":
                    what += f"; {len(floats)} of {convs} convolutions ran in fp32"
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        shape = (case.batch, *model.input_shape)
        name = sess.get_inputs()[0].name
        x = {name: np.random.default_rng(0).random(shape, dtype=np.float32)}
        # sess.run returns host arrays, so it has synchronised: wall-clock time, not torch's CUDA events
        return Runner(lambda: sess.run(None, x), case.device, f"onnxruntime {ort.__version__} {providers[0]}, "
                      f"{case.threads} intra-op / 1 inter-op threads, all graph optimisations, "
                      f"{'spinning' if spin else 'no spinning'}" + (f", {what}" if what else ""), events=False,
                      outputs=lambda a: sess.run(None, {name: a}), extra=extra)
