"""darkbench ops: darknet's operation count, for many models at once."""
import json
import sys

from .. import models
from ..errors import DarkbenchError
from ..footprint import footprint
from ..sizes import add_size_argument, refusal, size_text, sizes_of
from .options import add_dialect_argument

HELP = ("Print darknet's operation count for each model, as `darknet ops` does "
        "(ops = 2 per multiply-add, convolutional/connected/recurrent layers only), and the AlexeyAB fork's "
        "Total BFLOPS (its per-layer BF summed: convolutions, maxpools, shortcuts).")


def add_arguments(p):
    p.add_argument("models", nargs="+", metavar="MODEL", help="darknet .cfg (or Keras .json/.keras)")
    p.add_argument("--width", type=int, help="override the input width")
    p.add_argument("--height", type=int, help="override the input height")
    add_size_argument(p)
    p.add_argument("--json", action="store_true",
                   help="one JSON list, an object per model: cfg, width, height, channels, ops, macs, "
                        "params, weight_floats, weights_bytes (header included), size_mib, dialect, bflops "
                        "(the fork's Total BFLOPS, billions, unrounded), param_bytes, peak_activation_bytes, "
                        "peak_layer, darknet_bytes (fp32, batch 1: see footprint.py); or error")
    add_dialect_argument(p)


def record(name, net):
    out = dict(cfg=name, path=net.path)
    out.update(net.summary())
    out["cfg"] = name
    out["dialect"] = getattr(net, "dialect", None)  # a Keras model has none
    out["bflops"] = net.bflops if out["dialect"] else None
    out.update(footprint(net).totals())
    return out


def run(args):
    results, failed = [], 0
    sizes = sizes_of(args)
    for name, size in ((n, s) for n in args.models for s in sizes):
        try:
            net = models.analyse(name, *size, dialect=args.dialect)
        except DarkbenchError as e:
            failed += 1
            print(refusal("ops", name, size, e) if args.size else f"darkbench ops: error: {e}", file=sys.stderr)
            results.append(dict(cfg=name, error=str(e), **({"size": size_text(size)} if args.size else {})))
            continue
        results.append(record(name, net))
        if not args.json:
            prefix = f"{name}: " if len(args.models) > 1 else ""
            prefix = f"{name} {size_text(size)}: " if args.size else prefix
            print(f"{prefix}Floating Point Operations: {net.ops}")
            print(f"{prefix}Floating Point Operations: {net.ops / 1e9:.2f} Bn")
            if getattr(net, "dialect", None):
                print(f"{prefix}Total BFLOPS {net.bflops:5.3f} (the AlexeyAB fork's count; read in the "
                      f"{net.dialect} dialect)")
    if args.json:
        print(json.dumps(results, indent=2))
    return 1 if failed else 0
