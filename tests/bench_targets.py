"""Benchmark (not a test): the latency targets of the latency issue, measured side by side in one run.

tiny.cfg, batch 1, 2 threads, CPU. Every variant is prepared first, then all are timed interleaved
(round-robin, fast ones repeated so each gets similar time per round) in ONE run, so drift and neighbours
hit all alike; ratios carry 95% bootstrap CIs. The step table shows what each change to the PyTorch
forward gives; then the three targets:
  1. eager >= 5x faster than `darknet speed`;
  2. the fastest PyTorch fp32 variant <= 1.0x ONNX Runtime's latency, and its share of the measured fp32
     GEMM peak (target about 60%);
  3. bf16 <= 0.5x the fp32 latency, with the same top-1 (dog.jpg and 16 random inputs).

    .venv/bin/python tests/bench_targets.py [CFG] [--threads 2] [--min-time 20] [--max-time 60]
"""
import argparse
import os
import shutil
import sys
import tempfile

import numpy as np

from darkbench.bench.env import set_wait_policy

# before torch is imported: how idle OpenMP threads wait (spin briefly on an idle machine, else sleep)
SPIN, POLICY = set_wait_policy(True if "--spin" in sys.argv else False if "--no-spin" in sys.argv else None)

import torch  # noqa: E402

from darkbench import weights  # noqa: E402
from darkbench.bench import measure, runner, stats  # noqa: E402
from darkbench.bench.backends import base, inductor, registry  # noqa: E402
from darkbench.bench.config import BenchConfig  # noqa: E402
from darkbench.bench.dtypes import torch_dtype  # noqa: E402
from darkbench.bench.env import busy, environment, loadavg, strict_fp32  # noqa: E402
from darkbench.bench.model import Model  # noqa: E402

DOG = "/usr/share/darknet/data/dog.jpg"


def peaked_weights(net, path):
    """Random weights with the classifier layer scaled up: a peaked softmax, so top-1 means something."""
    arrays = weights.random_arrays(net, 5)
    last = max(i for (i, n) in arrays if n == "weights")
    arrays[(last, "weights")] *= 40
    weights.write(path, net, arrays)
    return path


def nchw(model):
    """The eager model without channels-last: NCHW weights, NCHW activations (layer by layer)."""
    m = model.build().to(memory_format=torch.contiguous_format)
    x = torch.rand(1, *m.input_shape, generator=torch.Generator().manual_seed(0))

    def run():
        with torch.inference_mode():
            m.layer_outputs(x)
    return base.Runner(run, "cpu", "NCHW weights and activations")


def jit_frozen(model):
    """TorchScript freeze + optimize_for_inference: the older oneDNN (mkldnn layout) path."""
    m = model.build(fuse=True)
    x = torch.rand(1, *m.input_shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        j = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(m, x, check_trace=False).eval()))

    def run():
        with torch.no_grad():
            j(x)
    return base.Runner(run, "cpu", "torch.jit.freeze + optimize_for_inference", forward=j)


def variants(model, threads, spin=False):
    """(name, what changed, dtype, prepare) in the order of the step table."""
    config = BenchConfig([model.path], spin=spin)  # the onnxruntime backend's spinning follows the run's

    def bk(name, dtype="fp32"):
        return lambda: registry.prepare(name, model, "cpu", dtype, 1, threads, config=config)

    def compiled(choice, dtype="fp32"):
        return lambda: inductor.compiled(base.Case(model, "cpu", dtype, 1, threads), choice=choice)
    return [
        ("darknet", "darknet speed (reference)", "fp32", bk("darknet")),
        ("eager-nchw", "PyTorch eager, NCHW", "fp32", lambda: nchw(model)),
        ("eager", "+ channels-last (darkbench.load as built)", "fp32", bk("eager")),
        ("fused", "+ batch norm folded (fuse=True)", "fp32", bk("fused")),
        ("jit-freeze", "fused, TorchScript freeze + optimize_for_inference", "fp32", lambda: jit_frozen(model)),
        ("compile", "fused + torch.compile (inductor, no freezing)", "fp32", compiled("default")),
        ("compile-freezing", "+ freezing (oneDNN prepacked conv + fused activation)", "fp32", compiled("freezing")),
        ("compile-max-autotune", "+ max-autotune-no-cudagraphs", "fp32", compiled("max-autotune-no-cudagraphs")),
        ("compile-cpp-wrapper", "freezing + C++ wrapper (cpp_wrapper)", "fp32", compiled("freezing-cpp-wrapper")),
        ("aot-inductor", "freezing, AOTInductor (torch.export; no dynamo guards per call)", "fp32",
         compiled("aot-inductor")),
        ("onnxruntime", "ONNX Runtime (reference)", "fp32", bk("onnxruntime")),
        ("fused-bf16", "fused, bf16 weights and activations", "bf16", bk("fused", "bf16")),
        ("compile-freezing-bf16", "compile + freezing, bf16", "bf16", compiled("freezing", "bf16")),
        ("compile-cpp-wrapper-bf16", "compile + freezing + C++ wrapper, bf16", "bf16",
         compiled("freezing-cpp-wrapper", "bf16")),
        ("aot-inductor-bf16", "AOTInductor, bf16", "bf16", compiled("aot-inductor", "bf16")),
    ]


def top1(r, dtype, inputs):
    fwd = getattr(r, "forward", None)
    if fwd is None:
        return None
    out = []
    with torch.inference_mode():
        for x in inputs:
            y = fwd(x.to(torch_dtype(dtype)))
            out.append(int(y.float().flatten().argmax()))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cfg", nargs="?", default="tiny.cfg")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--min-time", type=float, default=20.0)
    ap.add_argument("--max-time", type=float, default=60.0)
    ap.add_argument("--only", help="comma-separated variant names (default: all)")
    ap.add_argument("--spin", action="store_true", help="idle OpenMP / ONNX Runtime threads spin briefly")
    ap.add_argument("--no-spin", action="store_true", help="they sleep at once (default: spin when idle)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    strict_fp32()
    model = Model.analyse(a.cfg)  # analysed once, handed to every variant
    tmp = tempfile.mkdtemp(prefix="bench-targets-")
    try:
        model.weights = peaked_weights(model.net, os.path.join(tmp, "w.weights"))
        return _main(a, model)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _main(a, model):
    net = model.net
    timed = measure.timer("cpu")
    load0 = loadavg()
    peak = {d: runner.gemm_peak("cpu", d) for d in ("fp32", "bf16")}
    runners, info, skipped = {}, {}, {}
    only = set(a.only.split(",")) if a.only else None
    for name, what, dtype, prep in variants(model, a.threads, SPIN):
        if only and name not in only:
            continue
        try:
            r = prep()
            first = r.first_ms if r.first_ms is not None else timed(r)
            r.estimate_ms = timed(r) if r.measure else measure.warm_up(r, timed)
            runners[name], info[name] = r, (what, dtype, first)
            print(f"prepared {name}" + (f" (compile {r.compile_s:.1f} s)" if r.compile_s else ""),
                  file=sys.stderr, flush=True)
        except Exception as e:  # noqa: BLE001 - report and go on
            skipped[name] = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
    s = measure.interleaved(runners, timed, a.min_time, a.max_time, target=0.01,
                            reps=measure.balance({k: r.estimate_ms for k, r in runners.items()}), rebalance=True)
    load1 = loadavg()
    env = environment()
    med = {k: float(np.median(v)) for k, v in s.items()}
    flops = 2 * net.macs

    def ratio(x, y):
        if x not in s or y not in s:
            return ""
        v, ci = stats.ratio_ci(s[x], s[y])
        return f"{v:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else f"{v:.2f} [< 6 samples]"

    print(f"\n{os.path.basename(model.path)}, batch 1, {a.threads} threads; CPU {env['cpu']} ({env['cores']} cores), torch "
          f"{env['torch']}, onnxruntime {env['onnxruntime']}; load average {load0[0]} before, {load1[0]} after; "
          f"OpenMP: {POLICY}, onnxruntime {'spinning' if SPIN else 'no spinning'}")
    print(f"measured GEMM peak: fp32 {peak['fp32']:.1f} GFLOP/s, bf16 {peak['bf16']:.1f} GFLOP/s; "
          f"{flops / 1e9:.3f} GFLOP per image\n")
    from tabulate import tabulate
    rows = []
    for name, (what, dtype, first) in info.items():
        v = np.asarray(s[name])
        st = stats.summarize(v)
        g = flops / st["median_ms"] / 1e6
        rows.append([name, what, f"{st['median_ms']:.2f}", "[%.2f, %.2f]" % tuple(st["ci95_ms"]) if st["ci95_ms"] else "< 6 samples",
                     f"{np.percentile(v, 10):.2f}", st["samples"], ratio(name, "eager"), ratio(name, "onnxruntime"),
                     f"{g:.0f}", f"{100 * g / peak[dtype]:.0f}%",
                     f"{runners[name].compile_s:.1f}" if runners[name].compile_s else ""])
    print(tabulate(rows, headers=["variant", "step", "median ms", "95% CI", "p10 ms", "n", "x eager [CI]",
                                  "x onnxruntime [CI]", "GFLOP/s", "% peak", "compile s"], disable_numparse=True))
    for name, why in skipped.items():
        print(f"{name}: not measured: {why}")
    print("(darknet: each sample is darknet's mean over several evals; GFLOP/s = darknet ops / median; "
          "% peak against the GEMM peak of the variant's dtype)")

    print()
    if "darknet" in s and "eager" in s:
        print(f"target 1: darknet / eager = {ratio('darknet', 'eager')} x (target >= 5)")
    fp32 = [k for k in s if info[k][1] == "fp32" and k not in ("darknet", "onnxruntime")]
    if fp32 and "onnxruntime" in s:
        best = min(fp32, key=med.get)
        g = flops / med[best] / 1e6
        print(f"target 2: fastest PyTorch fp32 ({best}) / onnxruntime = {ratio(best, 'onnxruntime')} (target <= 1.0); "
              f"{g:.0f} GFLOP/s = {100 * g / peak['fp32']:.0f}% of the fp32 GEMM peak (target ~60%); onnxruntime "
              f"{100 * flops / med['onnxruntime'] / 1e6 / peak['fp32']:.0f}%")
    bf16 = [k for k in s if info[k][1] == "bf16"]
    if fp32 and bf16:
        b16, b32 = min(bf16, key=med.get), min(fp32, key=med.get)
        print(f"target 3: fastest bf16 ({b16}) / fastest fp32 ({b32}) = {ratio(b16, b32)} (target <= 0.5)")
        for k in bf16:
            twin = k[:-len("-bf16")]
            if twin in s:
                print(f"          {k} / {twin} = {ratio(k, twin)}")
        from darkbench.image import letterbox, load_color
        c, h, wd = net.channels, net.height, net.width
        inputs = [torch.from_numpy(letterbox(load_color(DOG), wd, h))[None]] if os.path.exists(DOG) else []
        g = torch.Generator().manual_seed(0)
        inputs += [torch.rand(1, c, h, wd, generator=g) for _ in range(16)]
        ref = top1(runners[b32], "fp32", inputs)
        for k in bf16:
            got = top1(runners[k], "bf16", inputs)
            if ref and got:
                same = sum(x == y for x, y in zip(ref, got))
                dog = ""
                if os.path.exists(DOG):
                    dog = "dog.jpg " + ("same" if ref[0] == got[0] else f"DIFFERS ({ref[0]} vs {got[0]})") + ", "
                print(f"          top-1 {k} vs {b32}: {dog}{same}/{len(inputs)} inputs agree")
    if busy(load0, load1):
        print(f"\nnote: {busy(load0, load1)}.")
    for r in runners.values():
        r.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
