"""darkbench compare: one row per network, computed beside published figures."""
import sys

from .. import models, published
from ..errors import DarkbenchError
from ..footprint import footprint
from ..sizes import add_size_argument, refusal, sizes_of
from ..tables import add_format_argument, render
from .options import add_dialect_argument

HELP = ("Compare networks: input, layers, params, size (MiB), Ops (Bn), MACs, with the Tiny Darknet "
        "page's published Top-1/Top-5/Ops/Size beside them where it has figures.")

COLUMNS = [("network", "network"), ("input", "input"), ("layers", "layers"), ("params", "params"),
           ("size_mib", "size MiB"), ("ops_bn", "Ops Bn"), ("bflops", "BFLOPS (fork)"), ("gmacs", "GMACs"),
           ("peak_act_mib", "peak activations MiB"), ("dialect", "dialect"),
           ("pub_top1", "Top-1 (quoted)"), ("pub_top5", "Top-5 (quoted)"),
           ("pub_ops", "Ops (published)"), ("pub_size", "Size (published)")]


def add_arguments(p):
    p.add_argument("models", nargs="+", metavar="MODEL",
                   help="cfg or Keras model; a bare name is looked for as given, in the project's cfg/, "
                        "then in darknet's installed zoo, then in the AlexeyAB fork's ($DARKBENCH_ALEXEYAB/cfg)")
    p.add_argument("--width", type=int, help="override the input width")
    p.add_argument("--height", type=int, help="override the input height")
    add_size_argument(p)
    add_format_argument(p)
    add_dialect_argument(p)


def row(name, net):
    r = dict(network=net.name, path=net.path, input=f"{net.width}x{net.height}x{net.channels}",
             layers=len(net.layers), params=net.params, size_mib=round(net.size_mib, 2),
             ops=net.ops, ops_bn=round(net.ops / 1e9, 2), macs=net.macs, gmacs=round(net.macs / 1e9, 3),
             dialect=getattr(net, "dialect", None))
    if r["dialect"]:
        r["bflops"] = net.bflops
    mem = footprint(net)  # batch 1, fp32 (footprint.py)
    r.update(peak_activation_bytes=mem.peak_activation_bytes, peak_act_mib=round(mem.peak_activation_bytes / 2**20, 2))
    p = published.figures_for(net)
    if p:
        r.update(network=p["network"], pub_top1=p["top1"], pub_top5=p["top5"],
                 pub_ops=p["ops_text"], pub_size=p["size_text"])
    return r


def run(args):
    rows, refused = [], 0
    for name in args.models:
        for size in sizes_of(args):
            try:
                rows.append(row(name, models.analyse(name, *size, dialect=args.dialect)))
            except DarkbenchError as e:
                if not args.size:
                    raise
                refused += 1
                print(refusal("compare", name, size, e), file=sys.stderr)
    print(render(rows, args.format, None if args.format == "json" else COLUMNS,
                 floatfmt={"size_mib": ".2f", "ops_bn": ".2f", "bflops": ".3f", "gmacs": ".3f", "peak_act_mib": ".2f"}))
    if args.format in ("table", "markdown"):
        print("\nOps = darknet's count (2 per multiply-add, conv/connected/recurrent); BFLOPS (fork) = the "
              "AlexeyAB fork's Total BFLOPS (convolutions, maxpools, shortcuts); size = .weights "
              "bytes / 2^20 (the page's \"MB\"); Top-1/Top-5 are quoted from the Tiny Darknet page, "
              "not measured; peak activations = the most fp32 activation bytes alive at once, batch 1.")
    return 1 if refused else 0
