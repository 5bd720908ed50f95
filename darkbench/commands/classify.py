"""darkbench classify: darknet's classifier on images (top-k classes with probabilities)."""
# The output is the Tiny Darknet page's (darknet's own at the time); the packaged darknet prints " 26.32%: label"
HELP = ("Classify images as `darknet classify` does: prints 'IMAGE: Predicted in S seconds.' and a "
        "'label: probability' line for each top class.")


def add_arguments(p):
    from .options import add_dialect_argument
    add_dialect_argument(p)
    p.add_argument("cfg", metavar="CFG")
    p.add_argument("weights", metavar="WEIGHTS")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--top", type=int, default=5, help="how many classes to print (default 5)")
    p.add_argument("--labels", help="class names, one per line (default: darknet's ImageNet short names)")


def run(args):
    import darkbench
    from ..classify import check_single_output, classify, read_labels, top_k
    from ..errors import DarkbenchError
    if args.top < 1:
        raise DarkbenchError(f"--top {args.top} must be >= 1")
    model = darkbench.load(args.cfg, args.weights, dialect=args.dialect)
    check_single_output(model)  # before the labels: their count is the output's
    labels = read_labels(args.labels, model.spec.layers[model.spec.output_index].outputs)
    for image in args.images:
        probs, secs = classify(model, image)
        print(f"{image}: Predicted in {secs:f} seconds.")
        for i in top_k(probs, args.top):
            print(f"{labels[i]}: {probs[i]:f}")
    return 0
