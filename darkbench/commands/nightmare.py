"""darkbench nightmare: darknet's deep dream, with darknet's options and defaults."""
HELP = ("Amplify what a layer responds to in an image (darknet's `nightmare`); writes one image per round "
        "named IMAGE_CFG_LAYER_ROUND.jpg as darknet does.")


def add_arguments(p):
    from .options import add_dialect_argument
    add_dialect_argument(p)
    from ..nightmare import DEFAULTS as D
    p.add_argument("cfg", metavar="CFG")
    p.add_argument("weights", metavar="WEIGHTS")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("layer", type=int, metavar="LAYER")
    p.add_argument("-rounds", "--rounds", type=int, default=D["rounds"], metavar="N",
                   help="rounds; each feeds the next and writes its image (default %(default)s)")
    p.add_argument("-iters", "--iters", type=int, default=D["iters"], metavar="N",
                   help="iterations per round (default %(default)s)")
    p.add_argument("-range", "--range", type=int, default=D["range"], metavar="N",
                   help="each iteration targets a layer drawn from this window around LAYER (default %(default)s)")
    p.add_argument("-octaves", "--octaves", type=int, default=D["octaves"], metavar="N",
                   help="image scales drawn from, each 3/4 of the last (default %(default)s)")
    p.add_argument("-rate", "--rate", type=float, default=D["rate"], metavar="X",
                   help="step size (default %(default)s, the program's; its documentation says .05)")
    p.add_argument("-thresh", "--thresh", type=float, default=D["thresh"],
                   metavar="X",
                   help="amplify only activations above mean + X standard deviations (default %(default)s)")
    p.add_argument("-zoom", "--zoom", type=float, default=D["zoom"], metavar="X",
                   help="after each round: < 1 zooms in, > 1 out (default %(default)s)")
    p.add_argument("-rotate", "--rotate", type=float, default=D["rotate"], metavar="X",
                   help="after each round: rotate by X radians (default %(default)s)")
    p.add_argument("-norm", "--norm", type=int, default=D["norm"], metavar="0|1",
                   help="normalise each step to unit variance (default %(default)s)")
    p.add_argument("-prefix", "--prefix", metavar="DIR",
                   help="directory for the output images (default: the current one)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="default %(default)s")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the random draws (layer, octave, jitter, flip) (default %(default)s)")
    p.add_argument("--force", action="store_true", help="overwrite existing output images")


def run(args):
    import os
    import sys
    # OpenMP threads that spin between operations take a shared machine's cores from the thread doing the work
    # (twice the CPU time, twice the wall time under load here); these operations last milliseconds and more, so
    # sleeping costs nothing. Read when torch loads, so set before; a user's own setting wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from ..nightmare import dream
    dream(args.cfg, args.weights, args.image, args.layer, args.rounds, args.iters, args.range, args.octaves,
          args.rate, args.thresh, args.zoom, args.rotate, args.norm, args.prefix, args.device, args.seed,
          args.force, progress=sys.stderr.isatty())
    return 0
