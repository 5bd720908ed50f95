"""The report's figures (matplotlib, Agg): each reads a table, never measures."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..bench.traits import NEUTRAL  # noqa: E402
from ..layers import family, trait  # noqa: E402

DPI = 110


def _plain_log(ax, axis="both"):
    """Log axes labelled 0.2, 1, 10 rather than 2x10^-1."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    fmt = FuncFormatter(lambda v, _: f"{v:g}")
    for a in ([ax.xaxis, ax.yaxis] if axis == "both" else [getattr(ax, f"{axis}axis")]):
        a.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        a.set_major_formatter(fmt)
        a.set_minor_formatter(NullFormatter())


def _save(fig):
    """PNG bytes of the figure (the caller writes them atomically)."""
    import io
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    plt.close(fig)
    return buf.getvalue()


def _backend(styles, backend):
    """A backend's Traits (colour, marker, legend note) from `styles` ({backend: Traits}, read from the results);
    neutral for one the results say nothing of."""
    return (styles or {}).get(backend, NEUTRAL)


def _dodge(ax, points, fontsize=8):
    """Label points beside them. Points whose x (log) lie close form a run: the first's label set to the left of its
    point, the last's to the right, any between centred, alternating below and above (a pair both below); a lone
    point's label goes below to the right."""
    pts = sorted(points)
    lx = [np.log10(x) for x, _, _ in pts]
    runs = []
    for i in range(len(pts)):
        if runs and lx[i] - lx[runs[-1][-1]] < 0.06:
            runs[-1].append(i)
        else:
            runs.append([i])
    for run in runs:
        for k, i in enumerate(run):
            x, y, text = pts[i]
            ha = "left" if k == len(run) - 1 else "right" if k == 0 else "center"
            below = k % 2 == 0 or len(run) == 2  # two fit side by side below
            ax.annotate(text, (x, y), textcoords="offset points", xytext=({"left": 6, "right": -6, "center": 0}[ha],
                        -12 if below else 6), ha=ha, fontsize=fontsize)


def accuracy_vs_ops(nets):
    """The page's argument in one picture: accuracy against operations, marker area by weight size."""
    d = nets.dropna(subset=["top1_quoted"])
    if not len(d):
        return None
    fig, ax = plt.subplots(figsize=(8, 5))
    scale = 1500 / max(d["size_mib"].max(), 1e-9)
    area = 30 + scale * d["size_mib"]
    ax.scatter(d["ops_bn"], d["top1_quoted"], s=area, alpha=0.5, color="tab:blue", edgecolor="k", zorder=3)
    if "ops_published_bn" in d:
        pub = d.dropna(subset=["ops_published_bn"])
        ax.scatter(pub["ops_published_bn"], pub["top1_quoted"], s=50, facecolor="none", edgecolor="tab:red",
                   lw=1.5, zorder=4)
        for _, r in pub.iterrows():
            if abs(r["ops_published_bn"] - r["ops_bn"]) > 0.02:
                ax.annotate("", (r["ops_bn"], r["top1_quoted"]), (r["ops_published_bn"], r["top1_quoted"]),
                            arrowprops=dict(arrowstyle="->", color="tab:red", lw=1, ls="--"), zorder=2)
    for (_, r), a in zip(d.iterrows(), area):
        rad = np.sqrt(a / np.pi)
        ax.annotate(f"{r['network']}\n{r['size_mib']:.1f} MiB, {r['ops_bn']:.2f} Bn ops",
                    (r["ops_bn"], r["top1_quoted"]), textcoords="offset points", xytext=(0, rad + 4),
                    ha="center", va="bottom", fontsize=8.5)
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], ls="", marker="o", ms=9, mfc="tab:blue", alpha=0.5, mec="k",
                      label="computed ops (area ∝ .weights size, MiB)"),
               Line2D([], [], ls="", marker="o", ms=7, mfc="none", mec="tab:red", mew=1.5,
                      label="ops published on the page (arrow: to computed)")]
    ax.legend(handles=handles, loc="lower left", fontsize=8)
    ax.set_xlabel("operations per image (darknet ops = 2 per multiply-add, billions)")
    ax.set_ylabel("ImageNet Top-1 (%), quoted from the page")
    ax.set_title("Accuracy vs operations (Top-1 as published, operations computed)")
    ax.set_xlim(0, max(d["ops_bn"].max(), d.get("ops_published_bn", d["ops_bn"]).max()) * 1.2)
    ax.set_ylim(d["top1_quoted"].min() - 2.5, d["top1_quoted"].max() + 2)
    ax.grid(alpha=0.3)
    return _save(fig)


def params_vs_ops(nets):
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.scatter(nets["ops_bn"], nets["params"] / 1e6, s=60, color="tab:green", edgecolor="k", zorder=3)
    for _, r in nets.iterrows():
        ax.annotate(r["network"], (r["ops_bn"], r["params"] / 1e6), textcoords="offset points", xytext=(7, 3),
                    fontsize=9)
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_log(ax)
    ax.set_xlabel("operations per image (darknet ops = 2 per multiply-add, billions, log scale)")
    ax.set_ylabel("parameters (millions, log scale)")
    ax.set_title("Parameters vs operations: few parameters is not the same as few operations")
    ax.grid(alpha=0.3, which="both")
    return _save(fig)


def latency_vs_ops(long, styles=None):
    """One panel per host/device; each backend its colour and marker (styles: {backend: Traits}); model names
    under their points."""
    groups = sorted(long["device"].unique())
    fig, axes = plt.subplots(len(groups), 1, figsize=(9, 4.8 * len(groups)), squeeze=False)
    for ax, g in zip(axes[:, 0], groups):
        d = long[(long["device"] == g) & long["ops"].notna()]
        for (dtype, backend), e in d.groupby(["dtype", "backend"], sort=False):
            t = _backend(styles, backend)
            color, marker = t.color, t.marker
            label = backend if dtype == "fp32" else f"{backend} {dtype}"
            if t.statistic_label:  # not a median: say what it is
                label += f" ({t.statistic_label})"
            ax.plot(e["ops"] / 1e9, e["median_ms"], marker, color=color, label=label, ms=7, alpha=0.8,
                    mfc="none" if dtype != "fp32" else color)
        lowest = d.groupby("model").agg(ops=("ops", "first"), ms=("median_ms", "min"))
        _dodge(ax, [(r.ops / 1e9, r.ms, m) for m, r in lowest.iterrows()])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.margins(x=0.08, y=0.12)
        _plain_log(ax)
        ax.set_xlabel("operations per image (darknet ops, billions, log scale)")
        ax.set_ylabel("latency, batch 1 (median ms, log scale)")
        ax.set_title(g, fontsize=9, loc="left")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, loc="upper left", title="backend", title_fontsize=8)
    fig.suptitle("Latency vs operations, per device and backend", fontsize=12)
    return _save(fig)


KERAS_STYLE = {"Conv2D": ("tab:blue", "o"), "Dense": ("tab:orange", "s")}  # darknet types: their family's


def _style(type):
    """(colour, roofline marker) of a layer type."""
    fam = family(type)
    return (trait(fam, "COLOR"), trait(fam, "MARKER")) if fam else KERAS_STYLE.get(type, ("tab:gray", "o"))


def _color(type):
    return _style(type)[0]


def layer_ops(layers):
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator
    names = list(dict.fromkeys(layers["model"]))
    fig, axes = plt.subplots(len(names), 1, figsize=(9, 0.6 + 1.9 * len(names)), squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        d = layers[layers["model"] == name]
        flops = d["macs"] * 2 / 1e6
        ax.bar(d["index"], flops, color=[_color(t) for t in d["type"]])
        top = d.loc[flops.idxmax()] if flops.max() > 0 else None
        note = f"; largest: layer {top['index']} ({100 * flops.max() / flops.sum():.0f}%)" if top is not None else ""
        ax.set_title(f"{name}: {flops.sum() / 1e3:.2f} billion ops in {len(d)} layers{note}", fontsize=9,
                     loc="left")
        ax.set_ylabel("Mops", fontsize=8)
        ax.set_xlim(-0.7, d["index"].max() + 0.7)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3, axis="y")
    axes[-1, 0].set_xlabel("layer index")
    fig.legend(handles=[Patch(color="tab:blue", label="convolution"), Patch(color="tab:orange",
                        label="fully connected")], loc="upper right", fontsize=8, ncol=2)
    fig.suptitle("Operations per layer (darknet ops = 2 per multiply-add, millions)", fontsize=11, x=0.01,
                 ha="left")
    return _save(fig)


def roofline(rl):
    """One panel per host/device and dtype: each timed layer's throughput against its intensity."""
    keys = list(rl.groupby(["host", "dtype"]).groups)
    fig, axes = plt.subplots(len(keys), 1, figsize=(9, 5 * len(keys)), squeeze=False)
    for ax, (host, dtype) in zip(axes[:, 0], keys):
        d = rl[(rl["host"] == host) & (rl["dtype"] == dtype) & (rl["flops"] > 0) & (rl["gflops"] > 0)]
        for i, (model, e) in enumerate(d.groupby("model")):
            color = f"C{i % 10}"
            fc = e["type"].map(lambda t: _style(t)[1] == "s")
            ax.scatter(e[~fc]["intensity"], e[~fc]["gflops"], s=28, alpha=0.75, color=color, label=model)
            if fc.any():
                ax.scatter(e[fc]["intensity"], e[fc]["gflops"], s=34, alpha=0.75, color=color, marker="s")
        peak = rl[(rl["host"] == host) & (rl["dtype"] == dtype)]["peak_gflops"].dropna()
        if len(peak):
            ax.axhline(peak.iloc[0], ls="--", color="k", lw=1)
            ax.text(0.01, peak.iloc[0], f"measured GEMM peak {peak.iloc[0]:,.0f} GFLOP/s", fontsize=8,
                    va="bottom", transform=ax.get_yaxis_transform())
        ax.set_xscale("log")
        ax.set_yscale("log")
        if len(peak) and len(d):
            ax.set_ylim(min(d["gflops"].min(), peak.iloc[0]) / 1.6, max(d["gflops"].max(), peak.iloc[0]) * 1.6)
        _plain_log(ax)
        ax.set_xlabel("arithmetic intensity (FLOP per byte moved at fp32, log scale)")
        ax.set_ylabel("achieved GFLOP/s (log scale)")
        ax.set_title(f"{host}, {dtype}", fontsize=9, loc="left")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, loc="lower right", title="network", title_fontsize=8)
    fig.suptitle("Per-layer roofline: achieved throughput vs arithmetic intensity (eager, batch 1;\n"
                 "circles: convolutions, squares: fully connected)", fontsize=11)
    return _save(fig)


def throughput_vs_batch(long, styles=None):
    """One panel per network measured at two batch sizes or more: images/s (median, 95% CI bars) against
    batch, one line per host, backend and dtype (styles: {backend: Traits}); the best batch (see
    report/throughput.py) ringed."""
    from .throughput import best_batch
    multi = long.groupby(["model", "host", "dtype", "backend"])["batch"].transform("nunique") > 1
    d = long[multi]
    if not len(d):
        return None
    best = best_batch(d)
    names = list(dict.fromkeys(d["model"]))
    hosts = d["host"].nunique() > 1
    fig, axes = plt.subplots(len(names), 1, figsize=(9, 4.2 * len(names)), squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        for (host, dtype, backend), e in d[d["model"] == name].groupby(["host", "dtype", "backend"], sort=False):
            e = e.sort_values("batch")
            t = _backend(styles, backend)
            color, marker = t.color, t.marker
            label = backend + ("" if dtype == "fp32" else f" {dtype}") + (f" ({host.split(' (')[0]})" if hosts else "")
            lo = (e["images_per_s"] - e["ips_ci95_lo"].fillna(e["images_per_s"])).clip(lower=0)
            hi = (e["ips_ci95_hi"].fillna(e["images_per_s"]) - e["images_per_s"]).clip(lower=0)
            ax.errorbar(e["batch"], e["images_per_s"], yerr=[lo, hi], marker=marker, color=color, label=label,
                        ms=6, capsize=3, ls="-" if dtype == "fp32" else "--", mfc="none" if dtype != "fp32" else color)
            b = best[(best["model"] == name) & (best["host"] == host) & (best["dtype"] == dtype)
                     & (best["backend"] == backend)]
            if len(b):
                y = e[e["batch"] == b["best_batch"].iloc[0]]["images_per_s"]
                ax.plot([b["best_batch"].iloc[0]], y, "o", ms=14, mfc="none", mec=color, mew=1.5)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        from matplotlib.ticker import FuncFormatter
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        _plain_log(ax, "y")
        ax.set_xlabel("batch size (log scale)")
        ax.set_ylabel("images/s (median, 95% CI; log scale)")
        ax.set_title(name, fontsize=10, loc="left")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, loc="best", title="backend (ring: best batch)", title_fontsize=8)
    fig.suptitle("Throughput against batch size", fontsize=12)
    return _save(fig)


def ops_vs_size(table):
    """Analytic operations against the input's side, one line per network (report/sizes.py's table)."""
    d = table.dropna(subset=["ops"]) if len(table) else table
    if not len(d):
        return None
    fig, ax = plt.subplots(figsize=(8, 5))
    for model, e in d.groupby("model", sort=False):
        ax.plot(e["width"], e["ops"] / 1e9, "o-", label=model, ms=5)
    ax.set_yscale("log")
    _plain_log(ax, "y")
    ax.set_xticks(sorted(table["width"].unique()))
    ax.set_xlabel("input size (square, pixels per side)")
    ax.set_ylabel("operations per image (darknet ops, billions, log scale)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper left", title="network", title_fontsize=8)
    refused = table[table["ops"].isna()] if "ops" in table else table.iloc[:0]
    if len(refused):  # say which points are missing and why, not just leave gaps
        ax.text(0.99, 0.01, "not drawn (the network cannot take the size): " + "; ".join(
            f"{m} {', '.join(map(str, e['width']))}" for m, e in refused.groupby("model", sort=False)),
            transform=ax.transAxes, ha="right", va="bottom", fontsize=7, wrap=True)
    fig.suptitle("Operations vs input size (analytic)", fontsize=12)
    return _save(fig)


def latency_vs_size(table, styles=None):
    """Measured latency against input pixels, one panel per host/device, a line per model/backend/dtype (a marker
    per backend, styles: {backend: Traits}); a figure saying how to get one when no results span several sizes."""
    if not len(table):
        fig, ax = plt.subplots(figsize=(8, 4))
        ax.axis("off")
        ax.text(0.5, 0.5, "No results at several input sizes in this report's results.\n"
                "Measure some with:  darkbench bench MODEL --size 320,416,608", ha="center", va="center",
                fontsize=11)
        fig.suptitle("Latency vs input size", fontsize=12)
        return _save(fig)
    groups = sorted(table["device"].unique())
    colors = {m: f"C{i % 10}" for i, m in enumerate(dict.fromkeys(table["model"]))}  # a colour per network
    fig, axes = plt.subplots(len(groups), 1, figsize=(9, 4.8 * len(groups)), squeeze=False)
    for ax, g in zip(axes[:, 0], groups):
        d = table[table["device"] == g]
        for (model, backend, dtype), e in d.groupby(["model", "backend", "dtype"], sort=False):
            marker = _backend(styles, backend).marker
            label = f"{model} {backend}" + ("" if dtype == "fp32" else f" {dtype}")
            ax.plot(e["pixels"], e["median_ms"], marker + "-", color=colors[model], label=label, ms=6, alpha=0.8,
                    mfc="none" if dtype != "fp32" else colors[model])
        ax.set_xscale("log")
        ax.set_yscale("log")
        _plain_log(ax, "y")
        ticks = d.drop_duplicates("pixels").sort_values("pixels")
        ax.set_xticks(ticks["pixels"], [f"{w}x{h}" for w, h in zip(ticks["width"], ticks["height"])], fontsize=8)
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_xlabel("input size (width x height; pixels on a log scale)")
        ax.set_ylabel("latency, batch 1 (median ms, log scale)")
        ax.set_title(g, fontsize=9, loc="left")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle("Latency vs input size, per device", fontsize=12)
    return _save(fig)
