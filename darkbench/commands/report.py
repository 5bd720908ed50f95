"""darkbench report: write the comparison report (markdown, HTML, figures, CSV)."""
HELP = ("Write reports/: report.md, a self-contained index.html, figures and CSVs, from analysis and "
        "benchmark results (--results); it never measures.")


def add_arguments(p):
    from .options import add_dialect_argument
    add_dialect_argument(p)
    p.add_argument("--results", nargs="*", default=[], metavar="DIR_OR_FILE",
                   help="benchmark results JSON files or directories (several hosts merge into one report)")
    p.add_argument("--out", default="reports", help="output directory (default: reports)")
    p.add_argument("--force", action="store_true",
                   help="replace files in --out that darkbench report did not write (e.g. a report.md of your own)")
    p.add_argument("--models", nargs="*", metavar="MODEL", help="networks to analyse (default: the published four, "
                   "YOLOv3-Tiny and the Keras inception model)")


def run(args):
    import sys
    from ..report import build
    build(args.out, args.models, args.results, log=lambda m: print(m, file=sys.stderr), force=args.force)
    return 0
