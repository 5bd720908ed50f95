"""Write reports/: report.md, a self-contained index.html, the figures and the CSV behind each."""
import base64
import dataclasses
import html
import os
from typing import Callable

import pandas as pd

from .. import published
from . import checks, data, pipeline, plots, sizes, speed_accuracy, throughput
from .files import Out

# column headers as shown (CSV files keep the short names); each states its convention
HEADERS = {
    "network": "network", "model": "model", "file": "file", "input": "input (WxHxC)", "layers": "layers",
    "params": "params (count)", "size_mib": "size (MiB, weights file)", "ops": "ops (darknet, 2 per MAC)",
    "ops_bn": "ops (Bn, darknet)", "macs": "MACs", "top1_quoted": "Top-1 % (quoted)",
    "top5_quoted": "Top-5 % (quoted)", "ops_published_bn": "ops published (Bn)",
    "size_published_mb": "size published (MB)", "comparison": "A vs B", "host": "measured on",
    "dtype": "dtype", "backend": "backend", "times_faster": "times faster (median B / median A)",
    "ci95": "95% CI (bootstrap)", "times_fewer_ops": "times fewer ops (ops B / ops A)",
    "device": "measured on", "status": "status", "reason": "reason", "batch": "batch",
    "published_text": "published (as written)", "computed_text": "computed", "verdict": "verdict",
    "holds_at": "would hold at input", "note": "note", "claim": "claim",
    "layer": "#", "name": "name", "type": "type", "output": "output (H, W, C)", "formula": "formula",
    "running_total": "running total", "column": "column group",
    "latency_b1_ms": "latency, batch 1 (median ms)", "images_per_s_b1": "images/s, batch 1",
    "best_batch": "best batch", "images_per_s_best": "images/s at best batch", "ips_ci95": "95% CI (images/s)",
    "times_b1": "x batch 1's images/s", "batches": "batches measured", "stopped": "why no larger batch (auto)",
    "median_ms": "median ms", "rel_l2": "rel L2 vs darkbench fp32", "max_abs": "max abs diff",
    "top1_agree": "same top-1 (fraction)", "top5_agree": "same top-5 (fraction)", "outputs": "outputs",
    "compared": "compared on", "peak_rss_mib": "peak RSS MiB (measured)", "prepare_rss_mib": "preparing: peak MiB",
    "rss_base_mib": "process before (MiB)", "gpu_peak_mib": "GPU peak MiB", "estimated_mib": "estimated MiB (analytic)",
    "measured_per_estimated": "measured / estimated", "measured_as": "measured as",
    "speedup": "x own fp32 [95% CI]", "model_mib": "model file MiB", "fp32_model_mib": "fp32 model file MiB",
    "at_dtype": "convolutions at the dtype (ran / all)", "kept_fp32": "kept in fp32 (why)",
    "calibration": "calibrated on", "map50": "detections: mAP@0.5 vs fp32 eager's [95% CI]",
}
MEASURED = ("Columns grouped by where they were measured (host, device, CPU or GPU, torch version; see Environments), "
            "then dtype and backend.")
HEADERS.update(pipeline.HEADERS)
HEADERS.update(speed_accuracy.HEADERS)
HEADERS.update(accuracy_text="accuracy [95% CI] (of what)")


def _measured(t):
    """MEASURED, and what each figure is: medians, but for backends whose results say otherwise (traits)."""
    notes = list(dict.fromkeys(tr.statistic_note for b, tr in _ordered(t.traits).items()
                               if tr.statistic != "median" and b in set(t["latency_runs"]["backend"])))
    if not notes:
        return f"{MEASURED} All are medians of interleaved runs."
    return f"{MEASURED} {'; '.join(notes)}; all others are medians of interleaved runs."


def _ordered(traits):
    return dict(sorted(traits.items(), key=lambda kv: (kv[1].order, kv[0])))


def _display(df):
    if isinstance(df.columns, pd.MultiIndex):
        return df.rename(columns=lambda c: HEADERS.get(c, c), level=1)
    return df.rename(columns=lambda c: HEADERS.get(c, c))


def _cells(df):
    """Numbers as plain text (no exponent, no nan) for markdown and HTML."""
    def one(v):
        if v is None or (isinstance(v, float) and v != v):
            return ""
        if isinstance(v, float):
            return f"{v:.0f}" if v.is_integer() and abs(v) >= 1e4 else f"{v:.6g}"
        return str(v)
    return df.apply(lambda col: col.map(one)) if len(df) else df


def _md(df):
    if df is None or not len(df):
        return "_(no data)_"
    align = ["right" if pd.api.types.is_numeric_dtype(dt) else "left" for dt in df.dtypes]
    return _cells(_display(df)).to_markdown(index=False, disable_numparse=True, colalign=align)


def _md_grouped(df):
    """A table with two header rows as one markdown table per column group (markdown has one header row)."""
    if not isinstance(df.columns, pd.MultiIndex):
        return _md(df)
    groups = list(dict.fromkeys(g for g, _ in df.columns))
    lead = df["computed"][["network", "ops_bn"]] if "computed" in groups else df.iloc[:, :0]
    parts = []
    for g in groups:
        if g == "computed":
            continue
        body = pd.concat([lead, df[g]], axis=1).reset_index() if len(lead.columns) else df[g].reset_index()
        parts += [f"**{g}**", "", _md(body), ""]
    return "\n".join(parts) if parts else _md(df.reset_index())


@dataclasses.dataclass(frozen=True)
class Section:
    """One table of the report, declared once: written as data/KEY.csv (csv, when it has rows; index: with its
    index), and with a title a section of report.md and index.html, shown when `when(tables)` (default: when
    its table has rows), with its text (or text(tables)) and show(table) of the table (default: all of it)."""
    key: str
    table: Callable  # (Tables) -> DataFrame
    title: str | None = None
    text: object = ""
    show: Callable | None = None
    when: Callable | None = None
    csv: bool = True
    index: bool = False


class Tables(dict):
    """The report's tables by key, each built when first asked for, and what they are built from: the analysed
    networks, the results (one input size per model and, where trained weights ran too, the random weights' run;
    `weighted`: both; `swept`: every size) and the backends' traits as the results give them."""

    def __init__(self, sections, nets, swept):
        super().__init__()
        self.builders = {s.key: s.table for s in sections}
        self.nets, self.swept = nets, swept
        self.traits = data.backend_traits(swept)
        self._published = None
        self.weighted = data.one_size(swept, self["networks"])  # the tables: one input size per model
        self.results = data.random_first(self.weighted)  # and one set of weights, but where weights are the point

    def __missing__(self, key):
        value = self[key] = self.builders[key](self)
        return value

    def published(self):
        """(the Tiny Darknet table, every published claim), computed once."""
        if self._published is None:
            self._published = data.published_table()
        return self._published

    def order(self):
        return {b: tr.order for b, tr in self.traits.items()}


def _gflops(t):
    gf = data.pivot(t["latency_runs"], "gflops", t.order())
    return gf.loc[[m for m in t["comparison"].index if m in gf.index]] if len(gf) else gf


def _measured_any(t):
    return len(t["latency_runs"]) > 0


CONVENTIONS = ("Ops: darknet's count, 2 per multiply-add, convolutional/connected layers only (no bias, batch norm, "
               "activation or pooling); for Keras models 2 x MACs of Conv/Dense layers. MACs: multiply-adds of "
               "the same layers. Size: bytes of the darknet .weights file / 2^20 (MiB, the page's \"MB\"); Keras: "
               "fp32 bytes of all weights. Params: learned values, without darknet's batch-norm running statistics "
               "(Keras: count_params, moving statistics included). Top-1/Top-5 are quoted from the Tiny Darknet "
               "page, not measured.")

# every table and section of the report, sections in the order they appear (Keras models' after these)
SECTIONS = (
    Section("published", lambda t: t.published()[0], "Published figures (Tiny Darknet page) beside computed ones",
            "Top-1/Top-5 are quoted from the page, not measured. Ops and size are computed from the cfg; the "
            "verdicts come from `darkbench verify` (a known discrepancy is explained under Every published claim).",
            when=lambda t: True),
    Section("claims", lambda t: t.published()[1], "Every published claim",
            "Each figure the source documents state, as written, beside the computed value.",
            show=lambda df: df[["claim", "network", "published_text", "computed_text", "verdict", "holds_at", "note"]],
            when=lambda t: True),
    Section("networks", lambda t: data.network_table(t.nets), "Networks", CONVENTIONS,
            show=lambda df: df.drop(columns=["ops_published_bn", "size_published_mb"]), when=lambda t: True),
    Section("latency_runs", lambda t: data.latency_long(t.results, t["networks"])),
    Section("comparison", lambda t: data.comparison_table(t["networks"], data.pivot(t["latency_runs"],
                                                                                    order=t.order())),
            "Comparison: computed figures and measured latency (ms, batch 1)", _measured, when=_measured_any),
    Section("gflops", _gflops, "Achieved throughput (GFLOP/s = darknet ops / latency)", "How much of each network's "
            "arithmetic each backend gets done per second; low figures mean time goes to memory traffic "
            "and overheads, not arithmetic.", when=_measured_any, index=True),
    Section("speed_ratios", lambda t: data.speed_ratios(t.results, t["networks"]), "Speed ratios",
            "How many times faster network A runs than network B, measured in the same run, beside how many times "
            "fewer operations it has. The page says Darknet Reference is \"2.9 times faster\" than AlexNet."),
    Section("throughput", lambda t: throughput.throughput_long(t.results, data.host_label)),
    Section("best_batch", lambda t: throughput.best_batch(t["throughput"]),
            "Throughput at the best batch, beside latency at batch 1",
            "Two questions answered apart: how long one image takes (batch 1, median) and how many images per "
            "second a batch gets through. Best batch: the smallest batch whose images/s 95% CI reaches the "
            "highest median's (a larger batch within the noise only adds latency). `bench --batch 1,2,4` measures "
            "the batch sizes interleaved in the same rounds; `bench --batch auto` doubles the batch while "
            "images/s rises beyond the noise and the analytic memory estimate fits, a batch per group."),
    Section("agreement", lambda t: checks.agreement_table(t.results, data.host_label),
            "Agreement: outputs beside speed",
            lambda t: "How far each backend and dtype's outputs are from darkbench's darknet-exact fp32 eager model "
            "(the same weights, the same inputs), checked once per model/backend/dtype: relative L2 over all "
            "outputs, the largest absolute difference, and for classifiers the fraction of inputs with the "
            f"same top-1 / top-5. Flagged DISAGREES beyond relative L2 {checks.tolerances(t.results)} (by dtype); "
            "a fast wrong answer is not a result." + checks.detections_text(t.results)),
    Section("precision", lambda t: checks.precision_table(t.weighted, data.host_label),
            "Reduced precision: speed-up over fp32, accuracy, size and what ran", checks.PRECISION_TEXT),
    Section("speed_accuracy", lambda t: speed_accuracy.table(t.weighted, data.host_label),
            "Speed against accuracy", speed_accuracy.TEXT),
    Section("memory", lambda t: checks.memory_table(t.results, data.host_label),
            "Memory: measured beside the analytic estimate",
            "Peak resident memory each entry added to the benchmarking process while running (its high-water "
            "mark, reset before each entry, minus the resident size before it; library code is loaded "
            "beforehand and not counted), its peak while preparing (compiling, exporting), and darknet's own "
            "process's peak; beside the analytic estimate at that batch (darkbench.footprint: the liveness peak of fp32 "
            "activations plus the parameters held; for darknet its own footprint, which leaves out the ~80 MiB "
            "its process and libraries take)."),
    Section("pipeline", lambda t: pipeline.pipeline_table(t.results, data.host_label),
            "Detection pipeline: stages, end to end and cold start", pipeline.TEXT),
    Section("not_measured", lambda t: data.not_measured(t.results), "Not measured",
            "Benchmark entries that hold no latency, and why."),
    Section("layers", lambda t: data.layer_table(t.nets)),
    Section("ops_by_size", lambda t: sizes.ops_by_size(t.nets)),
    Section("latency_by_size", lambda t: sizes.latency_by_size(t.swept)),
    Section("roofline", lambda t: data.roofline_table(t.results)),
)


def _keras_sections(nets):
    return [Section(f"keras_{k.name}", lambda t, k=k: data.keras_table(k), f"Keras parameter arithmetic: {k.name}",
                    f"Keras' own counting, layer by layer (params = (kh*kw*C_in + 1)*filters for Conv2D, "
                    f"(inputs + 1)*outputs for Dense): {k.params:,} parameters in all ({k.trainable:,} trainable, "
                    f"{k.non_trainable:,} non-trainable), {k.ops / 1e9:.3f} Bn ops. The running total reaches the "
                    "inception module's figure at the concatenation.") for k in nets if k.kind == "keras"]


ENVIRONMENTS = Section("environments", lambda t: _environments(t), "Environments",
                       "Where each column group was measured (the newest run's environment).",
                       when=lambda t: bool(data.environments(t.results)), csv=False)
ENV_FIELDS = ("cpu", "cores", "threads", "gpu", "driver", "python", "torch")  # then the backends' library versions
ENV_AFTER = ("cudnn_benchmark", "tf32", "cpu_fp32_math", "rss_method", "git_commit", "timestamp")


def _environments(t):
    versions = [k for tr in _ordered(t.traits).values() for k in tr.versions]
    fields = list(dict.fromkeys((*ENV_FIELDS, *versions, *ENV_AFTER)))
    return pd.DataFrame([dict(column=k, hostname=v.get("host"), **{f: v.get(f) for f in fields})
                         for k, v in data.environments(t.results).items()])


def _sections(nets):
    """Every declared section, the Keras models' and the environments last."""
    return [*SECTIONS, *_keras_sections(nets), ENVIRONMENTS]


# figures: title, file, draw(tables) -> PNG bytes or None (nothing to draw), its data, caption; when(tables)
FIGURES = (
    ("Accuracy vs operations", "accuracy_vs_ops", lambda t: plots.accuracy_vs_ops(t["networks"]), "networks",
     "Top-1 quoted from the Tiny Darknet page against computed operations; marker area proportional to the "
     ".weights file size; red rings mark the ops the page published.", None),
    ("Parameters vs operations", "params_vs_ops", lambda t: plots.params_vs_ops(t["networks"]), "networks",
     "Every analysed network's parameter count against its operations (log scales).", None),
    ("Latency vs operations", "latency_vs_ops", lambda t: plots.latency_vs_ops(t["latency_runs"], t.traits),
     "latency_runs", "Measured batch-1 latency against operations, one panel per host/device, one colour per "
     "backend.", _measured_any),
    ("Operations per layer", "layer_ops", lambda t: plots.layer_ops(t["layers"]), "layers",
     "Where each network spends its operations, layer by layer.", None),
    ("Operations vs input size", "ops_vs_size", lambda t: plots.ops_vs_size(t["ops_by_size"]), "ops_by_size",
     "Analytic operations of each network at square input sizes "
     f"{', '.join(map(str, sizes.SIZES))}; a size a network cannot take is left out of its line.", None),
    ("Latency vs input size", "latency_vs_size", lambda t: plots.latency_vs_size(t["latency_by_size"], t.traits),
     "latency_by_size", "Measured batch-1 latency of the results taken at several input sizes "
     "(`darkbench bench --size`), one panel per host/device.", None),
    ("Per-layer roofline", "roofline", lambda t: plots.roofline(t["roofline"]), "roofline",
     "Each timed layer's achieved GFLOP/s against its arithmetic intensity, under the GEMM peak measured on the "
     "same device.", lambda t: len(t["roofline"]) > 0),
    ("Throughput against batch size", "throughput_vs_batch",
     lambda t: plots.throughput_vs_batch(t["throughput"], t.traits), "throughput",
     "Images per second (batch / median latency, with the median's 95% CI mapped the same way) against "
     "batch size, per network, backend and dtype; the ring marks the best batch (the smallest whose CI "
     "reaches the highest median's).", lambda t: len(t["best_batch"]) > 0),
    ("Speed against accuracy", "speed_accuracy", lambda t: speed_accuracy.figure(t["speed_accuracy"], t.traits),
     "speed_accuracy", "Median batch-1 latency against each entry's accuracy (the axis says which: bench --data's, "
     "else the detections' agreement mAP@0.5 against fp32 eager's on darknet's sample images) with its 95% CI, one "
     "point per network × backend × dtype, its backend's colour and marker (open: a reduced precision), the Pareto "
     "front ringed and joined; dashed, the agreement tolerance below which an entry is flagged LOSES ACCURACY.",
     lambda t: len(t["speed_accuracy"]) > 0),
)


def build(out, model_names=None, result_paths=None, log=print, force=False):
    o = Out(out, force)
    o.check("report.md", "index.html")  # a report of the user's own in --out: refused before any work
    # the defaults are the project's own files, not same-named ones in the current directory
    names = model_names or [published.cfg_path(n) for n in data.DEFAULT_MODELS]
    log("analysing networks")
    nets = data.networks(names)
    rows, files = data.load_results(result_paths)
    swept, superseded = data.latest(rows)
    declared = _sections(nets)
    t = Tables(declared, nets, swept)
    csvs = [s for s in declared if s.csv]
    for s in csvs:
        df = t[s.key]
        if len(df):
            o.write(f"data/{s.key}.csv", data.flat(df).to_csv(index=isinstance(df.columns, pd.MultiIndex) or s.index))
    for f in files:  # the raw results travel with the report
        o.copy(f, o.unique(f"data/{os.path.basename(f)}"))
    log("drawing figures")
    figs = {}
    for title, name, draw, source, what, when in FIGURES:
        png = draw(t) if when is None or when(t) else None
        if png is None:  # nothing to draw (e.g. no network with published accuracy among --models)
            continue
        rel = f"figures/{name}.png"
        o.write(rel, png)
        figs[title] = (rel, f"{what} Data: data/{source}.csv.", png)
    notes = _notes(rows, t.results, superseded, files)
    sections = [(s.title, s.text(t) if callable(s.text) else s.text, (s.show or (lambda df: df))(t[s.key]))
                for s in declared if s.title and (s.when(t) if s.when else len(t[s.key]) > 0)]
    o.write("report.md", _markdown(sections, figs, notes))
    o.write("index.html", _html(sections, figs, notes))
    o.finish()
    log(f"wrote {out}/report.md, {out}/index.html, {len(figs)} figures, {len(csvs)} tables")
    return dict(t), figs


def _notes(rows, results, superseded, files):
    notes = [f"Results read from {len(files)} file(s): {len(rows)} measurement(s)." if files else
             "No benchmark results given (--results): analysis only; `darkbench bench --out DIR` measures."]
    if superseded:
        notes.append(f"{superseded} older measurement(s) of the same model/device/dtype/backend were superseded "
                     "by the newest run's.")
    other = [r for r in results if r.get("median_ms") and r.get("batch", 1) != 1]
    if other:
        notes.append(f"{len(other)} measurement(s) at batch sizes other than 1 are in Throughput against batch size "
                     "(data/throughput.csv), not in the latency tables (batch 1).")
    wrong = checks.disagreeing(results)
    if wrong:
        which = "; ".join(sorted({f"{r['model']} {r['backend']} {r.get('dtype')} ({checks.disagrees(r)})"
                                  for r in wrong}))
        notes.append(f"{len(wrong)} measurement(s) come from outputs that disagree with darkbench's darknet-exact "
                     f"fp32 beyond the tolerance (a fast wrong answer is not a result; see Agreement): {which}.")
    lost = checks.inaccurate(results)
    if lost:
        which = "; ".join(sorted({f"{r['model']} {r['backend']} {r.get('dtype')}" for r in lost}))
        notes.append(f"{len(lost)} measurement(s) lose accuracy beyond the tolerance of fp32 (LOSES ACCURACY; see "
                     f"Speed against accuracy): {which}.")
    stale = {}
    for r in data.stale(results):
        stale.setdefault(r["path"], []).append(r)
    for path, rs in stale.items():
        where = ", ".join(sorted({data.host_label(r) for r in rs}))
        notes.append(f"{len(rs)} result(s) of {path} were measured from a different version of that file than the "
                     f"one analysed here (model_sha256 differs): {where}.")
    return notes


def _anchor(title):
    return "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")


def _markdown(sections, figs, notes):
    parts = ["# darkbench report", "", "Generated by `darkbench report`, which reads analysis and benchmark results "
             "and never measures. The data behind every table and figure is in `data/` (CSV, short column names) "
             "with the raw results JSON.", ""]
    parts += [f"- {n}" for n in notes] + [""]
    for title, text, df in sections:
        parts += [f"## {title}", "", text, "", _md_grouped(df), ""]
    parts += ["## Figures", ""]
    for title, (rel, caption, _) in figs.items():
        parts += [f"### {title}", "", f"![{title}]({rel})", "", caption, ""]
    return "\n".join(parts)


def _html_table(df):
    """A plain HTML table: numbers right-aligned, two header rows (with spans) for grouped columns."""
    if not len(df):
        return "<p>(no data)</p>"
    e = html.escape
    grouped = isinstance(df.columns, pd.MultiIndex)
    if grouped:
        df = df.reset_index()
    num = [pd.api.types.is_numeric_dtype(dt) for dt in df.dtypes]
    shown = _cells(_display(df))
    head = []
    if grouped:
        row, cols = [], list(shown.columns)
        i = 0
        while i < len(cols):
            if not cols[i][1]:  # the index column: one cell over both header rows
                row.append(f"<th rowspan='2'>{e(str(cols[i][0]))}</th>")
                i += 1
                continue
            j = i
            while j + 1 < len(cols) and cols[j + 1][0] == cols[i][0]:
                j += 1
            row.append(f"<th colspan='{j - i + 1}'>{e(str(cols[i][0]))}</th>")
            i = j + 1
        head.append("<tr>" + "".join(row) + "</tr>")
        names = [c[1] for c in cols if c[1]]
    else:
        names = list(shown.columns)
    head.append("<tr>" + "".join(f"<th>{e(str(n))}</th>" for n in names) + "</tr>")
    body = ["<tr>" + "".join(f"<td class='n'>{e(v)}</td>" if n else f"<td>{e(v)}</td>" for v, n in zip(r, num))
            + "</tr>" for r in shown.itertuples(index=False)]
    return f"<table><thead>{''.join(head)}</thead><tbody>{''.join(body)}</tbody></table>"


def _html(sections, figs, notes):
    css = ("body{font-family:system-ui,sans-serif;max-width:1300px;margin:2em auto;padding:0 1em;color:#222}"
           "table{border-collapse:collapse;font-size:13px;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 6px}"
           "td.n{text-align:right}th{background:#f0f0f0}img{max-width:100%;border:1px solid #ddd}"
           ".cap{color:#555;font-size:13px}nav a{margin-right:1em}.wide{overflow-x:auto}")
    titles = [t for t, _, _ in sections] + ["Figures"]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>darkbench report</title><style>{css}</style>"
             "</head><body><h1>darkbench report</h1>",
             "<nav>" + "".join(f"<a href='#{_anchor(t)}'>{html.escape(t)}</a>" for t in titles) + "</nav>",
             "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>"]
    for title, text, df in sections:
        parts.append(f"<h2 id='{_anchor(title)}'>{html.escape(title)}</h2><p>{html.escape(text)}</p>")
        parts.append(f"<div class='wide'>{_html_table(df)}</div>")
    parts.append("<h2 id='figures'>Figures</h2>")
    for title, (rel, caption, png) in figs.items():
        b64 = base64.b64encode(png).decode()
        parts.append(f"<h3>{html.escape(title)}</h3><img alt='{html.escape(title)}' "
                     f"src='data:image/png;base64,{b64}'><p class='cap'>{html.escape(caption)}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
