"""Ways to run one network. A backend prepares a case (one model at one device, dtype and batch) into a
Runner: a callable that runs one batch, closed when done. Adding a backend: subclass Backend, give it a
name and prepare(), list it in registry.REGISTRY (the compile backend lives in inductor.py)."""
import dataclasses
import os
import re
import shutil
import subprocess
import tempfile
from typing import Callable

import numpy as np

from ..errors import DarkbenchError
from .config import BenchConfig
from .peak import DTYPES


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
    # output checks against darkbench's fp32 eager (bench/agreement.py): `outputs` maps a numpy batch to a list
    # of numpy outputs (torch runners: derived from `forward`); `compare_at`: darknet layer indices whose
    # outputs it gives instead of the network's; `agreement_note`: why, or why there is nothing to compare
    outputs: Callable | None = None
    compare_at: tuple | None = None
    agreement_note: str = ""
    child_rss: list | None = None  # peak resident bytes of each separate process it ran (darknet)

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
    """One way to run a network. prepare(case, timed) builds what the case needs and returns a Runner (one
    call = one batch); it raises Skip when the backend cannot run here, any other error is recorded.
    `timed` is the group's timer, for a backend that picks among variants while preparing (compile)."""
    name = ""
    torch = True  # runs torch code: the run measures a GEMM peak for it
    layers = None  # per-layer timing of its results: None = none, else fuse (False / True)
    modules = ()  # libraries it loads, imported before its memory is measured (their code is not the model's)

    def __init__(self, config=None):
        self.config = config if config is not None else BenchConfig([])  # the run's options

    def prepare(self, case, timed):
        raise NotImplementedError

    def weights_note(self, case):
        return ("random (weights.random_arrays), one file for every backend" if case.weights else
                "the model's own initialisation")

    def estimated_bytes(self, net, batch):
        """The analytic memory estimate its measured peak is set beside (bench/memory.py)."""
        from . import memory
        return memory.estimated_bytes(net, batch)


def _input(shape, batch, device, dtype, channels_last=False):
    import torch
    x = torch.rand(batch, *shape, generator=torch.Generator().manual_seed(0))
    x = x.to(device=device, dtype=getattr(torch, DTYPES[dtype]))
    return x.contiguous(memory_format=torch.channels_last) if channels_last and x.dim() == 4 else x


def load(path, weights=None, width=None, height=None, fuse=False):
    """darkbench.load; a model without a weights file gets its own initialisation seeded (0), so every backend
    and the agreement reference hold the same numbers (torch's global generator is left as it was)."""
    import torch

    from .. import models  # not the package: darkbench/__init__ imports detect, which prepares these backends
    if weights is not None:
        return models.load(path, weights, width=width, height=height, fuse=fuse)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return models.load(path, None, width=width, height=height, fuse=fuse)


def _model(path, device, dtype, width, height, fuse, weights):
    import torch
    if device == "cuda" and not torch.cuda.is_available():
        raise Skip("CUDA is not available")
    if dtype == "fp16" and device == "cpu":
        raise Skip("fp16 is not a CPU inference type (use bf16)")
    if dtype == "bf16" and device == "cuda" and not torch.cuda.is_bf16_supported():
        raise Skip("this GPU has no bf16")
    model = load(path, weights, width, height, fuse)
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


def onnxruntime(path, device, dtype, batch, width=None, height=None, threads=None, weights=None, spin=False):
    try:
        import onnxruntime as ort
    except ImportError:
        raise Skip("onnxruntime is not installed (pip install onnxruntime)") from None
    from ..export import export_onnx
    if dtype != "fp32":
        raise Skip("the ONNX backend runs fp32 only")
    providers = ["CPUExecutionProvider"]
    if device == "cuda":
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise Skip("onnxruntime has no CUDAExecutionProvider here")
        providers = ["CUDAExecutionProvider"]
    model = load(path, weights, width, height, fuse=True)
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
    name = sess.get_inputs()[0].name
    return Runner(lambda: sess.run(None, x), device, f"onnxruntime {ort.__version__} {providers[0]}, "
                  f"{threads} intra-op / 1 inter-op threads, all graph optimisations, "
                  f"{'spinning' if spin else 'no spinning'}", events=False,
                  outputs=lambda a: sess.run(None, {name: a}))


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


# Runs a program and prints its peak resident KiB last: a child's ru_maxrss counts the pages of the process
# it was forked from until it execs (Linux keeps the old mm's high-water mark), so the program is started
# from this small launcher rather than from the (large) benchmarking process.
_LAUNCH = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); sys.stdout.flush(); "
           "print('darkbench-peak-kib:', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
           "sys.exit(r.returncode)")


def _child(cmd, env=None, cwd=None, peak=False, mark=None):
    """(exit status, stdout and stderr, peak resident bytes or None, seconds from the first line starting with
    `mark` to the end of the program's output or None) of a program; peak=True measures its own peak (the
    launcher's rusage of it). Lines are read as they come, so an unbuffered stderr line is timed when written."""
    import sys
    import time
    p = subprocess.Popen([sys.executable, "-c", _LAUNCH, *cmd] if peak else cmd, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, env=env, cwd=cwd)
    lines, start, end = [], None, None
    for raw in p.stdout:
        line = raw.decode(errors="replace")
        if line.startswith("darkbench-peak-kib:") and end is None:
            end = time.perf_counter()  # the program has exited: the launcher reports
        if mark is not None and start is None and line.startswith(mark):
            start = time.perf_counter()
        lines.append(line)
    code = p.wait()
    end = end if end is not None else time.perf_counter()
    text = "".join(lines)
    m = re.search(r"darkbench-peak-kib: (\d+)\s*$", text) if peak else None
    if m:
        text = text[:m.start()]
    return code, text, int(m.group(1)) * 1024 if m else None, (end - start) if start is not None else None


def darknet_speed(cfg, n, threads=None, exe="darknet", rss=None, fork=False):
    """ms per evaluation from `darknet speed CFG N` (darknet's own mean over N forward passes); the process's
    peak resident bytes are appended to the list `rss` when given (darknet's peak does not grow with N).

    The AlexeyAB fork's `speed` prints the same lines but times its loop with time(0), in whole seconds: for
    it the loop is timed here, from the line its parser writes last to stderr ("avg_outputs", unbuffered,
    just before the loop) to the program's exit; its own figure must agree to its second."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads)) if threads else None
    cwd = os.path.dirname(exe) if fork else "/usr/share/darknet"  # where each keeps its data/
    code, text, peak, loop_s = _child([exe, "speed", os.path.abspath(cfg), str(n)], env,
                                      cwd if os.path.isdir(cwd) else None, rss is not None,
                                      "avg_outputs" if fork else None)
    if peak is not None:
        rss.append(peak)
    m = re.search(r"Speed: ([0-9.eE+-]+) sec/eval", text)
    if code or not m:
        last = text.strip().splitlines()[-1:] or [f"exit status {code}"]
        raise DarkbenchError(f"darknet speed failed: {last[0]}")
    if not fork:
        return float(m.group(1)) * 1000
    total = re.search(r"([0-9]+) evals, ([0-9.eE+-]+) Seconds", text)
    if loop_s is None or total is None:
        raise DarkbenchError("the AlexeyAB fork's speed printed no avg_outputs/evals line to time it by")
    if abs(loop_s - float(total.group(2))) > 1.5:  # its seconds are whole ones, cut at both ends
        raise DarkbenchError(f"the AlexeyAB fork's speed took {float(total.group(2)):.0f} s by its clock, "
                             f"{loop_s:.2f} s here")
    return loop_s * 1000 / n


def darknet_program(dialect):
    """(darknet executable, is the fork) for a cfg's dialect: 2018's installed `darknet`, the fork's from
    $DARKBENCH_ALEXEYAB; raises Skip when that one is not here."""
    from ..paths import ALEXEYAB_ENV
    if dialect == "pjreddie":
        exe = shutil.which("darknet")
        if exe is None:
            raise Skip("darknet is not installed (apt-get install darknet)")
        return exe, False
    d = os.environ.get(ALEXEYAB_ENV)
    exe = os.path.join(d, "darknet") if d else None
    if exe is None or not os.access(exe, os.X_OK):
        raise Skip(f"the cfg is in the AlexeyAB fork's dialect: set {ALEXEYAB_ENV} to the fork's directory "
                   "(its built darknet program)" + (f"; {exe} is not an executable" if exe else ""))
    return exe, True


def darknet(path, device, dtype, batch, width=None, height=None, threads=None, weights=None, chunk_s=0.25):
    """darknet's own `speed` as a self-timed runner: one sample = darknet's mean over N evals (it prints
    no per-eval times), N chosen so a sample takes about chunk_s; samples interleave with the others.
    2018 darknet for pjreddie-dialect cfgs, the AlexeyAB fork's program for the fork's."""
    from .. import models
    if device != "cpu" or dtype != "fp32" or batch != 1:
        raise Skip("darknet's `speed` runs batch 1 fp32 on the CPU only")
    if not models.traits(path).supports_darknet_backend:
        raise Skip("darknet cannot run Keras models")
    path = models.resolve(path)
    exe, fork = darknet_program(models.analyse(path, width, height).dialect)
    cfg = resized_cfg(path, width, height) if (width is not None or height is not None) else path
    rss = []
    try:
        first = darknet_speed(cfg, 1, threads, exe, rss, fork)
        n = max(1, int(chunk_s * 1000 / max(first, 1e-3)))
    except BaseException:
        if cfg != path:
            os.unlink(cfg)
        raise
    who = ("the AlexeyAB fork's darknet speed (timed here: its own clock counts whole seconds)" if fork else
           "darknet speed")
    return Runner(None, "cpu", f"{who}: each sample is darknet's mean over {n} evals (no per-eval "
                  f"times), OMP_NUM_THREADS={threads}", events=False,
                  measure=lambda: darknet_speed(cfg, n, threads, exe, fork=fork), first_ms=first,
                  extra={"evals_per_sample": n, "darknet": exe},
                  cleanup=(lambda: os.unlink(cfg)) if cfg != path else None,
                  child_rss=rss, agreement_note="not checked: darknet speed gives no outputs (darkbench's fp32 "
                  "eager is checked against darknet's forward layer by layer in the tests, rel L2 <= 1e-4)")


class Eager(Backend):
    name, layers = "eager", False

    def prepare(self, case, timed):
        return eager(*case.args())


class Fused(Backend):
    name, layers = "fused", True

    def prepare(self, case, timed):
        return fused(*case.args())


class OnnxRuntime(Backend):
    name, modules = "onnxruntime", ("onnxruntime", "onnx", "torch.onnx")

    def prepare(self, case, timed):
        return onnxruntime(*case.args(), spin=bool(self.config.spin))


class Darknet(Backend):
    name, torch = "darknet", False

    def prepare(self, case, timed):
        return darknet(*case.args())

    def weights_note(self, case):
        return "darknet's own initialisation (speed takes no weights)"

    def estimated_bytes(self, net, batch):
        from . import memory
        return memory.darknet_estimated_bytes(net, batch)
