"""What the report shows, as pandas tables: analysis, published claims, benchmark results (read, never measured)."""
import glob
import json
import os

import pandas as pd

from .. import models, published
from ..bench import traits
from ..bench.record import Record
from ..errors import DarkbenchError
from .checks import flag

# the report's networks, from the project's cfgs; the Makefile's `make report` benchmarks the same list
with open(os.path.join(os.path.dirname(__file__), "..", "data", "report_models.txt")) as _f:
    DEFAULT_MODELS = _f.read().split()


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
        except (OSError, ValueError) as e:  # ValueError: bad JSON or not UTF-8
            raise DarkbenchError(f"not a results JSON file: {e}", f) from None
        if not isinstance(data, list):
            raise DarkbenchError("not a darkbench results file (expected a JSON list)", f)
        for i, r in enumerate(data):
            if isinstance(r, dict) and "backend" in r and "model" in r:
                rows.append(dict(Record.from_json(r, f, i).to_json(), source=os.path.basename(f)))
    return rows, files


def host_label(r):
    """The column group a result belongs to: host, device and what it ran on."""
    env = r.get("env") or {}
    dev = r.get("device") or "cpu"
    what = env.get("gpu") if dev == "cuda" and env.get("gpu") else env.get("cpu") or "?"
    torch = f", torch {env['torch']}" if env.get("torch") else ""
    return f"{env.get('host') or '?'} {dev} ({what}{torch})"


def latest(rows):
    """One result per model/host/device/dtype/backend/batch/threads: the newest run's (repeated runs pile
    up in reports/results; mixing their medians would hide which run a number came from)."""
    keep = {}
    for i, r in enumerate(rows):
        key = (r.get("model"), host_label(r), r.get("dtype"), r.get("backend"), r.get("batch", 1), r.get("threads"),
               str(r.get("input")),  # a size sweep (bench --size) keeps one result per size
               _pipeline(r), r.get("weights_sha256"))  # trained weights' runs beside the random ones
        when = ((r.get("env") or {}).get("timestamp") or "", i)
        if key not in keep or when >= keep[key][0]:
            keep[key] = (when, r)
    kept = [r for _, r in keep.values()]
    return kept, len(rows) - len(kept)


def _pipeline(r):
    """A pipeline result (bench --pipeline) is no forward-pass result: neither replaces the other."""
    return r.get("pipeline_images") is not None


def stale(rows):
    """Results measured from a model file whose bytes differ from the file here now."""
    from ..bench.env import sha256
    out, cache = [], {}
    for r in rows:
        want = r.get("model_sha256")
        if not want or not r.get("path"):
            continue
        if r["path"] not in cache:
            cache[r["path"]] = None
            # the path as bench saw it (relative to where it ran), else the same name on the search path
            for name in (r["path"], os.path.basename(r["path"])):
                try:
                    cache[r["path"]] = sha256(models.resolve(name))
                    break
                except (DarkbenchError, OSError):
                    continue
        if cache[r["path"]] and cache[r["path"]] != want:
            out.append(r)
    return out


def _ok(r):
    return r.get("median_ms") and not r.get("error") and not r.get("skipped") and r.get("batch", 1) == 1


def networks(names):
    nets = []
    for n in names:
        nets.append(models.analyse(n))
    return nets


def network_table(nets):
    rows = []
    for net in nets:
        p = published.figures_for(net) or {}
        rows.append(dict(network=p.get("network", net.name), model=net.name, file=os.path.basename(net.path),
                         input=f"{net.width}x{net.height}x{net.channels}", layers=len(net.layers),
                         params=net.params, size_mib=round(net.size_mib, 3), ops=net.ops,
                         ops_bn=round(net.ops / 1e9, 3), macs=net.macs,
                         top1_quoted=p.get("top1"), top5_quoted=p.get("top5"),
                         ops_published_bn=p.get("ops_bn"), size_published_mb=p.get("size_mb")))
    return pd.DataFrame(rows)


def published_table():
    """The Tiny Darknet table: published beside computed, with verify's verdicts."""
    claims = published.verify()
    verdicts = {r["claim"]: r for r in claims}
    rows = []
    for r in published.table():
        net = models.analyse(published.cfg_path(r["cfg"]))
        key = r["cfg"][:-4]
        rows.append({"network": r["network"], "Top-1 % (quoted)": f"{r['top1']:.1f}",
                     "Top-5 % (quoted)": f"{r['top5']:.1f}",
                     "Ops published": r["ops_text"], "Ops computed (Bn)": round(net.ops / 1e9, 3),
                     "Ops verdict": verdicts[f"table-{key}-ops"]["verdict"],
                     "Size published": r["size_text"], "Size computed (MiB)": round(net.size_mib, 2),
                     "Size verdict": verdicts[f"table-{key}-size"]["verdict"]})
    for c in claims:
        c["computed_text"] = published.computed_text(c)
        c["holds_at"] = c["holds_at"] or ""
    return pd.DataFrame(rows), pd.DataFrame(claims)


def latency_long(results, nets=None):
    """One row per usable batch-1 measurement, with achieved GFLOP/s (darknet ops / latency)."""
    ops = dict(zip(nets["model"], nets["ops"])) if nets is not None and len(nets) else {}
    rows = []
    for r in results:
        if not _ok(r):
            continue
        n = r.get("ops") or ops.get(r["model"])  # the measured input's own count when the result has it
        ci = r.get("ci95_ms") or [None, None]
        rows.append(dict(model=r["model"], device=host_label(r), dtype=r.get("dtype"), backend=r["backend"],
                         threads=r.get("threads"), median_ms=round(r["median_ms"], 3),
                         ci95_lo_ms=ci[0], ci95_hi_ms=ci[1],
                         samples=r.get("samples"), statistic=traits.of(r).statistic,
                         ops=n, gflops=round(n / r["median_ms"] / 1e6, 2) if n else None,
                         outputs=flag(r), source=r.get("source")))
    return pd.DataFrame(rows)


def one_size(results, nets):
    """Of a size sweep, the result at the network's own input (else the first size measured): the tables
    show one latency per model; report/sizes.py draws the sweep."""
    own = {m: i for m, i in zip(nets["model"], nets["input"])} if nets is not None and len(nets) else {}
    chosen = {}
    for r in results:
        key = (r.get("model"), host_label(r), r.get("dtype"), r.get("backend"), r.get("batch", 1), r.get("threads"),
               _pipeline(r), r.get("weights_sha256"))
        c, h, w = (r.get("input") or [0, 0, 0]) + [0] * (3 - len(r.get("input") or []))
        mine = f"{w}x{h}x{c}" == own.get(r.get("model"))
        if key not in chosen or (mine and not chosen[key][0]):
            chosen[key] = (mine, r)
    return [r for _, r in chosen.values()]


def random_first(results):
    """The tables that show one entry per model/backend/dtype: a run with trained weights (bench --weights) only
    where no run with random weights measured the same thing (the precision and speed-accuracy tables keep
    both, apart)."""
    def key(r):
        return (r.get("model"), host_label(r), r.get("dtype"), r.get("backend"), r.get("batch", 1),
                r.get("threads"), _pipeline(r))
    randoms = {key(r) for r in results if not r.get("weights_sha256")}
    return [r for r in results if not r.get("weights_sha256") or key(r) not in randoms]


def backend_traits(results):
    """{backend: Traits} as the results say (a later row's over an earlier one's)."""
    return {r["backend"]: traits.of(r) for r in results if r.get("backend")}


def _run_order(run, order):
    dtype, _, backend = run.partition(" ")
    return (dtype, order.get(backend, traits.NEUTRAL.order), backend)


def pivot(long, value="median_ms", order=None):
    """Models down, one column group per host/device, 'dtype backend' inside each group (backends in the order
    of their traits: order = {backend: Traits.order})."""
    if not len(long):
        return pd.DataFrame()
    d = long.assign(run=long["dtype"] + " " + long["backend"])
    t = d.pivot_table(index="model", columns=["device", "run"], values=value, aggfunc="first")
    cols = sorted(t.columns, key=lambda c: (c[0], _run_order(c[1], order or {})))
    return t[cols]


def latency_table(results, nets=None):
    return pivot(latency_long(results, nets), order={b: t.order for b, t in backend_traits(results).items()})


def comparison_table(nets, latency):
    """The networks' computed figures beside their measured latency, in one table (two header rows)."""
    left = nets.set_index("model")[["network", "params", "size_mib", "ops_bn", "macs"]]
    left.columns = pd.MultiIndex.from_tuples([("computed", c) for c in left.columns])
    if not len(latency):
        return left
    t = pd.concat([left, latency], axis=1)
    order = list(left.index) + [m for m in t.index if m not in left.index]
    return t.loc[order]


def flat(df):
    """Two header rows joined into one, for CSV and markdown."""
    if isinstance(df.columns, pd.MultiIndex):
        df = df.copy()
        df.columns = [f"{a} · {b}" if a != "computed" else b for a, b in df.columns]
    return df


def speed_ratios(results, nets=None, pairs=(("darknet", "alexnet"), ("tiny", "alexnet"), ("tiny", "squeezenet"),
                                            ("darknet", "squeezenet"))):
    """How many times faster model A runs than model B, per host/device/backend (medians, same run), beside
    how many times fewer operations it has."""
    from ..bench.text import ratio
    ops = dict(zip(nets["model"], nets["ops"])) if nets is not None and len(nets) else {}
    rows = []
    keyed = {}
    for r in results:
        if _ok(r):
            keyed[(r["model"], host_label(r), r["dtype"], r["backend"])] = r
    for a, b in pairs:
        for (m, host, dt, be), ra in keyed.items():
            rb = keyed.get((b, host, dt, be))
            if m != a or rb is None:
                continue
            oa, ob = ra.get("ops") or ops.get(a), rb.get("ops") or ops.get(b)
            row = dict(comparison=f"{a} vs {b}", host=host, dtype=dt, backend=be,
                       times_faster=round(rb["median_ms"] / ra["median_ms"], 2), ci95="",
                       times_fewer_ops=round(ob / oa, 2) if oa and ob else None)
            if ra.get("samples_ms") and rb.get("samples_ms"):
                _, row["ci95"] = ratio(rb["samples_ms"], ra["samples_ms"])
            rows.append(row)
    return pd.DataFrame(rows)


def not_measured(results):
    """Results that hold no latency: skipped (backend unavailable) or failed, with the reason."""
    rows = []
    for r in results:
        if r.get("skipped") or r.get("error"):
            rows.append(dict(model=r.get("model"), device=host_label(r), dtype=r.get("dtype"),
                             backend=r.get("backend") or "", batch=r.get("batch"),
                             status="skipped" if r.get("skipped") else "error",
                             reason=r.get("skipped") or r.get("error")))
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
                              formula=l.formula, params=l.params, running_total=l.running_total, macs=l.macs,
                              ops=l.ops) for l in net.layers])


def environments(results):
    """Per column group, the newest run's environment."""
    seen, threads = {}, {}
    for r in sorted(results, key=lambda r: (r.get("env") or {}).get("timestamp") or ""):
        seen[host_label(r)] = r.get("env") or {}
        if r.get("threads"):
            threads.setdefault(host_label(r), set()).add(r["threads"])
    return {k: dict(v, threads=", ".join(map(str, sorted(threads.get(k, ()))))) for k, v in sorted(seen.items())}
