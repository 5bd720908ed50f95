"""darkbench export: a network as an ONNX file."""
from .. import models
from ..errors import DarkbenchError

HELP = "Export a cfg (with optional .weights) or Keras model to ONNX."


def add_arguments(p):
    from .options import add_dialect_argument
    add_dialect_argument(p)
    p.add_argument("model", metavar="MODEL", help="darknet cfg (or Keras .json/.keras)")
    p.add_argument("weights", nargs="?", metavar="WEIGHTS", help="darknet .weights (default: random weights)")
    p.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    p.add_argument("--width", type=int, help="input width (default: the cfg's)")
    p.add_argument("--height", type=int, help="input height (default: the cfg's)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default: 17)")
    p.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")


def run(args):
    from ..export import check_opset, check_output, export_onnx
    check_output(args.output, args.force)
    check_opset(args.opset)
    if args.weights and not models.traits(args.model).supports_weights:
        raise DarkbenchError("WEIGHTS is for darknet cfgs; a Keras model is exported with random weights",
                             args.weights)
    model = models.load(args.model, args.weights, width=args.width, height=args.height, dialect=args.dialect)
    export_onnx(model, args.output, opset=args.opset, overwrite=args.force)
    dialect = getattr(getattr(model, "spec", None), "dialect", None)  # a Keras model has none
    print(f"wrote {args.output}" + (f" (cfg read in the {dialect} dialect)" if dialect else ""))
    return 0
