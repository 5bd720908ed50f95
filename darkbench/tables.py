"""Rendering rows (list of dicts) as text table, markdown, CSV or JSON."""
import csv
import io
import json

FORMATS = ("table", "markdown", "csv", "json")


def add_format_argument(parser, default="table"):
    parser.add_argument("--format", choices=FORMATS, default=default,
                        help=f"output format (default: {default})")


def render(rows, fmt, columns=None, floatfmt=None):
    """columns: [(key, header)]; floatfmt: {key: format spec} for table/markdown."""
    if fmt == "json":
        return json.dumps(rows, indent=2)
    columns = columns or [(k, k) for k in (rows[0] if rows else {})]
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow([h for _, h in columns])
        for r in rows:
            w.writerow(["" if r.get(k) is None else r.get(k) for k, _ in columns])
        return out.getvalue().rstrip("\n")
    from tabulate import tabulate
    floatfmt = floatfmt or {}
    body = [[_cell(r.get(k), floatfmt.get(k)) for k, _ in columns] for r in rows]
    return tabulate(body, headers=[h for _, h in columns],
                    tablefmt="github" if fmt == "markdown" else "simple", disable_numparse=True)


def _cell(v, spec):
    if v is None:
        return ""
    if spec and isinstance(v, (int, float)):
        return format(v, spec)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def shape_text(shape):
    c, h, w = shape
    if not c:
        return "-"
    return f"{w}x{h}x{c}" if (h, w) != (1, 1) else f"{c}"
