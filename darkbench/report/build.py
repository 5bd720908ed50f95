"""Write reports/: report.md, a self-contained index.html, the figures and the CSV behind each."""
import base64
import html
import json
import os
import shutil
import tempfile

import pandas as pd

from .. import models
from . import data, plots


def _atomic_write(path, content, mode="w"):
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".report-")
    with os.fdopen(fd, mode) as f:
        f.write(content)
    os.replace(tmp, path)


def _md(df, floatfmt="g"):
    if df is None or not len(df):
        return "_(no data)_"
    return df.to_markdown(index=False, floatfmt=floatfmt, missingval="")


def build(out, model_names=None, result_paths=None, log=print):
    os.makedirs(out, exist_ok=True)
    figdir = os.path.join(out, "figures")
    datadir = os.path.join(out, "data")
    os.makedirs(figdir, exist_ok=True)
    os.makedirs(datadir, exist_ok=True)
    names = model_names or data.DEFAULT_MODELS
    log("analysing networks")
    nets = data.networks(names)
    cfg_nets = [n for n in nets if not models.is_keras(n.path)]
    keras_nets = [n for n in nets if models.is_keras(n.path)]
    results, files = data.load_results(result_paths)
    tables = {"networks": data.network_table(nets)}
    tables["published"], tables["claims"] = data.published_table()
    tables["latency_ms"] = data.latency_table(results)
    tables["speed_ratios"] = data.speed_ratios(results)
    tables["layers"] = data.layer_table(cfg_nets)
    tables["roofline"] = data.roofline_table(results)
    for k in keras_nets:
        tables[f"keras_{k.name}"] = data.keras_table(k)
    for name, df in tables.items():
        if len(df):
            _atomic_write(os.path.join(datadir, f"{name}.csv"), df.to_csv(index=name == "latency_ms"))
    for f in files:  # the raw results travel with the report
        dest = os.path.join(datadir, os.path.basename(f))
        if os.path.abspath(f) != os.path.abspath(dest):
            shutil.copyfile(f, dest)
    log("drawing figures")
    figs = {}
    figs["Accuracy vs operations"] = plots.accuracy_vs_ops(tables["networks"], os.path.join(figdir, "accuracy_vs_ops.png"))
    figs["Parameters vs operations"] = plots.params_vs_ops(tables["networks"], os.path.join(figdir, "params_vs_ops.png"))
    if len(tables["latency_ms"]):
        figs["Latency vs operations"] = plots.latency_vs_ops(tables["networks"], tables["latency_ms"],
                                                             os.path.join(figdir, "latency_vs_ops.png"))
    figs["Operations per layer"] = plots.layer_ops(tables["layers"], os.path.join(figdir, "layer_ops.png"))
    if len(tables["roofline"]):
        figs["Per-layer roofline"] = plots.roofline(tables["roofline"], os.path.join(figdir, "roofline.png"))
    sections = _sections(tables, keras_nets, data.environments(results), files)
    _atomic_write(os.path.join(out, "report.md"), _markdown(sections, figs, out))
    _atomic_write(os.path.join(out, "index.html"), _html(sections, figs))
    log(f"wrote {out}/report.md, {out}/index.html, {len(figs)} figures, {len(tables)} tables")
    return tables, figs


CONVENTIONS = ("Ops: darknet's count, 2 per multiply-add, convolutional/connected layers only (no bias, batch norm, "
               "activation or pooling); for Keras models 2 x MACs of Conv/Dense layers. Size: bytes of the darknet "
               ".weights file / 2^20 (MiB, the page's \"MB\"); Keras: fp32 bytes of all weights. Params: trainable "
               "values (Keras: count_params, moving statistics included). Top-1/Top-5 are quoted from the Tiny "
               "Darknet page, not measured. Latency: median of interleaved runs at batch 1.")


def _sections(t, keras_nets, envs, files):
    s = [("Published figures (Tiny Darknet page) beside computed ones",
          "Top-1/Top-5 are quoted from the page. Verdicts come from `darkbench verify`.", t["published"]),
         ("Every published claim", "", t["claims"][["claim", "network", "published_text", "computed", "verdict",
                                                     "holds_at", "note"]]),
         ("Networks", CONVENTIONS, t["networks"])]
    if len(t["latency_ms"]):
        s.append(("Measured latency (median ms, batch 1)", "One column per host/device, dtype and backend.",
                  t["latency_ms"].reset_index()))
    if len(t["speed_ratios"]):
        s.append(("Speed ratios", "How many times faster the first network runs than the second, measured in the "
                  "same run (the page says Darknet Reference is \"2.9 times faster\" than AlexNet).",
                  t["speed_ratios"]))
    for k in keras_nets:
        s.append((f"Keras parameter arithmetic: {k.name}",
                  f"Keras' own counting, layer by layer: {k.params:,} parameters ({k.trainable:,} trainable, "
                  f"{k.non_trainable:,} non-trainable); the running total shows the inception module's 124,384 "
                  "at the concatenation.", t[f"keras_{k.name}"]))
    if envs:
        s.append(("Environments", "Where each latency column was measured.",
                  pd.DataFrame([dict(column=k, **{f: v.get(f) for f in ("cpu", "cores", "gpu", "driver", "python",
                                                                          "torch", "onnxruntime", "git_commit",
                                                                          "timestamp")}) for k, v in envs.items()])))
    return s


def _markdown(sections, figs, out):
    parts = ["# darkbench report", "", "Generated by `darkbench report`; the data behind every table and figure "
             "is in `data/` (CSV and the raw results JSON).", ""]
    for title, text, df in sections:
        parts += [f"## {title}", "", text, "", _md(df), ""]
    parts += ["## Figures", ""]
    for title, path in figs.items():
        parts += [f"### {title}", "", f"![{title}]({os.path.relpath(path, out)})", ""]
    return "\n".join(parts)


def _html(sections, figs):
    css = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}"
           "table{border-collapse:collapse;font-size:13px;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 6px}"
           "th{background:#f0f0f0}img{max-width:100%;border:1px solid #ddd}")
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>darkbench report</title><style>{css}</style>"
             "</head><body><h1>darkbench report</h1>"]
    for title, text, df in sections:
        parts.append(f"<h2>{html.escape(title)}</h2><p>{html.escape(text)}</p>")
        parts.append(df.to_html(index=False, na_rep="", float_format=lambda v: f"{v:g}") if len(df) else "<p>(no data)</p>")
    parts.append("<h2>Figures</h2>")
    for title, path in figs.items():
        with open(path, "rb") as f:
            b64 = base64.b64encode(f.read()).decode()
        parts.append(f"<h3>{html.escape(title)}</h3><img alt='{html.escape(title)}' src='data:image/png;base64,{b64}'>")
    parts.append("</body></html>")
    return "\n".join(parts)
