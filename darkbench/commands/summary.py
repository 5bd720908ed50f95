"""darkbench summary: the per-layer table with every count."""
import sys

from .. import models
from ..errors import DarkbenchError
from ..footprint import footprint
from ..sizes import add_size_argument, refusal, sizes_of
from ..tables import add_format_argument, render, shape_text
from .options import add_dialect_argument

HELP = "Per-layer table (darknet's printout columns plus params, BFLOPs, MACs, bytes, intensity) and totals."

CONVENTIONS = ("Conventions: BFLOPs = darknet ops / 1e9 (2 per multiply-add, conv/connected/recurrent only, "
               "no bias/BN/activation/pooling); MACs = multiply-accumulates of conv/deconv/local/connected/"
               "recurrent layers; params = trainable values (batch-norm running statistics excluded); "
               "stored floats = what a .weights file holds (running statistics included); bytes = fp32 "
               "reads (inputs + weights) + writes (outputs); intensity = 2*MACs / bytes; BF (fork) = the AlexeyAB "
               "fork's per-layer count, 2*(c/groups)*n*k*k*out_h*out_w/1e9 for convolutions (an antialiased one at "
               "stride 1, its blur not counted; /32 for xnor), k*k*c*out_h*out_w/1e9 for maxpools, "
               "out_w*out_h*out_c*sources/1e9 (x2 weighted) for shortcuts, a crnn's three convolutions, 0 "
               "otherwise.")
MEMORY = ("Memory (fp32, batch 1): param B = every stored value x 4 (running statistics included); output B = "
          "the layer's output; live B = activations alive after the layer ran (an output lives until its "
          "last reader, the network's outputs to the end); peak = the most alive while a layer runs (its "
          "inputs + its output; its own temporaries not counted); darknet = what darknet's inference touches: "
          "its input, every layer's output and delta (zeroed by forward_network) and the buffers its forward "
          "fills (batch norm's copy, maxpool indexes), one im2col workspace (the largest a layer asks for) and "
          "the weights.")


def add_arguments(p):
    p.add_argument("model", metavar="MODEL", help="darknet .cfg (or Keras .json/.keras)")
    p.add_argument("--width", type=int, help="override the input width")
    p.add_argument("--height", type=int, help="override the input height")
    add_size_argument(p)
    add_format_argument(p)
    add_dialect_argument(p)


def layer_rows(net):
    rows = []
    mem = footprint(net)
    fork_counts = bool(getattr(net, "dialect", None))  # darknet layers only: Keras ones have no fork count
    for l in net.layers:
        o = l.opts
        filters = o.get("filters", o.get("output", o.get("output_filters")))
        sx, sy = o.get("stride_x", o.get("stride")), o.get("stride_y", o.get("stride"))  # the fork's may differ
        size = (f"{o['size']}x{o['size']}/{sx if sx == sy else f'{sx}x{sy}'}" if "size" in o and "stride" in o
                else l.desc)
        row = dict(layer=l.index, type=l.type, filters=filters, size=size, input=shape_text(l.in_shape),
                   output=shape_text(l.out_shape) if all(l.out_shape) else str(l.outputs),
                   params=l.params, bflops=l.ops / 1e9, bf=l.bflops if fork_counts else None, macs=l.macs,
                   bytes=l.bytes_read + l.bytes_written, intensity=l.intensity,
                   param_bytes=mem.param_bytes[l.index], output_bytes=mem.output_bytes[l.index],
                   live_bytes=mem.live_bytes[l.index])
        if hasattr(l, "formula"):
            row.update(name=l.name, formula=l.formula, running_total=l.running_total)
        rows.append(row)
    return rows


MEMORY_COLUMNS = [("param_bytes", "param B"), ("output_bytes", "output B"), ("live_bytes", "live B")]
COLUMNS = [("layer", "layer"), ("type", "type"), ("filters", "filters"), ("size", "size/stride"),
           ("input", "input"),
           ("output", "output"), ("params", "params"), ("bflops", "BFLOPs"), ("bf", "BF (fork)"),
           ("macs", "MACs"), ("bytes", "bytes"), ("intensity", "FLOP/B")] + MEMORY_COLUMNS
KERAS_COLUMNS = [("layer", "layer"), ("name", "name"), ("type", "type"), ("output", "output"),
                 ("formula", "params formula"), ("params", "params"), ("running_total", "running total"),
                 ("macs", "MACs"), ("bflops", "BFLOPs"), ("intensity", "FLOP/B")] + MEMORY_COLUMNS


def run(args):
    if not args.size:
        return show(models.analyse(args.model, args.width, args.height, dialect=args.dialect), args)  # warnings: models.analyse
    done, refused = [], 0
    for size in sizes_of(args):
        try:
            net = models.analyse(args.model, *size, dialect=args.dialect)
        except DarkbenchError as e:
            refused += 1
            print(refusal("summary", args.model, size, e), file=sys.stderr)
            continue
        if args.format == "json":
            done.append(as_json(net))
            continue
        if done and args.format != "csv":
            print()
        done.append(show(net, args, header=args.format != "csv" or not done))
    if args.format == "json":
        print(render(done, "json"))
    return 1 if refused else 0


def totals(net):
    out = net.summary()
    dialect = getattr(net, "dialect", None)  # a Keras model has none
    if dialect:
        out.update(dialect=dialect, bflops=net.bflops)
    return dict(out, **footprint(net).totals())


def as_json(net):
    return dict(totals(net), layers=layer_rows(net),
                conventions=getattr(net, "conventions", CONVENTIONS) + " " + MEMORY)


def show(net, args, header=True):
    rows = layer_rows(net)
    dialect = getattr(net, "dialect", None)  # a Keras model has none
    if args.format == "json":
        print(render(as_json(net), "json"))
        return 0
    keras = bool(rows) and "formula" in rows[0]
    cols = KERAS_COLUMNS if keras else COLUMNS
    if args.format != "csv":
        rows = net.nest_rows(rows) if hasattr(net, "nest_rows") else rows  # nested Keras models
        rows.append(dict(layer="total", params=net.params, bflops=net.ops / 1e9, macs=net.macs,
                         bf=net.bflops if dialect else None,
                         running_total=net.params if keras else None,
                         bytes=sum(l.bytes_read + l.bytes_written for l in net.layers),
                         param_bytes=sum(r["param_bytes"] for r in layer_rows(net)),
                         output_bytes=sum(r["output_bytes"] for r in layer_rows(net))))
    table = render(rows, args.format, cols, floatfmt={"bflops": ".3f", "bf": ".3f", "intensity": ".2f"})
    print(table if header else table.split("\n", 1)[-1])  # csv over sizes: one header
    if args.format == "csv":
        return 0
    print()
    print(f"{net.path}: input {net.width}x{net.height}x{net.channels}, {len(net.layers)} layers"
          + (f", read in the {dialect} dialect" if dialect else ""))
    print(f"Floating Point Operations: {net.ops} ({net.ops / 1e9:.2f} Bn)   MACs: {net.macs:,}"
          + (f"   Total BFLOPS (AlexeyAB fork): {net.bflops:.3f}" if dialect else ""))
    extra = (f" (trainable {net.trainable:,}, non-trainable {net.non_trainable:,})"
             if hasattr(net, "trainable") else "")
    print(f"Parameters: {net.params:,}{extra}   stored floats: {net.weight_floats:,}")
    what = "fp32 weights" if extra else "Weights file"
    print(f"{what}: {net.weights_bytes:,} bytes = {net.size_mib:.2f} MiB")
    print(memory_line(footprint(net)))
    print(getattr(net, "conventions", CONVENTIONS))
    print(MEMORY)
    return 0


def memory_line(mem):
    mib = 2 ** 20
    dk = (f"darknet holds {mem.darknet_bytes / mib:.2f} MiB (workspace {mem.workspace_bytes / mib:.2f} MiB)"
          if mem.darknet_bytes is not None else "darknet: n/a")
    return (f"Memory (fp32, batch 1): parameters {mem.total_param_bytes / mib:.2f} MiB; peak live activations "
            f"{mem.peak_activation_bytes / mib:.2f} MiB (while layer {mem.peak_layer} runs); {dk}")
