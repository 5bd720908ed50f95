"""Ways to run one network: each backend prepares a callable that runs one batch."""
import os
import re
import shutil
import subprocess
import tempfile
import time

from ..errors import DarkbenchError
from .peak import DTYPES

BACKENDS = ("eager", "fused", "compile", "onnxruntime", "darknet")


class Skip(Exception):
    """The backend cannot run here (reason given); not an error."""


class Runner:
    def __init__(self, fn, device, note="", compile_s=None, sync=None):
        self.fn, self.device, self.note, self.compile_s = fn, device, note, compile_s
        self.sync = sync or (lambda: None)

    def __call__(self):
        self.fn()


def _input(model, batch, device, dtype, channels_last=False):
    import torch
    x = torch.rand(batch, *model.input_shape, generator=torch.Generator().manual_seed(0))
    x = x.to(device=device, dtype=getattr(torch, DTYPES[dtype]))
    return x.contiguous(memory_format=torch.channels_last) if channels_last and x.dim() == 4 else x


def _torch(path, device, dtype, batch, width, height, fuse, compile_mode=None):
    import torch
    import darkbench
    if device == "cuda" and not torch.cuda.is_available():
        raise Skip("CUDA is not available")
    if dtype == "fp16" and device == "cpu":
        raise Skip("fp16 is not a CPU inference type (use bf16)")
    model = darkbench.load(path, width=width, height=height, fuse=fuse)
    model = model.to(device=device, dtype=getattr(torch, DTYPES[dtype]))
    x = _input(model, batch, device, dtype, channels_last=fuse)
    sync = torch.cuda.synchronize if device == "cuda" else None
    compile_s, note = None, ""
    fn = model
    if compile_mode is not None:
        import torch._inductor.config as ic
        ic.freezing = True  # constant-fold weights (BN already folded) for inference
        t = time.perf_counter()
        fn = torch.compile(model, mode=compile_mode, dynamic=False)
        with torch.inference_mode():
            fn(x)
        if sync:
            sync()
        compile_s = time.perf_counter() - t
        note = f"torch.compile(mode={compile_mode!r}, inductor freezing)"

    def run():
        with torch.inference_mode():
            fn(x)
    return Runner(run, device, note, compile_s, sync), model


def eager(path, device, dtype, batch, width=None, height=None, threads=None):
    return _torch(path, device, dtype, batch, width, height, fuse=False)[0]


def fused(path, device, dtype, batch, width=None, height=None, threads=None):
    r = _torch(path, device, dtype, batch, width, height, fuse=True)[0]
    r.note = "batch norm folded, channels-last"
    return r


def compiled(path, device, dtype, batch, width=None, height=None, threads=None):
    mode = "max-autotune-no-cudagraphs" if device == "cuda" else "default"
    return _torch(path, device, dtype, batch, width, height, fuse=True, compile_mode=mode)[0]


def onnxruntime(path, device, dtype, batch, width=None, height=None, threads=None):
    try:
        import onnxruntime as ort
    except ImportError:
        raise Skip("onnxruntime is not installed (pip install onnxruntime)") from None
    import numpy as np
    import darkbench
    from ..export import export_onnx
    if dtype != "fp32":
        raise Skip("the ONNX backend runs fp32 only")
    providers = ["CPUExecutionProvider"]
    if device == "cuda":
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise Skip("onnxruntime has no CUDAExecutionProvider here")
        providers = ["CUDAExecutionProvider"]
    model = darkbench.load(path, width=width, height=height, fuse=True)
    tmp = tempfile.mkdtemp(prefix="darkbench-onnx-")
    f = os.path.join(tmp, "model.onnx")
    export_onnx(model, f, batch=batch)
    so = ort.SessionOptions()
    if threads:
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # idle ORT threads spin by default and would steal the cores from the interleaved torch runs
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(f, so, providers=providers)
    shutil.rmtree(tmp, ignore_errors=True)
    x = {sess.get_inputs()[0].name: np.random.default_rng(0).random((batch, *model.input_shape), dtype=np.float32)}
    return Runner(lambda: sess.run(None, x), device, f"onnxruntime {ort.__version__}, {threads} intra-op threads, no spinning")


def darknet_speed(path, seconds=3.0):
    """Run `darknet speed CFG N`: darknet reports only the mean over N evaluations."""
    exe = shutil.which("darknet")
    if exe is None:
        raise Skip("darknet is not installed (apt-get install darknet)")

    def once(n):
        r = subprocess.run([exe, "speed", os.path.abspath(path), str(n)], capture_output=True, text=True,
                           cwd="/usr/share/darknet" if os.path.isdir("/usr/share/darknet") else None)
        m = re.search(r"Speed: ([0-9.]+) sec/eval", r.stdout + r.stderr)
        if r.returncode or not m:
            raise DarkbenchError(f"darknet speed failed: {(r.stderr or r.stdout).strip().splitlines()[-1:]}")
        return float(m.group(1)) * 1000
    first = once(1)
    n = max(3, int(seconds * 1000 / max(first, 1)))
    return first, once(n), n


PREPARE = {"eager": eager, "fused": fused, "compile": compiled, "onnxruntime": onnxruntime}
