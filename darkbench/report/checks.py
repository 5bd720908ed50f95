"""Agreement and memory beside the times (read from results, never measured)."""
import pandas as pd

from ..bench import traits
from ..bench.agreement import disagrees  # noqa: F401 - disagrees: used by build
from ..bench.dtypes import tolerance_text
from ..bench.text import map_text, share_text, speedup_text

MIB = 2 ** 20


def _kept(texts):
    """A result's kept_fp32 ("node: why" each) as "node, node: why; ...": one reason once."""
    kept = {}
    for t in texts:
        node, _, why = t.partition(": ")
        kept.setdefault(why, []).append(node)
    return "; ".join(f"{', '.join(nodes)}: {why}" for why, nodes in kept.items())


def _mib(n):
    return None if n is None else round(n / MIB, 2)


def tolerances(results):
    """The agreement tolerances by dtype, as the report states them: the float dtypes', and a quantized one's
    where the results have it."""
    return tolerance_text({r.get("dtype") for r in results})


def detections_text(results):
    """What the agreement table says of detectors' detections, where a result has them ("" otherwise)."""
    if not any(r.get("agreement_map50") is not None for r in results):
        return ""
    return (" For detectors, also the mAP@0.5 of their detections against fp32 eager's on darknet's sample images "
            "(101-point AP over the classes fp32 finds at 0.25, theirs ranked down to 0.005), with a "
            "bootstrap CI over the images.")


def flag(r):
    """The report's verdict on a result's outputs: DISAGREES (why), ok, or not checked."""
    why = disagrees(r)
    if why:
        return f"DISAGREES: {why}"
    return "ok" if r.get("rel_l2") is not None else "not checked"


def agreement_table(results, host_label):
    """Per model/host/dtype/backend (checked once, at its first batch): the output check next to the time at
    the smallest batch measured."""
    pick = {}
    for r in results:
        if not r.get("median_ms") or r.get("error") or r.get("skipped") or not r.get("agreement"):
            continue
        key = (r["model"], host_label(r), r.get("dtype"), r["backend"])
        if key not in pick or (r.get("batch") or 1) < (pick[key].get("batch") or 1):
            pick[key] = r
    boxes = any(r.get("agreement_map50") is not None for r in pick.values())  # a column only where a run has it
    rows = [dict(model=m, host=h, dtype=dt, backend=b, batch=r.get("batch"), median_ms=round(r["median_ms"], 3),
                 rel_l2=r.get("rel_l2"), max_abs=r.get("max_abs"), top1_agree=r.get("top1_agree"),
                 top5_agree=r.get("top5_agree"), **(dict(map50=map_text(r)) if boxes else {}), outputs=flag(r),
                 compared=r.get("agreement"))
            for (m, h, dt, b), r in pick.items()]
    return pd.DataFrame(rows)


def disagreeing(results):
    return [r for r in results if r.get("median_ms") and disagrees(r)]


def memory_table(results, host_label):
    """Measured peak memory beside the analytic estimate, per result that measured any."""
    rows = []
    for r in results:
        if r.get("error") or r.get("skipped") or (r.get("peak_rss_mib") is None and r.get("peak_mem_mb") is None):
            continue
        est, peak = r.get("estimated_mib"), r.get("peak_rss_mib")
        # a backend run as its own process (traits.process): that process's peak, not an addition to ours
        whole = traits.of(r).process or (peak is not None and r.get("rss_base_mib") is None)
        rows.append(dict(model=r["model"], host=host_label(r), dtype=r.get("dtype"), backend=r["backend"],
                         batch=r.get("batch"), peak_rss_mib=None if peak is None else round(peak, 1),
                         prepare_rss_mib=None if r.get("prepare_rss_mib") is None else round(r["prepare_rss_mib"], 1),
                         rss_base_mib=None if r.get("rss_base_mib") is None else round(r["rss_base_mib"], 1),
                         gpu_peak_mib=None if r.get("peak_mem_mb") is None else round(r["peak_mem_mb"], 1),
                         estimated_mib=None if est is None else round(est, 1),
                         measured_per_estimated=round(peak / est, 2) if peak is not None and est else None,
                         measured_as="" if peak is None else f"its own process ({r['backend']})" if whole
                         else "added to the bench process"))
    return pd.DataFrame(rows)


def precision_table(results, host_label):
    """Per measured non-fp32 result that says what its engine ran: its speed-up over the same backend's fp32 in
    the same rounds (with the CI), the model file's size beside fp32's, the share of convolutions that ran at
    the dtype, what the layers kept in fp32, and its agreement."""
    key = lambda r: (r.get("model"), host_label(r), r.get("backend"), r.get("batch"), str(r.get("input")))  # noqa: E731
    fp32 = {key(r): r for r in results if r.get("dtype") == "fp32" and r.get("median_ms") and not r.get("error")}
    rows = []
    for r in results:
        if r.get("dtype") == "fp32" or not r.get("median_ms") or r.get("error") or r.get("skipped"):
            continue
        if r.get("speedup_vs_fp32") is None and r.get("convs") is None and r.get("model_bytes") is None:
            continue
        base = fp32.get(key(r)) or {}
        rows.append(dict(model=r["model"], host=host_label(r), dtype=r["dtype"], backend=r["backend"],
                         batch=r.get("batch"), median_ms=round(r["median_ms"], 3),
                         speedup=speedup_text(r),
                         model_mib=_mib(r.get("model_bytes")),
                         fp32_model_mib=_mib(base.get("model_bytes")),
                         at_dtype=share_text(r), kept_fp32=_kept(r.get("kept_fp32") or []), rel_l2=r.get("rel_l2"),
                         map50=map_text(r), outputs=flag(r),
                         calibration=r.get("calibration") or ""))
    return pd.DataFrame(rows)
