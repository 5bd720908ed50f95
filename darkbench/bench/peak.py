"""Measured GEMM peak of a device, the roof for per-layer rooflines.

Two GEMMs, the better one counts: torch.mm (BLAS) and a 1x1 convolution in channels-last, which is a
GEMM run by oneDNN (on AMD CPUs MKL's mm can miss AVX-512 paths that oneDNN uses)."""
import time

DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


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


def gemm_peak(device="cpu", dtype="fp32", n=2048, seconds=1.0):
    import torch
    dt = getattr(torch, DTYPES[dtype])
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    with torch.inference_mode():
        a = torch.randn(n, n, device=device).to(dt)
        b = torch.randn(n, n, device=device).to(dt)
        mm = 2 * n ** 3 / _best(lambda: torch.mm(a, b), sync, seconds) / 1e9
        conv = torch.nn.Conv2d(512, 512, 1, bias=False).to(device=device, dtype=dt).eval()
        conv = conv.to(memory_format=torch.channels_last)
        x = torch.rand(1, 512, 64, 64, device=device).to(dt).contiguous(memory_format=torch.channels_last)
        cv = 2 * 512 * 512 * 64 * 64 / _best(lambda: conv(x), sync, seconds) / 1e9
    return max(mm, cv)
