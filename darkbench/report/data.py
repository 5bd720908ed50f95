"""What the report shows, as pandas tables: analysis, published claims, benchmark results (read, never measured)."""
import glob
import json
import os

import pandas as pd

from .. import models, published
from ..errors import DarkbenchError

DEFAULT_MODELS = ["tiny.cfg", "darknet.cfg", "alexnet.cfg", "squeezenet.cfg", "yolov3-tiny.cfg", "inception.json"]


def load_results(paths):
    """Every measurement object from the given JSON files or directories (bench-*.json inside)."""
    files = []
    for p in paths or []:
        if os.path.isdir(p):
            files += sorted(glob.glob(os.path.join(p, "*.json")))
        elif os.path.exists(p):
            files.append(p)
        else:
            raise DarkbenchError("no such results file or directory", p)
    rows = []
    for f in files:
        try:
            with open(f) as fh:
                data = json.load(fh)
        except (OSError, json.JSONDecodeError) as e:
            raise DarkbenchError(f"not a results JSON file: {e}", f) from None
        if not isinstance(data, list):
            raise DarkbenchError("not a darkbench results file (expected a JSON list)", f)
        for r in data:
            if isinstance(r, dict) and "backend" in r and "model" in r:
                rows.append(dict(r, source=f))
    return rows, files


def host_label(r):
    env = r.get("env") or {}
    dev = r.get("device", "cpu")
    what = env.get("gpu") if dev == "cuda" and env.get("gpu") else env.get("cpu", "?")
    return f"{env.get('host', '?')} {dev} ({what})"


def networks(names):
    nets = []
    for n in names:
        nets.append(models.analyse(n))
    return nets


def network_table(nets):
    pub = {r["cfg"]: r for r in published.table()}
    rows = []
    for net in nets:
        p = pub.get(os.path.basename(net.path), {})
        rows.append(dict(network=p.get("network", net.name), model=net.name, file=os.path.basename(net.path),
                         input=f"{net.width}x{net.height}x{net.channels}", layers=len(net.layers),
                         params=net.params, size_mib=round(net.size_mib, 3), ops=net.ops,
                         ops_bn=round(net.ops / 1e9, 3), macs=net.macs,
                         top1_quoted=p.get("top1"), top5_quoted=p.get("top5")))
    return pd.DataFrame(rows)


def published_table():
    """The Tiny Darknet table: published beside computed, with verify's verdicts."""
    verdicts = {r["claim"]: r for r in published.verify()}
    rows = []
    for r in published.table():
        net = models.analyse(r["cfg"])
        key = r["cfg"][:-4]
        rows.append({"network": r["network"], "Top-1 (quoted)": r["top1"], "Top-5 (quoted)": r["top5"],
                     "Ops published": r["ops_text"], "Ops computed (Bn)": round(net.ops / 1e9, 3),
                     "Ops verdict": verdicts[f"table-{key}-ops"]["verdict"],
                     "Size published": r["size_text"], "Size computed (MiB)": round(net.size_mib, 2),
                     "Size verdict": verdicts[f"table-{key}-size"]["verdict"]})
    from ..commands.verify import _computed_text
    claims = published.verify()
    for c in claims:
        c["computed"] = _computed_text(c)
        c["holds_at"] = c["holds_at"] or ""
    return pd.DataFrame(rows), pd.DataFrame(claims)


def latency_table(results):
    """Median ms per model, one column per (host/device, dtype, backend)."""
    ok = [r for r in results if r.get("median_ms") and not r.get("error") and r.get("batch", 1) == 1]
    if not ok:
        return pd.DataFrame()
    df = pd.DataFrame([dict(model=r["model"], column=f"{host_label(r)} · {r['dtype']} {r['backend']}",
                            median_ms=r["median_ms"]) for r in ok])
    return df.pivot_table(index="model", columns="column", values="median_ms", aggfunc="min")


def speed_ratios(results, pairs=(("darknet", "alexnet"), ("tiny", "alexnet"), ("tiny", "squeezenet"),
                                 ("darknet", "squeezenet"))):
    """How many times faster model A runs than model B, per host/device/backend (medians, same run)."""
    from ..bench.stats import ratio_ci
    rows = []
    keyed = {}
    for r in results:
        if r.get("median_ms") and not r.get("error") and r.get("batch", 1) == 1:
            keyed[(r["model"], host_label(r), r["dtype"], r["backend"])] = r
    for a, b in pairs:
        for (m, host, dt, be), ra in keyed.items():
            rb = keyed.get((b, host, dt, be))
            if m != a or rb is None:
                continue
            row = dict(comparison=f"{a} vs {b}", host=host, dtype=dt, backend=be,
                       times_faster=round(rb["median_ms"] / ra["median_ms"], 2), ci95="")
            if ra.get("samples_ms") and rb.get("samples_ms"):
                v, (lo, hi) = ratio_ci(rb["samples_ms"], ra["samples_ms"])
                row["ci95"] = f"[{lo:.2f}, {hi:.2f}]"
            rows.append(row)
    return pd.DataFrame(rows)


def layer_table(nets):
    rows = []
    for net in nets:
        for l in net.layers:
            rows.append(dict(model=net.name, index=l.index, type=l.type, ops=l.ops, macs=l.macs, params=l.params,
                             bytes=l.bytes_read + l.bytes_written, intensity=round(l.intensity, 3)))
    return pd.DataFrame(rows)


def roofline_table(results):
    rows = []
    for r in results:
        for l in r.get("layers") or []:
            rows.append(dict(model=r["model"], host=host_label(r), dtype=r["dtype"], peak_gflops=r.get("peak_gflops"),
                             **{k: l.get(k) for k in ("index", "type", "median_ms", "flops", "bytes", "intensity",
                                                      "gflops", "pct_peak")}))
    return pd.DataFrame(rows)


def keras_table(net):
    return pd.DataFrame([dict(layer=l.index, name=l.name, type=l.type, output=str(l.keras_shape),
                              formula=l.formula, params=l.params, running_total=l.running_total)
                         for l in net.layers])


def environments(results):
    seen = {}
    for r in results:
        env = r.get("env") or {}
        seen.setdefault(host_label(r), env)
    return seen
