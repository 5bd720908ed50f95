"""Ways to run one network. A backend prepares a case (one model at one device, dtype and batch) into a
Runner: a callable that runs one batch, closed when done. Adding a backend: subclass Backend, give it a
name and prepare(), add it to REGISTRY."""
import dataclasses
import os
import re
import shutil
import subprocess
import tempfile
import time
from typing import Callable

import numpy as np

from ..errors import DarkbenchError
from . import memory
from .measure import interleaved, warm_up
from .peak import DTYPES
from .quiet import quiet


class Skip(Exception):
    """The backend cannot run here (reason given); not an error."""


@dataclasses.dataclass(eq=False)
class Runner:
    """One prepared way to run a batch: calling it runs one. `events`: time it with CUDA events (torch work on
    torch's stream; default: on cuda); `measure`: returns its own ms (darknet times itself), else the
    caller times __call__."""
    fn: Callable | None
    device: str = "cpu"
    note: str = ""
    compile_s: float | None = None
    events: bool | None = None
    measure: Callable | None = None
    first_ms: float | None = None  # set when preparing already timed a first run (darknet)
    forward: Callable | None = None  # input -> output, for checks against `model`
    model: object = None
    cleanup: Callable | None = None  # what close() removes (temporary files)
    extra: dict = dataclasses.field(default_factory=dict)  # extra result fields (compile choice, ...)
    estimate_ms: float | None = None  # warm-up's median: balances the rounds
    resident_bytes: int = 0  # GPU memory it keeps (weights, input), for peak_mem_mb

    def __post_init__(self):
        if self.events is None:
            self.events = self.device == "cuda"

    def __call__(self):
        self.fn()

    def close(self):
        if self.cleanup is not None:
            self.cleanup()
            self.cleanup = None


@dataclasses.dataclass
class Case:
    """One model to prepare: the arguments every backend function takes."""
    path: str
    device: str
    dtype: str
    batch: int
    width: int | None = None
    height: int | None = None
    threads: int | None = None
    weights: str | None = None  # a weights file shared by every backend, None: the model's own

    def args(self):
        return dataclasses.astuple(self)


class Backend:
    """prepare(case, timed) -> Runner, or raises Skip (cannot run here) or any error (recorded)."""
    name = ""
    torch = True  # runs torch code: the run measures a GEMM peak for it
    layers = None  # per-layer timing of its results: None = none, else fuse (False / True)

    def __init__(self, config=None):
        self.config = config  # a BenchConfig, or None for the defaults

    def prepare(self, case, timed):
        raise NotImplementedError

    def weights_note(self, case):
        return ("random (weights.random_arrays), one file for every backend" if case.weights else
                "the model's own initialisation")


def _input(shape, batch, device, dtype, channels_last=False):
    import torch
    x = torch.rand(batch, *shape, generator=torch.Generator().manual_seed(0))
    x = x.to(device=device, dtype=getattr(torch, DTYPES[dtype]))
    return x.contiguous(memory_format=torch.channels_last) if channels_last and x.dim() == 4 else x


def _model(path, device, dtype, width, height, fuse, weights):
    import torch
    import darkbench
    if device == "cuda" and not torch.cuda.is_available():
        raise Skip("CUDA is not available")
    if dtype == "fp16" and device == "cpu":
        raise Skip("fp16 is not a CPU inference type (use bf16)")
    if dtype == "bf16" and device == "cuda" and not torch.cuda.is_bf16_supported():
        raise Skip("this GPU has no bf16")
    model = darkbench.load(path, weights, width=width, height=height, fuse=fuse)
    return model.to(device=device, dtype=getattr(torch, DTYPES[dtype]))


def _torch_runner(fn, model, x, device, note="", compile_s=None, cleanup=None):
    import torch

    def run():
        with torch.inference_mode():
            fn(x)
    return Runner(run, device, note, compile_s, forward=fn, model=model, cleanup=cleanup)


def eager(path, device, dtype, batch, width=None, height=None, threads=None, weights=None):
    m = _model(path, device, dtype, width, height, False, weights)
    return _torch_runner(m, m, _input(m.input_shape, batch, device, dtype, True), device,
                         "darkbench.load as built (channels-last)")


def fused(path, device, dtype, batch, width=None, height=None, threads=None, weights=None):
    m = _model(path, device, dtype, width, height, True, weights)
    return _torch_runner(m, m, _input(m.input_shape, batch, device, dtype, True), device,
                         "darkbench.load(fuse=True): batch norm folded, channels-last")


# torch.compile variants tried by the compile backend; the fastest is kept and named in the result.
# Each variant's options go to torch.compile(options=...) AND config.patch around the compiling call:
# options alone left the convolutions unpacked (torch 2.13), and the patch alone let a later variant
# silently reuse an earlier variant's graph (same Darknet.forward, params are graph inputs) -- distinct
# options make dynamo see a different backend and compile again.
COMPILE_CHOICES = {
    "freezing": {"freezing": True},  # weights constant: oneDNN prepacked conv + fused activation
    "max-autotune-no-cudagraphs": {"freezing": True, "max_autotune": True, "triton.cudagraphs": False},
    "freezing-cpp-wrapper": {"freezing": True, "cpp_wrapper": True},  # C++ wrapper: less Python per kernel
    "aot-inductor": {"freezing": True},  # torch.export + AOTInductor: a compiled .so, no dynamo guards per call
    "default": {},
}
# CPU: on tiny.cfg (2 threads, idle machine) the C++ wrapper took freezing from 2.80 to 2.65 ms, and
# max-autotune (which has no CPU convolution templates to try) gave what freezing gives
# AOTInductor (tiny.cfg, 2 threads, blocks of calls against ONNX Runtime): 1.04x ONNX Runtime, where
# the dynamo-guarded freezing-cpp-wrapper call was 1.11x (guards skipped: 1.08x)
COMPILE_DEFAULT = {"cpu": ("aot-inductor", "freezing-cpp-wrapper", "max-autotune-no-cudagraphs"),
                   "cuda": ("max-autotune-no-cudagraphs", "freezing")}


def compiled(path, device, dtype, batch, width=None, height=None, threads=None, weights=None, choice="freezing"):
    """One torch.compile variant (COMPILE_CHOICES[choice]) of the fused model; compile time kept apart."""
    import torch
    import torch._dynamo
    import torch._inductor.config as ic
    for name in ("recompile_limit", "cache_size_limit", "accumulated_recompile_limit"):
        if hasattr(torch._dynamo.config, name):  # every model shares Darknet.forward: room for all of them
            setattr(torch._dynamo.config, name, max(getattr(torch._dynamo.config, name), 256))
    m = _model(path, device, dtype, width, height, True, weights)
    x = _input(m.input_shape, batch, device, dtype, True)
    if choice == "aot-inductor":
        return _aot_inductor(m, x, device)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    t = time.perf_counter()
    fn = torch.compile(m, dynamic=False, options=dict(COMPILE_CHOICES[choice]) or None)
    with quiet(), torch.inference_mode(), ic.patch(COMPILE_CHOICES[choice]):
        fn(x)
        sync()
    compile_s = time.perf_counter() - t
    r = _torch_runner(fn, m, x, device, f"torch.compile ({choice})", compile_s)
    r.extra["compile_choice"] = choice
    return r


def _aot_inductor(m, x, device):
    """torch.export of the fused model, compiled ahead of time by Inductor into a package in a temporary
    directory (removed on close); calls go straight to the compiled code."""
    import torch
    import torch._inductor
    d = tempfile.mkdtemp(prefix="darkbench-aoti-")
    try:
        t = time.perf_counter()
        with quiet(), torch.no_grad():
            ep = torch.export.export(m, (x,))
            pkg = torch._inductor.aoti_compile_and_package(
                ep, package_path=os.path.join(d, "model.pt2"), inductor_configs=dict(COMPILE_CHOICES["aot-inductor"]))
            fn = torch._inductor.aoti_load_package(pkg)
        with torch.inference_mode():
            fn(x)
        if device == "cuda":
            torch.cuda.synchronize()
        compile_s = time.perf_counter() - t
    except BaseException:
        shutil.rmtree(d, ignore_errors=True)
        raise
    r = _torch_runner(fn, m, x, device, "AOTInductor (torch.export, freezing)", compile_s,
                      cleanup=lambda: shutil.rmtree(d, ignore_errors=True))
    r.extra["compile_choice"] = "aot-inductor"
    return r


def onnxruntime(path, device, dtype, batch, width=None, height=None, threads=None, weights=None, spin=False):
    try:
        import onnxruntime as ort
    except ImportError:
        raise Skip("onnxruntime is not installed (pip install onnxruntime)") from None
    import darkbench
    from ..export import export_onnx
    if dtype != "fp32":
        raise Skip("the ONNX backend runs fp32 only")
    providers = ["CPUExecutionProvider"]
    if device == "cuda":
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise Skip("onnxruntime has no CUDAExecutionProvider here")
        providers = ["CUDAExecutionProvider"]
    model = darkbench.load(path, weights, width=width, height=height, fuse=True)
    tmp = tempfile.mkdtemp(prefix="darkbench-onnx-")
    try:
        f = os.path.join(tmp, "model.onnx")
        export_onnx(model, f, batch=batch)
        so = ort.SessionOptions()
        if threads:
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # idle ORT threads spin by default and would steal the cores from the interleaved torch runs
        so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        sess = ort.InferenceSession(f, so, providers=providers)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    shape = (batch, *model.input_shape)
    x = {sess.get_inputs()[0].name: np.random.default_rng(0).random(shape, dtype=np.float32)}
    # sess.run returns host arrays, so it has synchronised: wall-clock time, not torch's CUDA events
    return Runner(lambda: sess.run(None, x), device, f"onnxruntime {ort.__version__} {providers[0]}, "
                  f"{threads} intra-op / 1 inter-op threads, all graph optimisations, "
                  f"{'spinning' if spin else 'no spinning'}", events=False)


def resized_cfg(path, width, height):
    """darknet speed reads sizes from the cfg: a temporary copy with [net] width/height replaced (only the
    one(s) given: --width alone keeps the cfg's height)."""
    from .. import cfg as cfgmod
    new = {k: v for k, v in (("width", width), ("height", height)) if v is not None}
    lines, in_net = [], False
    for line in cfgmod.lines(cfgmod.read_text(path)):  # darknet's lines and strip, as darkbench read it
        s = cfgmod.strip(line)
        if s.startswith("["):
            if in_net:
                lines += [f"{k}={v}" for k, v in new.items()]
            in_net = s in ("[net]", "[network]")
        elif in_net and s.partition("=")[0] in new:
            continue
        lines.append(line)
    if in_net:
        lines += [f"{k}={v}" for k, v in new.items()]
    fd, tmp = tempfile.mkstemp(suffix=".cfg", prefix="darkbench-")
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    return tmp


def darknet_speed(cfg, n, threads=None, exe="darknet"):
    """ms per evaluation from `darknet speed CFG N` (darknet's own mean over N forward passes)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads)) if threads else None
    r = subprocess.run([exe, "speed", os.path.abspath(cfg), str(n)], capture_output=True, text=True, env=env,
                       cwd="/usr/share/darknet" if os.path.isdir("/usr/share/darknet") else None)
    m = re.search(r"Speed: ([0-9.eE+-]+) sec/eval", r.stdout + r.stderr)
    if r.returncode or not m:
        last = (r.stderr or r.stdout).strip().splitlines()[-1:] or [f"exit status {r.returncode}"]
        raise DarkbenchError(f"darknet speed failed: {last[0]}")
    return float(m.group(1)) * 1000


def darknet(path, device, dtype, batch, width=None, height=None, threads=None, weights=None, chunk_s=0.25):
    """The installed darknet as a self-timed runner: one sample = darknet's mean over N evals (it prints
    no per-eval times), N chosen so a sample takes about chunk_s; samples interleave with the others."""
    from .. import models
    exe = shutil.which("darknet")
    if exe is None:
        raise Skip("darknet is not installed (apt-get install darknet)")
    if device != "cpu" or dtype != "fp32" or batch != 1:
        raise Skip("darknet's `speed` runs batch 1 fp32 on the CPU only")
    if models.is_keras(path):
        raise Skip("darknet cannot run Keras models")
    cfg = resized_cfg(path, width, height) if (width is not None or height is not None) else path
    try:
        first = darknet_speed(cfg, 1, threads, exe)
        n = max(1, int(chunk_s * 1000 / max(first, 1e-3)))
    except BaseException:
        if cfg != path:
            os.unlink(cfg)
        raise
    return Runner(None, "cpu", f"darknet speed: each sample is darknet's mean over {n} evals (no per-eval "
                  f"times), OMP_NUM_THREADS={threads}", events=False,
                  measure=lambda: darknet_speed(cfg, n, threads, exe), first_ms=first, extra={"evals_per_sample": n},
                  cleanup=(lambda: os.unlink(cfg)) if cfg != path else None)



def pick_compiled(case, timed, choices, budget):
    """Compile each torch.compile variant, time them briefly side by side, keep the fastest."""
    from .record import reason
    tried, cands = {}, {}
    for c in choices:
        try:
            r = compiled(*case.args(), choice=c)
            r.first_ms = timed(r)
            warm_up(r, timed, max_s=1.0)
            cands[c] = r
            tried[c] = {"compile_s": round(r.compile_s, 3)}
        except Skip:
            raise
        except Exception as ex:  # noqa: BLE001 - another variant may work
            tried[c] = {"error": reason(ex)}
            memory.free(case.device)
    if not cands:
        why = "; ".join(f"{c}: {t['error']}" for c, t in tried.items())
        raise RuntimeError(f"no torch.compile variant worked: {why}")
    best = next(iter(cands))
    if len(cands) > 1:
        s = interleaved(cands, timed, min(1.0, budget), max(1.0, min(3.0, budget)), errors={}, rebalance=True,
                        reps={c: 1 for c in cands})
        for c, v in s.items():
            if v and c in cands:
                tried[c]["median_ms"] = round(float(np.median(v)), 4)
        best = min((c for c in cands if "median_ms" in tried[c]), key=lambda c: tried[c]["median_ms"], default=best)
    for c in list(cands):
        if c != best:
            cands.pop(c).close()
    memory.free(case.device)
    r = cands[best]
    timed_ = ", ".join(f"{c} {t['median_ms']:.3f} ms" if "median_ms" in t else f"{c} failed"
                       for c, t in tried.items())
    r.note = f"torch.compile {best}" + (f" (fastest of {timed_})" if len(tried) > 1 else "")
    r.extra = {"compile_choice": best, "compile_tried": tried}
    return r


class Eager(Backend):
    name, layers = "eager", False

    def prepare(self, case, timed):
        return eager(*case.args())


class Fused(Backend):
    name, layers = "fused", True

    def prepare(self, case, timed):
        return fused(*case.args())


class Compile(Backend):
    """The fastest of the torch.compile variants in config.compile_choices (default: COMPILE_DEFAULT)."""
    name = "compile"

    def prepare(self, case, timed):
        choices = (self.config and self.config.compile_choices) or COMPILE_DEFAULT[case.device]
        return pick_compiled(case, timed, choices, self.config.min_time if self.config else 2.0)


class OnnxRuntime(Backend):
    name = "onnxruntime"

    def prepare(self, case, timed):
        return onnxruntime(*case.args(), spin=bool(self.config and self.config.spin))


class Darknet(Backend):
    name, torch = "darknet", False

    def prepare(self, case, timed):
        return darknet(*case.args())

    def weights_note(self, case):
        return "darknet's own initialisation (speed takes no weights)"


# name -> Backend class, in the order runs and reports list them
REGISTRY = {b.name: b for b in (Eager, Fused, Compile, OnnxRuntime, Darknet)}
BACKENDS = tuple(REGISTRY)
