"""darkbench weights: make a random .weights file, or check a file against a cfg."""
import os
import sys

from .. import models, weights
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


def run(args):
    net = models.analyse(args.cfg, dialect=args.dialect, weights=args.file if args.action == "info" else None)
    if args.action == "init":
        return _init(args, net)
    weights.check_loadable(net)  # an error of the cfg, not of the file
    h = weights.read_header(os.fspath(args.file))
    print(f"{args.file}: version {h['major']}.{h['minor']}.{h['revision']}, seen {h['seen']}, "
          f"{h['header_bytes']}-byte header, {h['file_bytes']} bytes"
          + (", connected weights stored transposed" if weights.is_transposed(h) else ""))
    try:
        weights.read(args.file, net)
    except DarkbenchError as e:
        print(e.message)  # it already says "does not fit CFG: ..."
        return 1
    print(f"fits {net.path}: {weights.expected_floats(net)} floats (read in the {net.dialect} dialect)")
    return 0
