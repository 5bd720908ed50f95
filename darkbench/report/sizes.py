"""The report's resolution sweeps: analytic operations over a fixed list of input sizes (computed here, from the
report's networks), and measured latency over the sizes results were taken at (`darkbench bench --size`)."""
import pandas as pd

from .. import models
from ..errors import DarkbenchError
from ..footprint import footprint
from .data import _ok, host_label

SIZES = (128, 224, 320, 416, 512, 608)  # square inputs; a size a network refuses is left out of its line


def ops_by_size(nets, sizes=SIZES):
    """One row per network and size: darknet ops, MACs and peak live activations (fp32, batch 1), or why the
    network cannot take that size."""
    rows = []
    for net in nets:
        for s in sizes:
            row = dict(model=net.name, width=s, height=s)
            try:
                n = models.analyse(net.path, s, s)
            except DarkbenchError as e:
                rows.append(dict(row, refused=str(e).splitlines()[0]))
                continue
            rows.append(dict(row, ops=n.ops, ops_bn=round(n.ops / 1e9, 3), macs=n.macs,
                             peak_activation_mib=round(footprint(n).peak_activation_bytes / 2 ** 20, 3)))
    return pd.DataFrame(rows, columns=["model", "width", "height", "ops", "ops_bn", "macs", "peak_activation_mib",
                                       "refused"])


def latency_by_size(results):
    """Batch-1 measurements of a model/host/dtype/backend taken at two or more input sizes, one row each."""
    rows = []
    for r in results:
        if not _ok(r) or not r.get("input") or len(r["input"]) != 3:
            continue
        c, h, w = r["input"]
        ci = r.get("ci95_ms") or [None, None]
        rows.append(dict(model=r["model"], device=host_label(r), dtype=r.get("dtype"), backend=r["backend"],
                         threads=r.get("threads"), width=w, height=h, pixels=w * h, median_ms=r["median_ms"],
                         ci95_lo_ms=ci[0], ci95_hi_ms=ci[1], ops=r.get("ops")))
    cols = ["model", "device", "dtype", "backend", "threads", "width", "height", "pixels", "median_ms", "ci95_lo_ms",
            "ci95_hi_ms", "ops"]
    d = pd.DataFrame(rows, columns=cols)
    if not len(d):
        return d
    key = ["model", "device", "dtype", "backend", "threads"]
    swept = d.groupby(key, dropna=False)["pixels"].transform("nunique") > 1
    return d[swept].sort_values(key + ["pixels"]).reset_index(drop=True)
