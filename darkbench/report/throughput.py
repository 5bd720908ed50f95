"""Throughput against batch size (read from results, never measured): images/s per batch, and per model,
host, backend and dtype the best batch beside batch 1's latency."""
import pandas as pd

from ..bench.batching import images_per_s
from ..bench.text import ci_text


def _usable(r):
    return r.get("median_ms") and not r.get("error") and not r.get("skipped")


def throughput_long(results, host_label):
    """One row per usable measurement at any batch: images/s and its 95% CI (results from before images/s
    was recorded: computed from batch, median and its CI the same way)."""
    rows = []
    for r in results:
        if not _usable(r):
            continue
        batch = r.get("batch") or 1
        ips, ci = r.get("images_per_s"), r.get("images_per_s_ci95")
        if ips is None:
            ips, ci = images_per_s(batch, r["median_ms"], r.get("ci95_ms"))
        ci = ci or [None, None]
        rows.append(dict(model=r["model"], host=host_label(r), dtype=r.get("dtype"), backend=r["backend"],
                         batch=batch, median_ms=round(r["median_ms"], 3), images_per_s=round(ips, 2),
                         ips_ci95_lo=None if ci[0] is None else round(ci[0], 2),
                         ips_ci95_hi=None if ci[1] is None else round(ci[1], 2), batch_stop=r.get("batch_stop") or ""))
    return pd.DataFrame(rows)


def best_batch(long):
    """Per model/host/dtype/backend measured at two batch sizes or more: the best batch = the smallest batch
    whose images/s CI reaches the highest median's CI (larger batches within the noise buy nothing but
    latency), its images/s beside batch 1's latency and images/s."""
    rows = []
    if not len(long):
        return pd.DataFrame(rows)
    for (model, host, dtype, backend), d in long.groupby(["model", "host", "dtype", "backend"], sort=False):
        if d["batch"].nunique() < 2:
            continue
        d = d.sort_values("batch")
        top = d.loc[d["images_per_s"].idxmax()]
        floor = top["ips_ci95_lo"] if pd.notna(top["ips_ci95_lo"]) else top["images_per_s"]
        reach = d["ips_ci95_hi"].fillna(d["images_per_s"])
        best = d[reach >= floor].iloc[0]
        one = d[d["batch"] == 1]
        b1 = one.iloc[0] if len(one) else None
        ci = ci_text([best["ips_ci95_lo"], best["ips_ci95_hi"]] if pd.notna(best["ips_ci95_lo"]) else None, ".1f")
        rows.append(dict(model=model, host=host, dtype=dtype, backend=backend,
                         latency_b1_ms=None if b1 is None else b1["median_ms"],
                         images_per_s_b1=None if b1 is None else b1["images_per_s"],
                         best_batch=int(best["batch"]), images_per_s_best=best["images_per_s"], ips_ci95=ci,
                         times_b1=None if b1 is None else round(best["images_per_s"] / b1["images_per_s"], 2),
                         batches=",".join(str(int(b)) for b in d["batch"]),
                         stopped=d["batch_stop"].iloc[-1]))
    return pd.DataFrame(rows)
