"""Measured GEMM peak of a device, the roof for per-layer rooflines."""
import time

DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def gemm_peak(device="cpu", dtype="fp32", n=2048, seconds=2.0):
    import torch
    dt = getattr(torch, DTYPES[dtype])
    a = torch.randn(n, n, device=device).to(dt)
    b = torch.randn(n, n, device=device).to(dt)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    for _ in range(3):
        torch.mm(a, b)
    sync()
    best, end = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        torch.mm(a, b)
        sync()
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best / 1e9
