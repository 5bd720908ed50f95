"""The environment every result carries."""
import datetime
import hashlib
import os
import platform
import socket
import subprocess


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


def environment(device="cpu"):
    import torch
    from .. import __version__
    try:
        import onnxruntime
        ort = onnxruntime.__version__
    except ImportError:
        ort = None
    gpu = driver = None
    if device == "cuda" and torch.cuda.is_available():
        gpu = torch.cuda.get_device_name()
        try:
            driver = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                    capture_output=True, text=True, timeout=10).stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            driver = None
    return dict(host=socket.gethostname(), cpu=cpu_model(), cores=os.cpu_count(), gpu=gpu, driver=driver,
                python=platform.python_version(), torch=torch.__version__, onnxruntime=ort,
                darkbench=__version__, git_commit=git_commit(),
                cudnn_benchmark=bool(torch.backends.cudnn.benchmark) if device == "cuda" else None,
                tf32=bool(torch.backends.cuda.matmul.allow_tf32) if device == "cuda" else None,
                timestamp=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
