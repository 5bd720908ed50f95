"""The environment every result carries."""
import datetime
import hashlib
import os
import platform
import socket
import subprocess
import sys


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit():
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True,
                              timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


SPIN_COUNT = "10000"  # libgomp spins before sleeping: bridges the gaps between one forward's parallel regions


_SET_BEFORE_TORCH = False  # whether a call here ran before torch's import (then the policy is in force)


def set_wait_policy(spin=None):
    """How idle OpenMP threads wait, set before torch is imported (libgomp reads its environment then).

    spin=None decides from the load: spin unless the 1-minute load average reaches the core count (others
    then hold the cores; our own earlier work, e.g. an install just before, stays below it on its own).
    Spinning: GOMP_SPINCOUNT=10000, a short spin then sleep (faster than both libgomp's default and PASSIVE
    on an idle machine). Not spinning: PASSIVE, sleep at once -- under load, spinning idle threads take the
    cores from the working ones (the README's benchmark section has the figures).
    ONNX Runtime's spinning follows the same decision. Values the user set in the environment win.
    Returns (spin, description of the policy in force)."""
    if spin is None:
        load = loadavg()
        spin = load is not None and load[0] < (os.cpu_count() or 1)
    global _SET_BEFORE_TORCH
    if "torch" not in sys.modules:
        _SET_BEFORE_TORCH = True
        if spin:
            os.environ.setdefault("GOMP_SPINCOUNT", SPIN_COUNT)
        else:
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    policy = os.environ.get("OMP_WAIT_POLICY")
    count = os.environ.get("GOMP_SPINCOUNT")
    if policy:
        what = f"OMP_WAIT_POLICY={policy}"
    elif count:
        what = f"GOMP_SPINCOUNT={count}"
    else:
        what = "libgomp default (300,000 spins, then sleep)"
    late = "torch" in sys.modules and not _SET_BEFORE_TORCH
    return spin, what + (" (torch was imported before: as it was then)" if late else "")


def loadavg():
    """1, 5 and 15 minute load averages: above the core count, neighbours share the CPU with us."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def busy(*loads):
    """A note when any of the load averages given (1-minute first, as loadavg() gives them) was above the core
    count: the medians measured then are inflated, the interleaved ratios less so. None on an uncontended CPU."""
    worst = max((v[0] for v in loads if v), default=0)
    cores = os.cpu_count() or 1
    if worst > cores:
        return (f"load average {worst:.1f} on {cores} cores: other programs shared the CPU, so every median is "
                "inflated; the interleaved ratios are the numbers to read")
    return None


def strict_fp32():
    """oneDNN fp32 math as IEEE fp32: `torch.set_float32_matmul_precision("medium")` elsewhere in the process
    would otherwise turn CPU fp32 matmuls into bf16 ones (the CPU counterpart of CUDA's TF32)."""
    import torch
    mk = torch.backends.mkldnn
    for part in (getattr(mk, "conv", None), getattr(mk, "matmul", None)):
        if part is not None and hasattr(part, "fp32_precision"):
            part.fp32_precision = "ieee"


def cpu_fp32_math():
    """The oneDNN fp32 math modes in force, recorded with CPU results (None where torch has no such setting)."""
    import torch
    mk = torch.backends.mkldnn
    modes = {n: getattr(getattr(mk, n, None), "fp32_precision", None) for n in ("conv", "matmul")}
    return None if None in modes.values() else " ".join(f"{k}={v}" for k, v in modes.items())


def _version(*dists):
    """The installed version of the first of these distributions present (none imported), or None."""
    from importlib import metadata
    for d in dists:
        try:
            return metadata.version(d)
        except metadata.PackageNotFoundError:
            continue
    return None


def environment(device="cpu"):
    import torch
    from .. import __version__
    from . import memory
    from .backends import registry
    versions = {}  # the libraries the backends run on, as each declares (traits.versions)
    for cls in registry.backends().values():
        for key, dists in cls.traits.versions.items():
            versions[key] = _version(*dists)
    gpu = driver = None
    if device == "cuda" and torch.cuda.is_available():
        gpu = torch.cuda.get_device_name()
        try:
            driver = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                    capture_output=True, text=True, timeout=10).stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            driver = None
    env = dict(host=socket.gethostname(), cpu=cpu_model(), cores=os.cpu_count(), gpu=gpu, driver=driver,
               python=platform.python_version(), torch=torch.__version__, rss_method=memory.method(),
               darkbench=__version__, git_commit=git_commit(), torch_threads=torch.get_num_threads(),
               onednn=torch.backends.mkldnn.is_available(), loadavg=loadavg(),
               cudnn_benchmark=bool(torch.backends.cudnn.benchmark) if device == "cuda" else None,
               tf32=bool(torch.backends.cuda.matmul.allow_tf32) if device == "cuda" else None,
               cpu_fp32_math=cpu_fp32_math() if device == "cpu" else None,
               timestamp=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    for key, version in versions.items():  # a backend naming a field the environment has already keeps it
        env.setdefault(key, version)
    return env
