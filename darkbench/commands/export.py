"""darkbench export: a network as an ONNX file."""
from ..errors import DarkbenchError

HELP = "Export a cfg (with optional .weights) or Keras model to ONNX."


def add_arguments(p):
    p.add_argument("model", metavar="MODEL")
    p.add_argument("weights", nargs="?", metavar="WEIGHTS")
    p.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    p.add_argument("--width", type=int)
    p.add_argument("--height", type=int)
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")


def run(args):
    import os
    if os.path.exists(args.output) and not args.force:
        raise DarkbenchError("exists; not overwriting (use --force)", args.output)
    import darkbench
    from ..export import export_onnx
    model = darkbench.load(args.model, args.weights, width=args.width, height=args.height)
    export_onnx(model, args.output, opset=args.opset)
    print(f"wrote {args.output}")
    return 0
