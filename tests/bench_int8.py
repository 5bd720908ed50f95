"""Benchmark (not a test): reduced precisions on yolov3-tiny with its trained weights, measured side by side.

ONNX Runtime and OpenVINO at fp32, int8 as `darkbench bench --dtype int8` runs it (the nodes the layers name kept
in fp32: layer 11's -FLT_MAX padding), the naive int8 (nothing kept), and bf16 / fp16 where the engine runs
them; --explore adds int8 with the heads' last convolutions kept in fp32 too and ONNX Runtime with int8 (not
uint8) activations. Every entry is prepared first, then all are timed interleaved (round-robin, fast ones
repeated) in one run, so drift and neighbours hit all alike; ratios carry 95% bootstrap CIs.

Per entry: median latency and its CI, the speed-up over the same engine's fp32 [CI], the convolutions that ran
at the dtype (read from the graph the engine ran), the model file's size, the raw outputs' relative L2 against
darkbench's fp32 eager (darknet's 7 sample images letterboxed and 1 random input, as bench's agreement check),
and the agreement mAP@0.5 of its detections against fp32 eager's (101-point AP as darkbench map matches, over
the classes fp32 finds at thresh 0.25; its own detections down to 0.005) on 35 views of the sample images (each
mirrored and 4 corner crops of 70%: not the 7 calibrated on), with a bootstrap CI over the views.
Target: the fastest int8 entry >= 1.5x its engine's fp32 with agreement mAP >= 0.9.

    .venv/bin/python tests/bench_int8.py [--threads 2] [--min-time 20] [--max-time 60] [--explore]
"""
import argparse
import contextlib
import sys
from pathlib import Path

import numpy as np

from darkbench.bench.env import set_wait_policy

SPIN, POLICY = set_wait_policy(False)  # before torch is imported: idle threads sleep (a shared machine)

import darkbench  # noqa: E402
from darkbench import export  # noqa: E402
from darkbench.bench import agreement, measure, stats  # noqa: E402
from darkbench.bench.backends import base, ort, registry  # noqa: E402
from darkbench.bench.env import busy, environment, loadavg, strict_fp32  # noqa: E402
from darkbench.bench.model import Model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CFG = ROOT / "cfg" / "yolov3-tiny.cfg"
WEIGHTS = ROOT.parent / "shared" / "weights" / "yolov3-tiny-coco.weights"
SAMPLES = Path(agreement.SAMPLE_IMAGES)
THRESH, LOW = agreement.TRUTH_THRESH, agreement.FOUND_THRESH  # fp32's detections (the truth), the compared ones
BOOT = 1000


# --- variants -----------------------------------------------------------------------------------------------

@contextlib.contextmanager
def patched(obj, name, value):
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


def nothing_kept():
    return patched(export, "kept_fp32", lambda net, graph: {})


def heads_kept():
    """The layers' nodes and the last convolution before each detection head (its raw box predictions)."""
    own = export.kept_fp32

    def kept(net, graph):
        out = own(net, graph)
        last = {l.index - 1 for l in net.layers if l.trait("DETECTS")}
        for n in graph.node:
            if n.op_type == "Conv" and export.layer_of(n.name) in last:
                out[n.name] = "the last convolution before a detection head"
        return out
    return patched(export, "kept_fp32", kept)


def int8_activations():
    return patched(ort, "ACTIVATIONS", "QInt8")


def variants(explore):
    """(name, backend, dtype, what, context while preparing)."""
    out = []
    for engine, short in (("onnxruntime", "ort"), ("openvino", "ov")):
        out += [(f"{short}-fp32", engine, "fp32", "fp32", contextlib.nullcontext),
                (f"{short}-int8", engine, "int8", "int8 as bench runs it (the layers' nodes kept)",
                 contextlib.nullcontext),
                (f"{short}-int8-naive", engine, "int8", "int8, nothing kept in fp32", nothing_kept)]
        if explore:
            out.append((f"{short}-int8-heads", engine, "int8", "int8, the heads' last convolutions kept too",
                        heads_kept))
        out += [(f"{short}-{d}", engine, d, d, contextlib.nullcontext) for d in ("bf16", "fp16")]
    if explore:
        out.append(("ort-int8-s8", "onnxruntime", "int8", "int8 with int8 (not uint8) activations", int8_activations))
    return out


# --- detections ---------------------------------------------------------------------------------------------

def views():
    """The 35 evaluation views: each sample image mirrored, and its four corner crops of 70% (float CHW)."""
    from PIL import Image, ImageOps
    out = []
    for p in sorted(SAMPLES.glob("*.jpg")):
        im = Image.open(p).convert("RGB")
        w, h = im.size
        cw, ch = int(w * .7), int(h * .7)
        vs = [ImageOps.mirror(im)] + [im.crop((x, y, x + cw, y + ch)) for x, y in
                                      ((0, 0), (w - cw, 0), (0, h - ch), (w - cw, h - ch))]
        out += [np.asarray(v, np.float32).transpose(2, 0, 1) / np.float32(255) for v in vs]
    return out


def detections(net, runner, preps, thresh):
    """Each view's detections from a prepared runner's outputs."""
    from darkbench import detect
    from darkbench.bench.heads import gives, head_outputs
    at = gives(net, runner, "this")
    out = []
    for p in preps:
        got = head_outputs(net, at, runner.outputs(p.x[None]), 1)
        out.append(detect.decode(net, {i: y[0] for i, y in got.items()}, p, thresh))
    return out


# --- the run ------------------------------------------------------------------------------------------------

def cpu_flags():
    flags = set()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    have = [f for f in ("avx512_vnni", "avx_vnni", "amx_int8", "amx_bf16", "avx512_bf16", "avx512_fp16") if f in flags]
    return ", ".join(have) or "none of avx512_vnni, avx_vnni, amx_int8"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--min-time", type=float, default=20.0)
    ap.add_argument("--max-time", type=float, default=60.0)
    ap.add_argument("--explore", action="store_true", help="also the heads kept in fp32 and int8 activations")
    ap.add_argument("--only", help="comma-separated variant names (default: all)")
    a = ap.parse_args(argv)
    if not WEIGHTS.exists():
        sys.exit(f"the trained weights are not at {WEIGHTS}")
    import torch
    torch.set_num_threads(a.threads)
    strict_fp32()
    model = Model.analyse(str(CFG))
    model.weights = str(WEIGHTS)
    net = model.net
    timed = measure.timer("cpu")
    load0 = loadavg()
    runners, info, skipped = {}, {}, {}
    only = set(a.only.split(",")) if a.only else None
    for name, backend, dtype, what, context in variants(a.explore):
        if only and name not in only:
            continue
        try:
            with context():
                r = registry.prepare(backend, model, "cpu", dtype, 1, threads=a.threads)
            r.first_ms = timed(r)
            r.estimate_ms = measure.warm_up(r, timed)
            runners[name], info[name] = r, (backend, dtype, what)
            print(f"prepared {name}", file=sys.stderr, flush=True)
        except (base.Skip, darkbench.DarkbenchError) as e:
            skipped[name] = f"{'skipped' if isinstance(e, base.Skip) else 'error'}: {e}"
            print(f"{name}: {skipped[name]}", file=sys.stderr, flush=True)
    s = measure.interleaved(runners, timed, a.min_time, a.max_time, target=0.01,
                            reps=measure.balance({k: r.estimate_ms for k, r in runners.items()}), rebalance=True)
    load1 = loadavg()

    print("checking outputs and detections", file=sys.stderr, flush=True)
    from darkbench import detect
    eager = darkbench.load(str(CFG), str(WEIGHTS))
    vs = views()
    preps = [detect.prepare(net, v) for v in vs]
    truth = [detect.network_boxes(eager, v, THRESH) for v in vs]
    refs, checks = {}, {}
    for name, r in runners.items():
        backend, dtype, _ = info[name]
        rel = agreement.check(r, base.Case(model, "cpu", dtype, 1, a.threads), refs)["rel_l2"]
        found = detections(net, r, preps, LOW)
        checks[name] = rel, agreement.map50(truth, found, THRESH, n_boot=BOOT)

    env = environment()
    print(f"\nyolov3-tiny 416x416 with its trained COCO weights, batch 1, {a.threads} threads; CPU {env['cpu']} "
          f"({env['cores']} cores; {cpu_flags()}); onnxruntime {env.get('onnxruntime')}, openvino "
          f"{env.get('openvino')}; load average {load0[0]} before, {load1[0]} after")
    print(f"agreement: {len(preps)} views, {sum(int((t.probs > THRESH).sum()) for t in truth)} fp32 detections "
          f"(class and box) at thresh {THRESH}\n")
    from tabulate import tabulate

    def speedup(name):
        fp32 = f"{name.split('-')[0]}-fp32"
        if name == fp32 or fp32 not in s:
            return ""
        v, ci = stats.ratio_ci(s[fp32], s[name])
        return f"{v:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else f"{v:.2f} [< 6 samples]"
    rows = []
    for name, (backend, dtype, what) in info.items():
        st = stats.summarize(s[name])
        e = runners[name].extra
        rel, (m, ci) = checks[name]
        share = f"{e['convs_at_dtype']}/{e['convs']}" if e.get("convs") is not None else ""
        rows.append([name, what, f"{st['median_ms']:.1f}",
                     "[%.1f, %.1f]" % tuple(st["ci95_ms"]) if st["ci95_ms"] else "< 6 samples", st["samples"],
                     speedup(name), share, f"{e['model_bytes'] / 2 ** 20:.1f}" if e.get("model_bytes") else "",
                     f"{rel:.3f}", f"{m:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"])
    print(tabulate(rows, headers=["entry", "what", "median ms", "95% CI", "n", "x own fp32 [CI]", "convs at dtype",
                                  "model MiB", "rel L2 vs fp32", "agreement mAP@0.5 [CI]"], disable_numparse=True))
    for name, why in skipped.items():
        print(f"{name}: {why}")

    print()
    good = [n for n in info if info[n][1] == "int8" and checks[n][1][0] >= 0.9 and speedup(n)]
    if good:
        best = min(good, key=lambda n: float(np.median(s[n])))
        print(f"target: fastest int8 with agreement mAP >= 0.9: {best}, {speedup(best)} x its engine's fp32 "
              f"(target >= 1.5), agreement mAP@0.5 {checks[best][1][0]:.3f}")
    else:
        print("target: no int8 entry reached agreement mAP 0.9")
    for r in runners.values():
        r.close()
    note = busy(load0, load1)
    if note:
        print(f"\nnote: {note}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
