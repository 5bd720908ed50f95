"""darkbench weights: make a random .weights file, or check a file against a cfg."""
import os
import sys

from .. import models, network, weights
from ..errors import DarkbenchError
from .options import add_dialect_argument

HELP = "darknet .weights files: `init` writes a valid random file, `info` checks one against a cfg."


def _seed(text):
    import argparse
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 <= v < 2 ** 32:
        raise argparse.ArgumentTypeError(f"{v} is outside 0 to 2**32-1")
    return v


def add_arguments(p):
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    i = sub.add_parser("init", help="write a random .weights file for a cfg (positive variances)")
    i.add_argument("cfg", metavar="CFG")
    i.add_argument("out", metavar="OUT")
    i.add_argument("--seed", type=_seed, default=0, help="random seed, 0 to 2**32-1 (default 0)")
    i.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    f = sub.add_parser("info", help="print a .weights header and whether the file fits the cfg")
    f.add_argument("cfg", metavar="CFG")
    f.add_argument("file", metavar="FILE")
    for sp in (i, f):
        add_dialect_argument(sp)


def _init(args, net):
    """A file laid out as darknet's loader reads it (for most cfgs also exactly what darknet saves)."""
    weights.write(args.out, net, weights.random_arrays(net, args.seed), overwrite=args.force, for_loading=True)
    floats = weights.expected_floats(net)
    print(f"{args.out}: {floats} floats, {weights.HEADER_BYTES + 4 * floats} bytes for {net.path} "
          f"(read in the {net.dialect} dialect)")
    if floats != net.weight_floats:
        print(f"note: laid out as darknet's loader reads it (dontsave/dontload/dontloadscales); darknet's save "
              f"would write {net.weight_floats} floats", file=sys.stderr)
    return 0


def _dialect_lines(args, net, h):
    """Which dialect the header names, which the cfg alone reads in, which was used and why; a mismatch
    explained."""
    from .. import dialect as dialects
    named = dialects.of_header(h["major"], h["minor"], h["revision"])
    version = f"{h['major']}.{h['minor']}.{h['revision']}"
    own = network.analyse(models.resolve(args.cfg)).dialect  # what the cfg alone says (its warnings: once, above)
    header = (f"the header {version} is what {dialects.WRITERS[named]} writes ({named} dialect)" if named else
              f"the header {version} names no dialect (both read it)")
    why = (f"--dialect {args.dialect}" if args.dialect != dialects.AUTO else
           "auto: the header's" if dialects.of_weights(args.file) else "auto: the cfg's")
    print(f"dialect: {header}; the cfg alone reads in the {own} dialect; read in the {net.dialect} dialect ({why})")
    if named and named != net.dialect:
        print(f"mismatch: {dialects.WRITERS[named]} wrote this file, the cfg is read as "
              f"{dialects.WRITERS[net.dialect]} reads it; the weights' layout differs only where the dialects "
              "store different floats (the check below), the forward pass where their layers compute differently "
              "(batch norm's epsilon among them)")


def run(args):
    net = models.analyse(args.cfg, dialect=args.dialect, weights=args.file if args.action == "info" else None)
    if args.action == "init":
        return _init(args, net)
    weights.check_loadable(net)  # an error of the cfg, not of the file
    h = weights.read_header(os.fspath(args.file), net.dialect)
    print(f"{args.file}: version {h['major']}.{h['minor']}.{h['revision']}, seen {h['seen']}, "
          f"{h['header_bytes']}-byte header, {h['file_bytes']} bytes"
          + (", connected weights stored transposed" if weights.is_transposed(h) else ""))
    _dialect_lines(args, net, h)
    try:
        weights.read(args.file, net)
    except DarkbenchError as e:
        print(e.message)  # it already says "does not fit CFG: ..."
        return 1
    print(f"fits {net.path}: {weights.expected_floats(net)} floats (read in the {net.dialect} dialect)")
    return 0
