"""Results as text: the tables `darkbench bench` prints and the CI and ratio texts the report shares with them
(rows are results as JSON dicts; the backend a column compares with is read from the rows' traits)."""
from . import traits
from .agreement import disagrees
from .stats import ratio_ci
from .tolerance import loses_accuracy

TOO_FEW = "too few samples"


def ci_text(ci, fmt=".2f"):
    """A 95% CI as "[lo, hi]", or why there is none."""
    return f"[{ci[0]:{fmt}}, {ci[1]:{fmt}}]" if ci else TOO_FEW


def ratio(a_ms, b_ms, paired=False):
    """(median(a) / median(b), its bootstrap CI text)."""
    v, ci = ratio_ci(a_ms, b_ms, paired=paired)
    return v, ci_text(ci)


def ratio_text(a, b):
    """"2.00 [1.90, 2.10]": how many times row b's median row a's is (rows of one interleaved group: paired
    rounds when they have as many samples)."""
    v, ci = ratio(a["samples_ms"], b["samples_ms"], paired=len(a["samples_ms"]) == len(b["samples_ms"]))
    return f"{v:.2f} {ci}" if ci != TOO_FEW else f"{v:.2f} [{TOO_FEW}]"


def speedup_text(r):
    """"2.31 [2.20, 2.45]": a result's speed-up over its backend's fp32 in the same rounds, or ""."""
    v, ci = r.get("speedup_vs_fp32"), r.get("speedup_vs_fp32_ci95")
    if v is None:
        return ""
    return f"{v:.2f} {ci_text(ci) if ci else f'[{TOO_FEW}]'}"


def map_text(r):
    """"0.97 [0.92, 1.00]": a detector result's agreement mAP@0.5 against fp32 eager's detections, or ""."""
    v, ci = r.get("agreement_map50"), r.get("agreement_map50_ci95")
    return "" if v is None else f"{v:.2f} {ci_text(ci) if ci else f'[{TOO_FEW}]'}"


def accuracy_text(r):
    """"mAP@0.5 0.62 [0.41, 0.80]" (and "-0.01 [-0.03, 0.00] vs fp32"): a result's accuracy on bench --data, or ""."""
    v, ci = r.get("accuracy"), r.get("accuracy_ci95")
    if v is None:
        return ""
    out = f"{r.get('accuracy_metric') or ''} {v:.3f} {ci_text(ci, '.3f') if ci else f'[{TOO_FEW}]'}".strip()
    d, dci = r.get("accuracy_change"), r.get("accuracy_change_ci95")
    if d is not None:
        out += f"; {d:+.3f} {ci_text(dci, '+.3f') if dci else f'[{TOO_FEW}]'} vs fp32"
    return out


def share_text(r):
    """"13/13": of a result's convolutions and matrix products, how many ran at its dtype, or ""."""
    n, at = r.get("convs"), r.get("convs_at_dtype")
    return f"{at}/{n}" if n is not None and at is not None else ""


def bench_table(results):
    """One row per result; ratios within a (device, dtype, batch, input) group, which was measured interleaved:
    against the fastest of the same model, and the reference program's time over this one (traits.reference).
    With reduced precisions: the speed-up over the same backend's fp32 and the share of convolutions that ran at
    the dtype."""
    from tabulate import tabulate
    rows, groups = [], {}
    for r in results:
        if r.get("samples_ms") and not r.get("error"):
            groups.setdefault((r["device"], r["dtype"], r["batch"], str(r.get("input"))), []).append(r)
    sizes = len({str(r.get("input")) for r in results}) > 1  # a sweep: the model column says the size
    refs = sorted({r["backend"] for r in results if r.get("backend") and traits.of(r).reference})
    reduced = any(speedup_text(r) or share_text(r) for r in results)
    boxes = any(map_text(r) for r in results)
    scored = any(accuracy_text(r) for r in results)
    for r in results:
        status = r.get("error") or (f"skipped: {r['skipped']}" if r.get("skipped") else r.get("note") or "")
        g = groups.get((r.get("device"), r.get("dtype"), r.get("batch"), str(r.get("input"))), [])
        fastest = vs_ref = ""
        if any(x is r for x in g):
            same = [x for x in g if x["model"] == r["model"]]
            best = min(same, key=lambda x: x["median_ms"])
            fastest = ratio_text(r, best) if len(same) > 1 else ""
            ref = next((x for x in same if traits.of(x).reference), None)
            if ref is not None and r is not ref:
                vs_ref = ratio_text(ref, r)
        ci = r.get("ci95_ms")
        wrong = disagrees(r)
        model = f"{r.get('model')} {r['input'][2]}x{r['input'][1]}" if sizes and r.get("input") else r.get("model")
        rows.append([model, r.get("backend"), r.get("device"), r.get("dtype"), r.get("batch"),
                     f"{r['median_ms']:.3f}" if r.get("median_ms") else "",
                     ci_text(ci, ".3f") if ci else ("< 6 samples" if r.get("samples") else ""),
                     *([accuracy_text(r)] if scored else []),
                     f"{r['p90_ms']:.3f}" if r.get("p90_ms") else "", r.get("samples") or "",
                     f"{r['first_ms']:.1f}" if r.get("first_ms") else "", fastest, vs_ref,
                     f"{r['images_per_s']:.1f}" if r.get("images_per_s") else "",
                     f"{r['peak_rss_mib']:.0f}" if r.get("peak_rss_mib") is not None else "",
                     (f"{r['rel_l2']:.1e}" if r.get("rel_l2") is not None else "") + (" DISAGREES" if wrong else ""),
                     *([map_text(r) + (" LOSES ACCURACY" if loses_accuracy(r) else "")] if boxes else []),
                     *([speedup_text(r), share_text(r)] if reduced else []),
                     status[:70]])
    return tabulate(rows, headers=["model", "backend", "device", "dtype", "batch", "median ms", "95% CI ms",
                                   *(["accuracy [95% CI] on --data"] if scored else []),
                                   "p90 ms", "samples", "first ms", "x fastest [CI]",
                                   f"{'|'.join(refs) or 'reference'}/this [CI]", "images/s", "peak RSS MiB",
                                   "rel L2 vs fp32", *(["boxes mAP@.5 vs fp32 [CI]"] if boxes else []),
                                   *(["x own fp32 [CI]", "convs at dtype"] if reduced else []),
                                   "note"],
                    disable_numparse=True)


def layer_tables(results):
    """Per result with per-layer times: each layer's median time beside its analytic FLOPs and bytes (its
    roofline position)."""
    from tabulate import tabulate
    parts = []
    for r in results:
        if not r.get("layers"):
            continue
        peak = r.get("peak_gflops")
        rows = [[l["index"], l["type"], f"{l['median_ms']:.4f}", f"{l['flops'] / 1e6:.2f}", f"{l['bytes'] / 1e6:.3f}",
                 f"{l['intensity']:.1f}", f"{l['gflops']:.1f}",
                 f"{l['pct_peak']:.0f}" if l.get("pct_peak") is not None else ""] for l in r["layers"]]
        head = (f"\n{r['model']} {r['backend']} {r['device']} {r['dtype']} batch {r['batch']}: per layer"
                + (f" (measured GEMM peak {peak:.0f} GFLOP/s)" if peak else ""))
        parts.append(head + "\n" + tabulate(rows, headers=["layer", "type", "median ms", "MFLOP", "MB moved",
                                                            "FLOP/byte", "GFLOP/s", "% peak"],
                                             disable_numparse=True))
    return "\n".join(parts)
