"""onnxruntime: darkbench's ONNX export of the fused model, run by ONNX Runtime (optional: pip install onnxruntime)."""
import os
import shutil
import tempfile

import numpy as np

from ..traits import Traits
from .base import Backend, Runner, Skip


class OnnxRuntime(Backend):
    name = "onnxruntime"
    devices = ("cpu", "cuda")
    dtypes = ("fp32",)
    traits = Traits(order=40, color="tab:purple", marker="v",
                    versions={"onnxruntime": ("onnxruntime", "onnxruntime-gpu")})
    torch = False
    modules = ("onnxruntime", "onnx", "torch.onnx")

    def prepare(self, case, timed):
        try:
            import onnxruntime as ort
        except ImportError:
            raise Skip("onnxruntime is not installed (pip install onnxruntime)") from None
        from ...export import export_onnx
        providers = ["CPUExecutionProvider"]
        if case.device == "cuda":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise Skip("onnxruntime has no CUDAExecutionProvider here")
            providers = ["CUDAExecutionProvider"]
        spin = bool(self.config.spin) if self.config is not None else False
        model = case.model.build(fuse=True)
        tmp = tempfile.mkdtemp(prefix="darkbench-onnx-")
        try:
            f = os.path.join(tmp, "model.onnx")
            export_onnx(model, f, batch=case.batch)
            so = ort.SessionOptions()
            if case.threads:
                so.intra_op_num_threads = case.threads
                so.inter_op_num_threads = 1
            so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            # idle ORT threads spin by default and would steal the cores from the interleaved torch runs
            so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
            sess = ort.InferenceSession(f, so, providers=providers)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        shape = (case.batch, *model.input_shape)
        name = sess.get_inputs()[0].name
        x = {name: np.random.default_rng(0).random(shape, dtype=np.float32)}
        # sess.run returns host arrays, so it has synchronised: wall-clock time, not torch's CUDA events
        return Runner(lambda: sess.run(None, x), case.device, f"onnxruntime {ort.__version__} {providers[0]}, "
                      f"{case.threads} intra-op / 1 inter-op threads, all graph optimisations, "
                      f"{'spinning' if spin else 'no spinning'}", events=False,
                      outputs=lambda a: sess.run(None, {name: a}))
