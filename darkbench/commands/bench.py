"""darkbench bench: latency per model, backend, device, batch and dtype."""
import argparse
import datetime
import json
import math
import os
import socket
import sys

from ..errors import DarkbenchError

HELP = ("Measure latency honestly: warm-up, interleaved rounds (A B A B ...), adaptive stopping on the 95% CI "
        "of the median; one JSON file per run, written as results arrive.")


def _csv(kind, choices=None):
    def parse(text):
        items = [t.strip() for t in text.split(",") if t.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"no {kind} in {text!r}")
        if choices:
            bad = [t for t in items if t not in choices]
            if bad:
                raise argparse.ArgumentTypeError(f"unknown {kind} {bad[0]!r} (choose from {', '.join(choices)})")
        return items
    parse.__name__ = kind
    return parse


def add_arguments(p):
    from .options import add_dialect_argument
    add_dialect_argument(p)
    from ..bench.inductor import COMPILE_CHOICES, COMPILE_DEFAULT
    from ..bench.registry import BACKENDS
    p.add_argument("models", nargs="+", metavar="MODEL", help="cfg or Keras model")
    p.add_argument("--device", type=_csv("device", ("cpu", "cuda")), help="default: cpu (and cuda when present)")
    p.add_argument("--backend", type=_csv("backend", BACKENDS), help=f"default: all of {','.join(BACKENDS)}")
    p.add_argument("--batch", type=_csv("batch"), default=["1"],
                   help="comma-separated batch sizes (default 1), or auto: 1, 2, 4, ... per model, backend and dtype "
                        "while images/s rises beyond the noise (95%% CIs) and the analytic memory estimate fits")
    p.add_argument("--max-batch", type=int, default=256, help="the largest batch --batch auto tries (default 256)")
    p.add_argument("--dtype", type=_csv("dtype", ("fp32", "bf16", "fp16")), default=["fp32"],
                   help="comma-separated: fp32, bf16, fp16 (default fp32)")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="torch and ONNX Runtime threads")
    p.add_argument("--min-time", type=float, default=2.0, help="seconds of measurement at least per group (a group: one device, batch and dtype, "
                        "its models x backends measured interleaved; default 2)")
    p.add_argument("--max-time", type=float, default=20.0, help="seconds of measurement at most per group, checked after each round (default 20)")
    p.add_argument("--ci", type=float, default=2.0, metavar="PCT",
                   help="stop when every median's 95%% CI half-width is within PCT%% of it (default 2)")
    p.add_argument("--compile", type=_csv("compile variant", tuple(COMPILE_CHOICES)), metavar="VARIANTS",
                   help="torch.compile variants to try, the fastest kept (default: CPU "
                        f"{','.join(COMPILE_DEFAULT['cpu'])}; CUDA {','.join(COMPILE_DEFAULT['cuda'])}; "
                        f"choose from {','.join(COMPILE_CHOICES)})")
    spin = p.add_mutually_exclusive_group()
    spin.add_argument("--spin", action="store_const", const=True, dest="spin",
                      help="idle torch (OpenMP) and ONNX Runtime threads spin briefly before sleeping: faster on "
                           "an idle machine, ruinous on a busy one (default: spin when the load average is under "
                           "the core count; recorded as omp_wait_policy / ort_spinning)")
    spin.add_argument("--no-spin", action="store_const", const=False, dest="spin",
                      help="idle threads sleep at once (OMP_WAIT_POLICY=PASSIVE, no ONNX Runtime spinning)")
    p.add_argument("--tf32", action="store_true", help="CUDA: allow TF32 for fp32 (off by default; recorded). On the CPU fp32 "
                                                   "is always IEEE fp32: oneDNN's bf16 math mode is turned off "
                                                   "(recorded as cpu_fp32_math)")
    p.add_argument("--no-cudnn-benchmark", dest="cudnn_benchmark", action="store_false",
                   help="CUDA: leave cudnn.benchmark off (on by default; recorded)")
    p.add_argument("--width", type=int, help="input width (default: the model's)")
    p.add_argument("--height", type=int, help="input height (default: the model's)")
    from ..sizes import add_size_argument
    add_size_argument(p)
    p.add_argument("--layers", action="store_true", help="also time each layer (roofline position)")
    p.add_argument("--out", default="reports/results", help="directory for the run's JSON file")
    p.add_argument("--json", action="store_true", help="print the results as one JSON list")


def _ratio_text(r, ref):
    from ..bench.stats import ratio_ci
    v, ci = ratio_ci(r["samples_ms"], ref["samples_ms"], paired=len(r["samples_ms"]) == len(ref["samples_ms"]))
    return f"{v:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else f"{v:.2f} [too few samples]"


def _table(results):
    """One row per result; ratios within a (device, dtype, batch) group, which was measured interleaved."""
    from tabulate import tabulate
    from ..bench.agreement import disagrees
    rows, groups = [], {}
    for r in results:
        if r.get("samples_ms") and not r.get("error"):
            groups.setdefault((r["device"], r["dtype"], r["batch"], str(r.get("input"))), []).append(r)
    sizes = len({str(r.get("input")) for r in results}) > 1  # --size: the model column says the size
    for r in results:
        status = r.get("error") or (f"skipped: {r['skipped']}" if r.get("skipped") else r.get("note") or "")
        g = groups.get((r.get("device"), r.get("dtype"), r.get("batch"), str(r.get("input"))), [])
        fastest = vs_darknet = ""
        if any(x is r for x in g):
            same = [x for x in g if x["model"] == r["model"]]
            best = min(same, key=lambda x: x["median_ms"])
            fastest = _ratio_text(r, best) if len(same) > 1 else ""
            dk = next((x for x in same if x["backend"] == "darknet"), None)
            if dk is not None and r is not dk:
                vs_darknet = _ratio_text(dk, r)
        ci = r.get("ci95_ms")
        wrong = disagrees(r)
        model = f"{r.get('model')} {r['input'][2]}x{r['input'][1]}" if sizes and r.get("input") else r.get("model")
        rows.append([model, r.get("backend"), r.get("device"), r.get("dtype"), r.get("batch"),
                     f"{r['median_ms']:.3f}" if r.get("median_ms") else "",
                     f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ("< 6 samples" if r.get("samples") else ""),
                     f"{r['p90_ms']:.3f}" if r.get("p90_ms") else "", r.get("samples") or "",
                     f"{r['first_ms']:.1f}" if r.get("first_ms") else "", fastest, vs_darknet,
                     f"{r['images_per_s']:.1f}" if r.get("images_per_s") else "",
                     f"{r['peak_rss_mib']:.0f}" if r.get("peak_rss_mib") is not None else "",
                     (f"{r['rel_l2']:.1e}" if r.get("rel_l2") is not None else "") + (" DISAGREES" if wrong else ""),
                     status[:70]])
    return tabulate(rows, headers=["model", "backend", "device", "dtype", "batch", "median ms", "95% CI ms",
                                   "p90 ms", "samples", "first ms", "x fastest [CI]", "darknet/this [CI]", "images/s",
                                   "peak RSS MiB", "rel L2 vs fp32", "note"],
                    disable_numparse=True)


def _layer_tables(results):
    """--layers: per result, each layer's median time beside its analytic FLOPs and bytes (roofline position)."""
    from tabulate import tabulate
    parts = []
    for r in results:
        if not r.get("layers"):
            continue
        peak = r.get("peak_gflops")
        rows = [[l["index"], l["type"], f"{l['median_ms']:.4f}", f"{l['flops'] / 1e6:.2f}", f"{l['bytes'] / 1e6:.3f}",
                 f"{l['intensity']:.1f}", f"{l['gflops']:.1f}",
                 f"{l['pct_peak']:.0f}" if l.get("pct_peak") is not None else ""] for l in r["layers"]]
        head = (f"\n{r['model']} {r['backend']} {r['device']} {r['dtype']} batch {r['batch']}: per layer"
                + (f" (measured GEMM peak {peak:.0f} GFLOP/s)" if peak else ""))
        parts.append(head + "\n" + tabulate(rows, headers=["layer", "type", "median ms", "MFLOP", "MB moved",
                                                            "FLOP/byte", "GFLOP/s", "% peak"],
                                             disable_numparse=True))
    return "\n".join(parts)


def _results_file(d):
    """This run's own results file in --out, created now (exclusively: a second run in the same second
    gets -2, -3 ...), holding [] until the first result replaces it."""
    from .. import files
    files.out_dir(d)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return files.create_new(os.path.join(d, f"bench-{socket.gethostname()}-{stamp}.json"), b"[]\n")


def _drop_if_empty(path):
    """Remove a results file no result reached (a run stopped before its first); True if removed."""
    try:
        with open(path) as f:
            if json.load(f) != []:
                return False
        os.unlink(path)
        return True
    except (OSError, ValueError):
        return False


def run(args):
    from ..bench.env import set_wait_policy
    spin, _ = set_wait_policy(args.spin)  # before torch is imported
    import torch
    from ..bench import runner
    from ..bench.registry import BACKENDS
    from ..bench.config import BenchConfig
    auto = args.batch == ["auto"]
    try:
        batches = [1] if auto else [int(b) for b in args.batch]
    except ValueError:
        raise DarkbenchError(f"--batch {','.join(args.batch)}: batches are integers, or auto alone") from None
    if args.max_batch < 1:
        raise DarkbenchError(f"--max-batch {args.max_batch} must be >= 1")
    if args.threads < 1:
        raise DarkbenchError(f"--threads {args.threads} must be >= 1")
    if min(batches) < 1:
        raise DarkbenchError(f"--batch {','.join(args.batch)}: batches are >= 1")
    if not 0 <= args.min_time <= args.max_time < math.inf:
        raise DarkbenchError(f"--min-time {args.min_time} / --max-time {args.max_time}: need 0 <= min <= max, "
                             "both finite")
    if not 0 < args.ci < 100:
        raise DarkbenchError(f"--ci {args.ci}: a percentage between 0 and 100")
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    backends = args.backend or list(BACKENDS)
    if args.compile and "compile" not in backends:
        raise DarkbenchError(f"--compile {','.join(args.compile)} needs the compile backend "
                             f"(--backend {','.join(backends)} leaves it out)")
    out = _results_file(args.out) if args.out else None
    from ..sizes import sizes_of
    total = len(devices) * len(args.models) * len(batches) * len(args.dtype) * len(sizes_of(args))
    from tqdm import tqdm
    bar = tqdm(total=total * len(backends), desc="bench", unit="result", file=sys.stderr,
               disable=not sys.stderr.isatty())

    def log(e):  # a bar on a terminal, a line per result otherwise (make report, CI logs)
        bar.update(1)
        if bar.disable:
            what = f"{e.median_ms:.3f} ms" if e.median_ms else e.error or f"skipped: {e.skipped}"
            print(f"bench: {e.model} {e.backend} {e.device} {e.dtype} batch {e.batch}: {what}", file=sys.stderr,
                  flush=True)

    def progress(samples):  # once per interleaved round
        bar.set_postfix_str(f"fewest samples {min(len(v) for v in samples.values())}", refresh=True)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0
    if load > (os.cpu_count() or 1):
        print(f"darkbench bench: warning: load average {load:.1f} on {os.cpu_count()} cores: other programs "
              "share the CPU; medians will be inflated, the interleaved ratios less so (load is recorded)",
              file=sys.stderr)
    try:
        config = BenchConfig(models=args.models, backends=backends, devices=devices, batches=batches,
                             auto_batch=auto, max_batch=args.max_batch, dtypes=args.dtype, threads=args.threads, min_time=args.min_time, max_time=args.max_time,
                             out_path=out, width=args.width, height=args.height, layers=args.layers,
                             compile_choices=args.compile, target=args.ci / 100,
                             cudnn_benchmark=args.cudnn_benchmark, tf32=args.tf32, spin=spin)
        if args.size:
            results, refused = _sweep(config, args.size, log, progress)
        else:
            results, refused = [r.to_json() for r in runner.run(config, log=log, on_progress=progress)], 0
    except BaseException as e:
        bar.close()
        kept = out and not _drop_if_empty(out)
        if kept and isinstance(e, KeyboardInterrupt):
            print(f"darkbench bench: finished results kept in {out}", file=sys.stderr)
        raise
    bar.close()
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        print(_table(results))
        if args.layers:
            print(_layer_tables(results))
        if out:
            print(f"\nresults: {out}")
    return 1 if refused or any(r.get("error") for r in results) else 0


def _sweep(config, sizes, log, progress):
    """--size: the run once per input size, one results file for all of them (each Record's input says its
    size). A size a model cannot take is refused for that model alone, in one line (exit status 1)."""
    import dataclasses
    from .. import models
    from ..bench import runner
    from ..sizes import refusal
    done, current, refused = [], [], 0

    def save(records):
        if config.out_path:
            runner.write_atomic(config.out_path, [r.to_json() for r in records])

    def logged(e):  # every final Record, as it arrives: earlier sizes' and this one's, in one file
        current.append(e)
        save(done + current)
        log(e)

    for w, h in sizes:
        fit = []
        for name in config.models:
            try:
                models.analyse(name, w, h)
                fit.append(name)
            except DarkbenchError as e:
                refused += 1
                print(refusal("bench", name, (w, h), e), file=sys.stderr)
        if fit:
            current.clear()
            done += runner.run(dataclasses.replace(config, models=fit, width=w, height=h, out_path=None),
                               log=logged, on_progress=progress)
            save(done)
    return [r.to_json() for r in done], refused
