"""Measured GEMM peak of a device, the roof for per-layer rooflines.

Several GEMM-shaped kernels, the best one counts: torch.mm (BLAS) and 1x1 / 3x3 convolutions in
channels-last, which oneDNN runs as GEMMs (on AMD CPUs MKL's mm can miss AVX-512 paths that oneDNN
uses, and which shape reaches the roof depends on cache sizes). Each is timed by its best run: on a
shared machine neighbours only ever slow a run down."""
import time

from .dtypes import torch_dtype


def _best(fn, sync, seconds):
    for _ in range(3):
        fn()
    sync()
    best, end = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - t)
    return best


def _shapes(device):
    """(kind, size): mm n x n; conv (batch, in, out, k, hw)."""
    if device == "cuda":
        return [("mm", 4096), ("mm", 8192), ("conv", (8, 256, 256, 3, 64))]
    return [("mm", 1024), ("mm", 2048), ("conv", (1, 256, 256, 1, 56)), ("conv", (1, 64, 256, 3, 56))]


def gemm_peak(device="cpu", dtype="fp32", seconds=1.0):
    """Best GFLOP/s over the GEMM shapes (2 FLOPs per multiply-add), each timed for `seconds`."""
    import torch
    dt = torch_dtype(dtype)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    best = 0.0
    with torch.inference_mode():
        for kind, size in _shapes(device):
            if kind == "mm":
                a = torch.randn(size, size, device=device).to(dt)
                b = torch.randn(size, size, device=device).to(dt)
                flops = 2 * size ** 3
                t = _best(lambda: torch.mm(a, b), sync, seconds)
            else:
                n, ci, co, k, hw = size
                conv = torch.nn.Conv2d(ci, co, k, padding=k // 2, bias=False).to(device=device, dtype=dt).eval()
                conv = conv.to(memory_format=torch.channels_last)
                x = torch.rand(n, ci, hw, hw, device=device).to(dt).contiguous(memory_format=torch.channels_last)
                flops = 2 * n * ci * co * k * k * hw * hw
                t = _best(lambda: conv(x), sync, seconds)
            best = max(best, flops / t / 1e9)
    return best
