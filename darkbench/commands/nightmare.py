"""darkbench nightmare: darknet's deep dream, with darknet's options and defaults."""
HELP = ("Amplify what a layer responds to in an image (darknet's `nightmare`); writes one image per round "
        "named IMAGE_CFG_LAYER_ROUND.jpg as darknet does.")


def add_arguments(p):
    from ..nightmare import DEFAULTS as D
    p.add_argument("cfg", metavar="CFG")
    p.add_argument("weights", metavar="WEIGHTS")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("layer", type=int, metavar="LAYER")
    p.add_argument("-rounds", "--rounds", type=int, default=D["rounds"], help="rounds; each writes its image")
    p.add_argument("-iters", "--iters", type=int, default=D["iters"], help="iterations per round")
    p.add_argument("-range", "--range", type=int, default=D["range"], help="the layer is drawn from this window")
    p.add_argument("-octaves", "--octaves", type=int, default=D["octaves"], help="scales tried, each 3/4 of the last")
    p.add_argument("-rate", "--rate", type=float, default=D["rate"], help="step size")
    p.add_argument("-thresh", "--thresh", type=float, default=D["thresh"],
                   help="amplify only activations above mean + thresh * std")
    p.add_argument("-zoom", "--zoom", type=float, default=D["zoom"], help="zoom applied after each round")
    p.add_argument("-rotate", "--rotate", type=float, default=D["rotate"], help="rotation (radians) after each round")
    p.add_argument("-norm", "--norm", type=int, default=D["norm"], help="normalise each step (1) or not (0)")
    p.add_argument("-prefix", "--prefix", help="directory for the output images")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="overwrite existing output images")


def run(args):
    import sys
    from ..nightmare import dream
    dream(args.cfg, args.weights, args.image, args.layer, args.rounds, args.iters, args.range, args.octaves,
          args.rate, args.thresh, args.zoom, args.rotate, args.norm, args.prefix, args.device, args.seed,
          args.force, progress=sys.stderr.isatty())
    return 0
