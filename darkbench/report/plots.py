"""The report's figures (matplotlib, Agg): each reads a table, never measures."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

DPI = 110


def _plain_log(ax, axis="both"):
    """Log axes labelled 0.2, 1, 10 rather than 2x10^-1."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    fmt = FuncFormatter(lambda v, _: f"{v:g}")
    for a in ([ax.xaxis, ax.yaxis] if axis == "both" else [getattr(ax, f"{axis}axis")]):
        a.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        a.set_major_formatter(fmt)
        a.set_minor_formatter(NullFormatter())


def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def accuracy_vs_ops(nets, path):
    """The page's argument in one picture: accuracy against operations, marker area by weight size."""
    d = nets.dropna(subset=["top1_quoted"])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    sizes = 40 + 1500 * d["size_mib"] / d["size_mib"].max()
    ax.scatter(d["ops_bn"], d["top1_quoted"], s=sizes, alpha=0.5, color="tab:blue", edgecolor="k")
    for _, r in d.iterrows():
        ax.annotate(f"{r['network']}\n{r['size_mib']:.1f} MiB", (r["ops_bn"], r["top1_quoted"]),
                    textcoords="offset points", xytext=(8, 6), fontsize=9)
    ax.set_xlabel("operations per image (darknet ops, billions) — computed")
    ax.set_ylabel("ImageNet Top-1 (%) — quoted from the page")
    ax.set_title("Accuracy vs operations (marker area ∝ weights size)")
    ax.set_xlim(0, d["ops_bn"].max() * 1.35)
    ax.set_ylim(d["top1_quoted"].min() - 2, d["top1_quoted"].max() + 2)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def params_vs_ops(nets, path):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter(nets["ops_bn"], nets["params"] / 1e6, s=60, color="tab:green", edgecolor="k")
    for _, r in nets.iterrows():
        ax.annotate(r["network"], (r["ops_bn"], r["params"] / 1e6), textcoords="offset points", xytext=(6, 4),
                    fontsize=9)
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_log(ax)
    ax.set_xlabel("operations per image (billions, log)")
    ax.set_ylabel("parameters (millions, log)")
    ax.set_title("Parameters vs operations: small is not the same as fast")
    ax.grid(alpha=0.3, which="both")
    return _save(fig, path)


def latency_vs_ops(nets, latency, path):
    fig, ax = plt.subplots(figsize=(8, 5))
    ops = dict(zip(nets["model"], nets["ops_bn"]))
    markers = "osD^v<>ph*"
    for i, col in enumerate(latency.columns):
        s = latency[col].dropna()
        xs = [ops[m] for m in s.index if m in ops]
        ys = [s[m] for m in s.index if m in ops]
        ax.plot(xs, ys, markers[i % len(markers)], label=col, markersize=7, alpha=0.8)
    for m, x in ops.items():
        if m in latency.index:
            ax.annotate(m, (x, latency.loc[m].min()), textcoords="offset points", xytext=(4, -12), fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_log(ax)
    ax.set_xlabel("operations per image (billions, log)")
    ax.set_ylabel("median latency, batch 1 (ms, log)")
    ax.set_title("Latency vs operations, per device and backend")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="upper left")
    return _save(fig, path)


def layer_ops(layers, path):
    names = list(dict.fromkeys(layers["model"]))
    fig, axes = plt.subplots(len(names), 1, figsize=(9, 1.9 * len(names)), squeeze=False)
    colors = {"convolutional": "tab:blue", "connected": "tab:orange", "Conv2D": "tab:blue", "Dense": "tab:orange"}
    for ax, name in zip(axes[:, 0], names):
        d = layers[layers["model"] == name]
        flops = d["macs"] * 2 / 1e6
        ax.bar(d["index"], flops, color=[colors.get(t, "tab:gray") for t in d["type"]])
        ax.set_title(f"{name}: {flops.sum() / 1e3:.2f} GFLOP (2 per MAC)", fontsize=9, loc="left")
        ax.set_ylabel("MFLOP", fontsize=8)
        from matplotlib.ticker import MaxNLocator
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=7)
    axes[-1, 0].set_xlabel("layer index (blue: convolution, orange: fully connected, grey: other)")
    return _save(fig, path)


def roofline(rl, path):
    fig, ax = plt.subplots(figsize=(8, 5))
    for (model, host), d in rl.groupby(["model", "host"]):
        d = d[(d["flops"] > 0) & (d["gflops"] > 0)]
        if len(d):
            ax.scatter(d["intensity"], d["gflops"], s=25, alpha=0.7, label=f"{model} — {host}")
    for host, d in rl.groupby("host"):
        peak = d["peak_gflops"].dropna()
        if len(peak):
            ax.axhline(peak.iloc[0], ls="--", color="k", lw=1)
            ax.text(0.01, peak.iloc[0], f" measured GEMM peak {peak.iloc[0]:.0f} GFLOP/s ({host})", fontsize=7,
                    va="bottom", transform=ax.get_yaxis_transform())
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_log(ax)
    ax.set_xlabel("arithmetic intensity (FLOP per byte moved at fp32, log)")
    ax.set_ylabel("achieved GFLOP/s (log)")
    ax.set_title("Per-layer roofline: achieved throughput vs intensity")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    return _save(fig, path)
