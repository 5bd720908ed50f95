"""darkbench crosscheck: analytic counts against fvcore and torch's FlopCounterMode."""
from ..tables import add_format_argument, render

HELP = ("Build the network and count it with fvcore (FlopCountAnalysis, 1 per multiply-add) and torch's "
        "FlopCounterMode (2 per multiply-add); print a per-layer reconciliation with the analytic counts.")

COLUMNS = [("layer", "layer"), ("type", "type"), ("darknet_ops", "darknet ops"), ("macs", "MACs"),
           ("fvcore_mm", "fvcore conv/linear"), ("fvcore_bn", "fvcore BN"), ("fvcore_other", "fvcore other"),
           ("flopcounter", "FlopCounterMode"), ("params", "params"), ("fvcore_params", "fvcore params"),
           ("torch_params", "torch params"), ("file_floats", ".weights floats"), ("reason", "reconciliation")]


def add_arguments(p):
    from .options import add_dialect_argument
    add_dialect_argument(p)
    p.add_argument("model", metavar="MODEL", help="darknet cfg")
    p.add_argument("--width", type=int)
    p.add_argument("--height", type=int)
    add_format_argument(p)


def run(args):
    from ..crosscheck import CONVENTIONS, RULES, crosscheck
    from .. import models
    rows, total = crosscheck(args.model, args.width, args.height, dialect=args.dialect)
    dialect = models.analyse(args.model, args.width, args.height, dialect=args.dialect).dialect
    if args.format == "json":
        print(render(dict(layers=rows, total=total, conventions=CONVENTIONS, dialect=dialect,
                          fvcore_handles={rule: list(ops) for rule, ops in RULES.items()}), "json"))
        return 0
    print(render(rows + ([] if args.format == "csv" else [total]), args.format, COLUMNS))
    if args.format != "csv":
        print(f"\n{CONVENTIONS} The cfg was read in the {dialect} dialect.")
    return 0
