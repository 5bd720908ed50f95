"""Speed against accuracy (results read, never measured): one point per network × backend × dtype that has an
accuracy, its median latency at batch 1 against that accuracy with its CI, and the Pareto front of each network
on each host with the same weights (no other entry at least as fast and at least as accurate, and better in one)."""
import pandas as pd

from ..bench import traits
from ..bench.dtypes import NAMES
from ..bench.tolerance import TEXT as TOLERANCE
from ..bench.tolerance import AGREEMENT_MIN, accuracy
from . import plots
from .checks import flag

TEXT = ("Each network's entries (backend × dtype, batch 1) that have an accuracy, with their median latency and "
        "images/s: the accuracy is `bench --data`'s where an entry has it (its metric, against labels or fp32's "
        "answers, on which data: accuracy of), else the detections' agreement mAP@0.5 against fp32 eager's on "
        "darknet's sample images, each with its bootstrap 95% CI over the images. Pareto front: no other entry of "
        "the same network, host and weights is at least as fast and at least as accurate, and better in one "
        "(medians and point values; the CIs say how far to trust the ordering). " + TOLERANCE)
HEADERS = {"accuracy": "accuracy", "accuracy_lo": "accuracy 95% CI low", "accuracy_hi": "accuracy 95% CI high",
           "accuracy_of": "accuracy of", "pareto": "on the Pareto front", "images_per_s": "images/s"}


def pareto(points):
    """Of (ms, accuracy) pairs, which lie on the front: no other point at least as fast and at least as accurate,
    and strictly better in one (equal points are both on it)."""
    return [not any(m <= ms and a >= acc and (m < ms or a > acc) for m, a in points) for ms, acc in points]


def table(results, host_label):
    """One row per measured batch-1 entry with an accuracy (detection pipelines apart), by network, host, weights,
    backend (its traits' order) and dtype; `pareto` within each network, host and weights."""
    rows = []
    for r in results:
        if (not r.get("median_ms") or r.get("error") or r.get("skipped") or (r.get("batch") or 1) != 1
                or r.get("pipeline_images") is not None):
            continue
        got = accuracy(r)
        if got is None:
            continue
        value, ci, what = got
        rows.append(dict(model=r["model"], host=host_label(r), dtype=r.get("dtype"), backend=r["backend"],
                         median_ms=round(r["median_ms"], 3), outputs=flag(r),
                         images_per_s=round(r["images_per_s"], 2) if r.get("images_per_s") else None,
                         accuracy=round(value, 4), accuracy_lo=round(ci[0], 4) if ci else None,
                         accuracy_hi=round(ci[1], 4) if ci else None, accuracy_of=what, weights=r.get("weights") or "",
                         _order=traits.of(r).order, _dtype=NAMES.index(r["dtype"]) if r.get("dtype") in NAMES
                         else len(NAMES)))
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame(rows).sort_values(["model", "host", "weights", "_order", "backend", "_dtype"], kind="stable")
    df = df.drop(columns=["_order", "_dtype"]).reset_index(drop=True)
    front = pd.Series(False, index=df.index)
    for _, g in df.groupby(["model", "host", "weights"], sort=False):
        front[g.index] = pareto(list(zip(g["median_ms"], g["accuracy"])))
    return df.assign(pareto=front.map({True: "yes", False: ""}))


def figure(df, styles=None):
    """One panel per network and host: latency (log) against accuracy with its CI as error bars, each backend its
    traits' colour and marker (filled for fp32, open otherwise), the dtype beside each point, the Pareto front
    ringed and joined. PNG bytes, or None without rows."""
    if df is None or not len(df):
        return None
    plt = plots.plt
    groups = list(df.groupby(["model", "host", "weights"], sort=False))
    fig, axes = plt.subplots(len(groups), 1, figsize=(9, 5 * len(groups)), squeeze=False)
    for ax, ((model, host, weights), g) in zip(axes[:, 0], groups):
        for backend, e in g.groupby("backend", sort=False):
            t = plots._backend(styles, backend)
            for _, r in e.iterrows():
                err = None
                if pd.notna(r["accuracy_lo"]):
                    err = [[max(r["accuracy"] - r["accuracy_lo"], 0)], [max(r["accuracy_hi"] - r["accuracy"], 0)]]
                ax.errorbar(r["median_ms"], r["accuracy"], yerr=err, fmt=t.marker, color=t.color, ms=8, capsize=3,
                            mfc=t.color if r["dtype"] == "fp32" else "none", alpha=0.85, zorder=3,
                            label=backend if r["dtype"] == e["dtype"].iloc[0] else None)
        front = g[g["pareto"] == "yes"].sort_values("median_ms")
        ax.plot(front["median_ms"], front["accuracy"], "-", drawstyle="steps-post", color="k", lw=1, alpha=0.6,
                zorder=2, label="Pareto front")
        ax.scatter(front["median_ms"], front["accuracy"], s=260, facecolor="none", edgecolor="k", lw=1.2, zorder=4)
        plots._dodge(ax, [(r.median_ms, r.accuracy, r.dtype) for r in g.itertuples()])
        ax.set_xscale("log")
        plots._plain_log(ax, "x")
        ax.margins(x=0.12)
        lo, hi = g["accuracy_lo"].fillna(g["accuracy"]).min(), g["accuracy_hi"].fillna(g["accuracy"]).max()
        if not g["accuracy_of"].str.contains(" vs labels").any():  # agreement with fp32: its tolerance drawn
            ax.axhline(AGREEMENT_MIN, color="tab:red", ls="--", lw=1, label=f"tolerance ({AGREEMENT_MIN:g})")
            lo = min(lo, AGREEMENT_MIN)
        pad = max(hi - lo, 0.05) * 0.15
        ax.set_ylim(lo - pad, hi + pad if hi > 1 else min(hi + pad, 1 + pad * 0.6))  # accuracies end at 1
        whats = g["accuracy_of"].unique()
        ax.set_ylabel(whats[0] if len(whats) == 1 else "accuracy (per point: see the table's 'accuracy of')",
                      fontsize=9)
        ax.set_xlabel("latency, batch 1 (median ms, log scale); open markers: reduced precision")
        ax.set_title(f"{model} on {host}" + (f"; weights {weights}" if weights else ""), fontsize=9, loc="left")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, loc="lower right", title="backend", title_fontsize=8)
    fig.suptitle("Speed against accuracy, per backend and dtype (Pareto front ringed)", fontsize=12)
    return plots._save(fig)
