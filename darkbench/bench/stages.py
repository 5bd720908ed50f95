"""The detection pipeline's stages as results carry them (`bench --pipeline`, bench/pipeline.py): their names and
order, and what `bench` prints and the report shows of a pipeline result, both read from the same fields here
(a record's `stages`, `pipeline_ms`, `cold_start`), never measured."""
from .text import ci_text

# every stage a pipeline stamps, in the order tables list them; what darkbench's own contain
ORDER = ("decode", "prepare", "forward", "boxes", "nms", "detect", "rest")
DARKBENCH = {
    "decode": "read and decode the image file (darkbench.image.load_color: PIL, EXIF orientation, float CHW)",
    "prepare": "letterbox or resize to the network's input as the dialect's darknet does (darkbench.detect.prepare)",
    "forward": "the network on the backend, numpy in and out (the heads' outputs)",
    "boxes": "every head's rows: its family's BOXES trait (darkbench.detect.head_rows)",
    "nms": "the dialect's non-maximum suppression (darkbench.detect.suppressed)",
}
POST = ("boxes", "nms")  # darkbench's own post-processing


def ordered(names):
    """Stage names in ORDER, any other after them in the order given."""
    names = list(dict.fromkeys(names))
    return [n for n in ORDER if n in names] + [n for n in names if n not in ORDER]


def summary(r):
    """What a pipeline result (a results row as JSON) says, ms per image: {stage: (median, CI)}, their sum, the
    end-to-end median and CI, sum / end to end, darkbench's post-processing share of the end to end (the
    medians of boxes + nms over the end-to-end median; None without those stages) and its cold start."""
    st = r.get("stages") or {}
    stages = {k: (v.get("median_ms"), v.get("ci95_ms")) for k, v in st.items()}
    total = sum(m for m, _ in stages.values() if m is not None) if stages else None
    e2e = r.get("pipeline_ms")
    post = [stages[k][0] for k in POST if k in stages and stages[k][0] is not None]
    cold = r.get("cold_start") or {}
    return dict(stages=stages, sum_ms=total, pipeline_ms=e2e, pipeline_ci95_ms=r.get("pipeline_ci95_ms"),
                sum_per_e2e=total / e2e if total is not None and e2e else None,
                post_share=sum(post) / e2e if len(post) == len(POST) and e2e else None,
                load_s=cold.get("load_s"), compile_s=cold.get("compile_s"), first_ms=cold.get("first_ms"),
                steady_ms=cold.get("steady_ms"), images=len(r.get("pipeline_images") or []))


def median_text(median, ci, fmt=".2f"):
    """"12.34 [12.10, 12.60]", or the median alone where there is no CI."""
    if median is None:
        return ""
    return f"{median:{fmt}} {ci_text(ci, fmt)}" if ci else f"{median:{fmt}}"


def _number(v, fmt):
    return "" if v is None else f"{v:{fmt}}"


def table(results):
    """What `bench --pipeline` prints: per model, size, device and dtype, the stages down and the backends
    across (ms per image, median [95% CI]), their sum beside the end-to-end median and the ratio, then the cold
    start; below, what each backend's stages contain where it is not darkbench's own."""
    from tabulate import tabulate
    groups = {}
    for r in results:
        if r.get("pipeline_images") is not None:
            key = (r.get("model"), tuple(r.get("input") or ()), r.get("device"), r.get("dtype"))
            groups.setdefault(key, []).append(r)
    parts = []
    for (model, shape, device, dtype), rs in groups.items():
        done = [r for r in rs if r.get("stages")]
        sums = {id(r): summary(r) for r in done}
        names = ordered(k for r in done for k in r["stages"])
        rows = [[k] + [median_text(*sums[id(r)]["stages"][k]) if k in r["stages"] else "" for r in done]
                for k in names]
        rows += [["sum of the stages' medians"] + [_number(sums[id(r)]["sum_ms"], ".2f") for r in done],
                 ["end to end"] + [median_text(r.get("pipeline_ms"), r.get("pipeline_ci95_ms")) for r in done],
                 ["sum / end to end"] + [_number(sums[id(r)]["sum_per_e2e"], ".3f") for r in done],
                 ["post-processing (boxes + nms) / end to end"] + [_number(sums[id(r)]["post_share"], ".1%")
                                                                   for r in done],
                 ["cold: load s"] + [_number(sums[id(r)]["load_s"], ".3f") for r in done],
                 ["cold: compile/export s"] + [_number(sums[id(r)]["compile_s"], ".3f") for r in done],
                 ["cold: first image ms"] + [_number(sums[id(r)]["first_ms"], ".1f") for r in done],
                 ["steady: end-to-end median ms"] + [_number(sums[id(r)]["steady_ms"], ".2f") for r in done]]
        n = max((sums[id(r)]["images"] for r in done), default=0)
        size = f" {shape[2]}x{shape[1]}" if len(shape) == 3 else ""
        head = f"{model}{size} {device} {dtype}: ms per image over {n} images, median [95% CI]"
        parts.append(head + "\n" + tabulate(rows, headers=["stage"] + [r["backend"] for r in done],
                                            disable_numparse=True) if done else head)
        own = {}
        for r in done:
            for k, v in r["stages"].items():
                if v.get("what") and v["what"] != DARKBENCH.get(k):
                    own.setdefault((k, v["what"]), []).append(r["backend"])
        parts += [f"  {k} ({', '.join(b)}): {what}" for (k, what), b in own.items()]
        parts += [f"  {r['backend']}: {r.get('error') or 'skipped: ' + str(r.get('skipped'))}" for r in rs
                  if not r.get("stages")]
    return "\n".join(parts)
