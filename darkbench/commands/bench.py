"""darkbench bench: latency per model, backend, device, batch and dtype."""
import argparse
import datetime
import json
import os
import socket
import sys

from ..errors import DarkbenchError

HELP = ("Measure latency honestly: warm-up, interleaved rounds (A B A B ...), adaptive stopping on the 95% CI "
        "of the median; one JSON file per run, written as results arrive.")


def _csv(kind, choices=None):
    def parse(text):
        items = [t.strip() for t in text.split(",") if t.strip()]
        if choices:
            bad = [t for t in items if t not in choices]
            if bad:
                raise argparse.ArgumentTypeError(f"unknown {kind} {bad[0]!r} (choose from {', '.join(choices)})")
        return items
    parse.__name__ = kind
    return parse


def add_arguments(p):
    from ..bench.backends import BACKENDS
    p.add_argument("models", nargs="+", metavar="MODEL", help="cfg or Keras model")
    p.add_argument("--device", type=_csv("device", ("cpu", "cuda")), help="default: cpu (and cuda when present)")
    p.add_argument("--backend", type=_csv("backend", BACKENDS), help=f"default: all of {','.join(BACKENDS)}")
    p.add_argument("--batch", type=_csv("batch"), default=["1"])
    p.add_argument("--dtype", type=_csv("dtype", ("fp32", "bf16", "fp16")), default=["fp32"])
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="torch and ONNX Runtime threads")
    p.add_argument("--min-time", type=float, default=2.0, help="seconds of measurement at least (per group)")
    p.add_argument("--max-time", type=float, default=20.0, help="seconds of measurement at most (per group)")
    p.add_argument("--width", type=int)
    p.add_argument("--height", type=int)
    p.add_argument("--layers", action="store_true", help="also time each layer (roofline position)")
    p.add_argument("--out", default="reports/results", help="directory for the run's JSON file")
    p.add_argument("--json", action="store_true", help="print the results as one JSON list")


def _table(results):
    from tabulate import tabulate
    from ..bench.stats import ratio_ci
    rows = []
    groups = {}
    for r in results:
        if r.get("samples_ms"):
            groups.setdefault((r["model"], r["device"], r["dtype"], r["batch"]), []).append(r)
    for r in results:
        status = r.get("error") or (f"skipped: {r['skipped']}" if r.get("skipped") else "")
        ratio = ""
        g = groups.get((r.get("model"), r.get("device"), r.get("dtype"), r.get("batch")), [])
        if r.get("samples_ms") and len(g) > 1:
            best = min(g, key=lambda x: x["median_ms"])
            v, (lo, hi) = ratio_ci(r["samples_ms"], best["samples_ms"])
            ratio = f"{v:.2f} [{lo:.2f}, {hi:.2f}]"
        ci = r.get("ci95_ms")
        rows.append([r.get("model"), r.get("backend"), r.get("device"), r.get("dtype"), r.get("batch"),
                     f"{r['median_ms']:.3f}" if r.get("median_ms") else "",
                     f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "",
                     f"{r['p90_ms']:.3f}" if r.get("p90_ms") else "", r.get("samples") or "",
                     f"{r['first_ms']:.1f}" if r.get("first_ms") else "", ratio, status[:70]])
    return tabulate(rows, headers=["model", "backend", "device", "dtype", "batch", "median ms", "95% CI ms",
                                   "p90 ms", "samples", "first ms", "x fastest [CI]", "note"], disable_numparse=True)


def run(args):
    import torch
    from ..bench import runner
    from ..bench.backends import BACKENDS
    try:
        batches = [int(b) for b in args.batch]
    except ValueError:
        raise DarkbenchError(f"--batch {','.join(args.batch)}: batches are integers") from None
    if args.threads < 1:
        raise DarkbenchError(f"--threads {args.threads} must be >= 1")
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    backends = args.backend or list(BACKENDS)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = os.path.join(args.out, f"bench-{socket.gethostname()}-{stamp}.json") if args.out else None
    total = len(devices) * len(args.models) * len(batches) * len(args.dtype)
    from tqdm import tqdm
    bar = tqdm(total=total * len(backends), desc="bench", unit="result", file=sys.stderr,
               disable=not sys.stderr.isatty())
    def log(e):  # a bar on a terminal, a line per result otherwise (make report, CI logs)
        bar.update(1)
        if bar.disable:
            what = (f"{e['median_ms']:.3f} ms" if e.get("median_ms") else
                    e.get("error") or f"skipped: {e.get('skipped')}")
            print(f"bench: {e.get('model')} {e.get('backend')} {e.get('device')} {e.get('dtype')} "
                  f"batch {e.get('batch')}: {what}", file=sys.stderr, flush=True)
    results = runner.run(args.models, backends, devices, batches, args.dtype, args.threads, args.min_time,
                         args.max_time, out, args.width, args.height, args.layers, log=log)
    bar.close()
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        print(_table(results))
        if out:
            print(f"\nresults: {out}")
    return 1 if any(r.get("error") for r in results) else 0
