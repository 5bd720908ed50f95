"""darkbench verify: every published claim checked against computed values."""
from .. import published
from ..tables import add_format_argument, render

HELP = ("Check every published claim (Tiny Darknet page, inception blog, and the AlexeyAB fork's README "
        "against the fork's zoo in $DARKBENCH_ALEXEYAB/cfg): exit 0 only when each is reproduced to its "
        "published precision, quoted (not computable), a recorded known discrepancy whose computed value is "
        "unchanged, or not checked because the fork's zoo is not installed.")

COLUMNS = [("claim", "claim"), ("network", "network"), ("published_text", "published"),
           ("computed_text", "computed"), ("verdict", "verdict"), ("holds_at", "holds at"), ("note", "note")]


def add_arguments(p):
    add_format_argument(p)


def run(args):
    rows = published.verify_all()
    for r in rows:
        r["computed_text"] = published.computed_text(r)
    print(render(rows, args.format, None if args.format == "json" else COLUMNS))
    bad = [r for r in rows if r["verdict"] == "FAILED"]
    if args.format in ("table", "markdown"):
        counts = {}
        for r in rows:
            counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
        print("\n" + ", ".join(f"{n} {v}" for v, n in sorted(counts.items())))
    return 1 if bad else 0
