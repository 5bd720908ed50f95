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
        if not items:
            raise argparse.ArgumentTypeError(f"no {kind} in {text!r}")
        if choices:
            bad = [t for t in items if t not in choices]
            if bad:
                raise argparse.ArgumentTypeError(f"unknown {kind} {bad[0]!r} (choose from {', '.join(choices)})")
        return items
    parse.__name__ = kind
    return parse


def _batches(text):
    """--batch: integers, or auto alone (True)."""
    items = _csv("batch")(text)
    if items == ["auto"]:
        return True
    try:
        return [int(b) for b in items]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: batches are integers, or auto alone") from None


_batches.__name__ = "batch"


def _weights(text):
    """--weights: W (the one model's) or MODEL:W pairs -> [(MODEL or None, W)]."""
    out = []
    for item in _csv("weights")(text):
        model, sep, w = item.rpartition(":")
        out.append((model if sep else None, w))
    if len(out) > 1 and any(m is None for m, _ in out):
        raise argparse.ArgumentTypeError(f"{text!r}: several weights files need MODEL:WEIGHTS pairs")
    return out


_weights.__name__ = "weights"


def _positional(models):
    """(models, {model: weights file}) from the models as given, where MODEL.cfg:MODEL.weights names a model's
    weights as --weights MODEL:W does (a name that is a file as it stands is a model, colon or not)."""
    names, weights = [], {}
    for m in models:
        model, sep, w = m.rpartition(":")
        if sep and model and w and not os.path.exists(m):
            if model in weights:
                raise DarkbenchError(f"{model}: two weights files ({weights[model]} and {w})")
            names.append(model)
            weights[model] = w
        else:
            names.append(m)
    return names, weights


def _weights_of(given, models, positional=None):
    """{model as given: weights file} from --weights and the MODEL:WEIGHTS models; one line naming what does
    not pair, or a model given weights twice."""
    out = dict(positional or {})
    if not given:
        return out
    if given[0][0] is None:
        if len(models) != 1:
            raise DarkbenchError(f"--weights {given[0][1]}: {len(models)} models; give MODEL:WEIGHTS pairs")
        given = [(models[0], given[0][1])]
    for model, w in given:
        if model in out:
            raise DarkbenchError(f"{model}: two weights files ({out[model]} in {model}:{out[model]} and --weights "
                                 f"{w}); give one")
        out[model] = w
    return out


def _option_type(opt):
    """A backend option's own parser as an argparse type."""
    def parse(text):
        try:
            return opt.parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    parse.__name__ = opt.name
    return parse


def _dest(name):
    return "backend_option_" + name.replace("-", "_")


def add_arguments(p):
    from .options import add_dialect_argument
    add_dialect_argument(p)
    from ..bench.backends import registry
    from ..bench.backends.base import DEVICES
    from ..bench.dtypes import NAMES as DTYPES
    backends = registry.names()
    p.add_argument("models", nargs="+", metavar="MODEL", help="cfg or Keras model; MODEL.cfg:MODEL.weights runs it with "
                   "those trained weights (as --weights MODEL:W)")
    p.add_argument("--device", type=_csv("device", DEVICES), help="default: cpu (and cuda when present)")
    p.add_argument("--backend", type=_csv("backend", backends), help=f"default: all of {','.join(backends)}")
    p.add_argument("--batch", type=_batches, default=[1],
                   help="comma-separated batch sizes (default 1), or auto: 1, 2, 4, ... per model, backend and dtype "
                        "while images/s rises beyond the noise (95%% CIs) and the analytic memory estimate fits")
    p.add_argument("--max-batch", type=int, default=256, help="the largest batch --batch auto tries (default 256)")
    p.add_argument("--dtype", type=_csv("dtype", DTYPES), default=["fp32"],
                   help=f"comma-separated: {', '.join(DTYPES)} (default fp32)")
    p.add_argument("--calib", metavar="IMAGES",
                   help="int8: the images to calibrate on: a folder, a darknet image list or a .data file (its valid= "
                        "images); at most the first 100 (default: darknet's sample images)")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="torch and ONNX Runtime threads")
    p.add_argument("--min-time", type=float, default=2.0, help="seconds of measurement at least per group (a group: one device, its "
                        "dtypes x batches x models x backends measured interleaved; default 2)")
    p.add_argument("--max-time", type=float, default=20.0, help="seconds of measurement at most per group, checked after each round (default 20)")
    p.add_argument("--ci", type=float, default=2.0, metavar="PCT",
                   help="stop when every median's 95%% CI half-width is within PCT%% of it (default 2)")
    for backend, opt in registry.options():  # each backend's own settings, as it declares them
        try:
            p.add_argument(f"--{opt.name}", type=_option_type(opt), metavar=opt.metavar, dest=_dest(opt.name),
                           help=f"the {backend} backend: {opt.help}".replace("%", "%%"))
        except argparse.ArgumentError:
            raise DarkbenchError(f"the {backend} backend's option --{opt.name} is already a flag of darkbench "
                                 "bench") from None
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
    p.add_argument("--weights", metavar="W|MODEL:W,...", type=_weights,
                   help="trained weights: a .weights file for the one model, or MODEL:WEIGHTS pairs (comma-separated) "
                        "(default: random weights, one file shared by every backend)")
    p.add_argument("--data", metavar="DATA",
                   help="each entry's task accuracy beside its time, from its own outputs, on these images: a darknet "
                        ".data file (valid=, names=, classes=; labels as darkbench map reads them; a classifier's class "
                        "is the label name in the image's path) or a folder of images; detectors mAP@0.5 (and COCO "
                        "AP@[.5:.95] with labels), classifiers top-1/top-5, against the labels or else fp32 eager's "
                        "detections/classes, with bootstrap 95%% CIs over the images; a reduced precision's change "
                        "against its backend's fp32 (default: none; the agreement check's sample images only)")
    p.add_argument("--pipeline", action="store_true",
                   help="time the whole detection pipeline instead of the forward pass: image decode, letterbox/resize, "
                        "forward, the heads' boxes, NMS, each a median with its CI, and end to end, over darknet's "
                        "sample images; with the cold start (load, compile/export, first image)")
    p.add_argument("--out", default="reports/results", help="directory for the run's JSON file")
    p.add_argument("--json", action="store_true", help="print the results as one JSON list")


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
    import dataclasses
    from ..bench import runner, text
    from ..bench.backends import registry
    from ..bench.config import BenchConfig
    from ..sizes import refusal
    auto = args.batch is True
    models, positional = _positional(args.models)
    config = BenchConfig(models=models, backends=args.backend or list(registry.names()), devices=args.device,
                         batches=[1] if auto else args.batch, auto_batch=auto, max_batch=args.max_batch,
                         dtypes=args.dtype, threads=args.threads, min_time=args.min_time, max_time=args.max_time,
                         width=args.width, height=args.height, sizes=args.size, layers=args.layers, ci=args.ci,
                         cudnn_benchmark=args.cudnn_benchmark, tf32=args.tf32, spin=args.spin, calib=args.calib,
                         options={o.name: getattr(args, _dest(o.name)) for _, o in registry.options()
                                  if getattr(args, _dest(o.name)) is not None})
    config = dataclasses.replace(config, weights=_weights_of(args.weights, models, positional), pipeline=args.pipeline,
                                 data=args.data)
    out = _results_file(args.out) if args.out else None
    config = dataclasses.replace(config, out_path=out)
    from tqdm import tqdm
    bar = tqdm(desc="bench", unit="result", file=sys.stderr, disable=not sys.stderr.isatty())
    refused = []

    def log(e):  # a bar on a terminal, a line per result otherwise (make report, CI logs)
        bar.update(1)
        if bar.disable:
            ms = e.pipeline_ms if config.pipeline else e.median_ms
            what = f"{ms:.3f} ms" if ms else e.error or f"skipped: {e.skipped}"
            print(f"bench: {e.model} {e.backend} {e.device} {e.dtype} batch {e.batch}: {what}", file=sys.stderr,
                  flush=True)

    def progress(samples):  # once per interleaved round
        bar.set_postfix_str(f"fewest samples {min(len(v) for v in samples.values())}", refresh=True)

    def refuse(name, size, error):  # a sweep size a model cannot take: that size alone, in one line
        refused.append(name)
        print(refusal("bench", name, size, error), file=sys.stderr)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0
    if load > (os.cpu_count() or 1):
        print(f"darkbench bench: warning: load average {load:.1f} on {os.cpu_count()} cores: other programs "
              "share the CPU; medians will be inflated, the interleaved ratios less so (load is recorded)",
              file=sys.stderr)
    try:
        if config.pipeline:
            from ..bench import pipeline
            results = [r.to_json() for r in pipeline.run(config, log=log, on_progress=progress,
                                                         on_plan=lambda n: bar.reset(total=n))]
        else:
            results = [r.to_json() for r in runner.run(config, log=log, on_progress=progress, on_refused=refuse,
                                                       on_plan=lambda n: bar.reset(total=n))]
    except BaseException as e:
        bar.close()
        kept = out and not _drop_if_empty(out)
        if kept and isinstance(e, KeyboardInterrupt):
            print(f"darkbench bench: finished results kept in {out}", file=sys.stderr)
        raise
    bar.close()
    if args.json:
        print(json.dumps(results, indent=1))
    elif config.pipeline:
        from ..bench import stages
        print(stages.table(results))
        if out:
            print(f"\nresults: {out}")
    else:
        print(text.bench_table(results))
        if args.layers:
            print(text.layer_tables(results))
        if out:
            print(f"\nresults: {out}")
    return 1 if refused or any(r.get("error") for r in results) else 0
