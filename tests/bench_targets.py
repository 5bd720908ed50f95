"""Benchmark (not a test): the latency targets of the latency issue, measured side by side in one run.

tiny.cfg, batch 1, 2 threads: eager vs darknet's own `speed`; the fastest PyTorch backend vs ONNX Runtime;
bf16 vs fp32 (and whether top-1 agrees). Prints every ratio with its 95% CI.
"""
import sys

import torch

import darkbench
from darkbench.bench import runner, stats


def main(cfg="tiny.cfg", threads=2, min_time=5.0, max_time=20.0):
    res = runner.run([cfg], ["eager", "fused", "compile", "onnxruntime", "darknet"], ["cpu"], [1],
                     ["fp32", "bf16"], threads, min_time, max_time, log=lambda e: None)
    by = {(r["backend"], r["dtype"]): r for r in res}
    print(f"{cfg}, batch 1, {threads} threads, CPU: {res[0]['env']['cpu']}\n")
    print(f"{'backend':12} {'dtype':5} {'median ms':>10}  95% CI          note")
    for (b, d), r in by.items():
        if r.get("median_ms"):
            ci = "[%.3f, %.3f]" % tuple(r["ci95_ms"]) if r.get("ci95_ms") else ""
            print(f"{b:12} {d:5} {r['median_ms']:10.3f}  {ci:16} {r.get('note') or ''}")
        else:
            print(f"{b:12} {d:5} {'':>10}  {r.get('skipped') or r.get('error')}")
    dk = by[("darknet", "fp32")].get("median_ms")
    e = by[("eager", "fp32")]
    print()
    if dk and e.get("median_ms"):
        print(f"target 1: darknet speed / eager = {dk / e['median_ms']:.1f}x faster (target >= 5x)")
    torch_fp32 = [by[(b, "fp32")] for b in ("eager", "fused", "compile") if by[(b, "fp32")].get("samples_ms")]
    best = min(torch_fp32, key=lambda r: r["median_ms"])
    ort = by[("onnxruntime", "fp32")]
    if ort.get("samples_ms"):
        r, (lo, hi) = stats.ratio_ci(best["samples_ms"], ort["samples_ms"])
        print(f"target 2: fastest PyTorch ({best['backend']}) / onnxruntime = {r:.2f} [{lo:.2f}, {hi:.2f}] "
              f"(target <= 1.0)")
        if best.get("peak_gflops"):
            achieved = 2 * best["macs"] / best["median_ms"] / 1e6
            print(f"          {achieved:.1f} GFLOP/s = {100 * achieved / best['peak_gflops']:.0f}% of the "
                  f"measured fp32 GEMM peak ({best['peak_gflops']:.1f} GFLOP/s)")
    for b in ("fused", "compile"):
        f32, b16 = by[(b, "fp32")], by[(b, "bf16")]
        if f32.get("samples_ms") and b16.get("samples_ms"):
            r, (lo, hi) = stats.ratio_ci(b16["samples_ms"], f32["samples_ms"])
            print(f"target 3: {b} bf16 / fp32 = {r:.2f} [{lo:.2f}, {hi:.2f}] (target <= 0.5)")
    # random weights, the classifier layer scaled up so the softmax is peaked and top-1 means something
    import tempfile
    from darkbench import weights
    net = darkbench.analyse(cfg)
    arrays = weights.random_arrays(net, 5)
    last = max(i for (i, n) in arrays if n == "weights")
    arrays[(last, "weights")] *= 40
    path = tempfile.mktemp(suffix=".weights")
    weights.write(path, net, arrays)
    m = darkbench.load(cfg, path, fuse=True)
    x = torch.rand(16, *m.input_shape, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        a = m(x).argmax(1)
        b = m.to(torch.bfloat16)(x.to(torch.bfloat16)).argmax(1)
    print(f"          top-1 fp32 vs bf16 on 16 random inputs: {int((a == b).sum())}/16 agree")


if __name__ == "__main__":
    main(*sys.argv[1:2])
