"""The detection pipeline's table (results of `bench --pipeline`, read, never measured): per model, host, dtype
and backend each stage's median with its CI, their sum beside the end-to-end median, and the cold start; the
figures are bench/stages.py's summary of each result, as `bench` prints them."""
import pandas as pd

from ..bench import stages

COLUMNS = {k: f"{k}: ms [95% CI]" for k in stages.ORDER}
HEADERS = {**COLUMNS, "images": "images per pass", "sum_ms": "sum of the stages' medians (ms)",
           "pipeline": "end to end: ms [95% CI]", "sum_per_e2e": "sum / end to end",
           "post_share": "boxes + nms / end to end", "load_s": "cold: load s", "compile_s": "cold: compile/export s",
           "first_ms": "cold: first image ms", "steady_ms": "steady: end-to-end median ms",
           "own_stages": "stages of its own"}


def _round(v, digits):
    return None if v is None else round(v, digits)


def pipeline_table(results, host_label):
    """One row per pipeline result that was measured."""
    done = [r for r in results if r.get("stages") and not r.get("error")]
    names = stages.ordered(k for r in done for k in r["stages"])
    rows = []
    for r in done:
        s = stages.summary(r)
        row = dict(model=r.get("model"), host=host_label(r), dtype=r.get("dtype"), backend=r.get("backend"),
                   images=s["images"])
        row.update({k: stages.median_text(*s["stages"][k]) if k in s["stages"] else "" for k in names})
        row.update(sum_ms=_round(s["sum_ms"], 2), pipeline=stages.median_text(s["pipeline_ms"], s["pipeline_ci95_ms"]),
                   sum_per_e2e=_round(s["sum_per_e2e"], 3),
                   post_share=None if s["post_share"] is None else f"{s['post_share']:.1%}",
                   load_s=_round(s["load_s"], 3), compile_s=_round(s["compile_s"], 3),
                   first_ms=_round(s["first_ms"], 1), steady_ms=_round(s["steady_ms"], 2),
                   own_stages="; ".join(f"{k}: {v['what']}" for k, v in r["stages"].items()
                                        if v.get("what") and v["what"] != stages.DARKBENCH.get(k)))
        rows.append(row)
    return pd.DataFrame(rows)


TEXT = ("Each image taken from its file to its detections, every stage stamped inside the same end-to-end runs: "
        "one sample is a pass over the images (darknet's sample pictures), the figures ms per image, passes "
        "interleaved across backends (A B A B ...). darkbench's pipeline: " + "; ".join(
            f"{k}: {v}" for k, v in stages.DARKBENCH.items()) + ". A backend with a pipeline of its own is timed in "
        "the stages it can be split into (stages of its own). The stages' medians add up to about the end-to-end "
        "median (sum / end to end). Cold start: load (darkbench's analysis, reading the weights and building the "
        "model), compile/export (what preparing did beyond that: compiling, exporting, an engine's own compile; "
        "a compiler that picks among variants: the chosen one's), the "
        "first image through the pipeline, and the steady state (the end-to-end median).")
