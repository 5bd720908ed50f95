"""Agreement and memory beside the times (read from results, never measured)."""
import pandas as pd

from ..bench import traits
from ..bench.agreement import disagrees  # noqa: F401 - disagrees: used by build
from ..bench.dtypes import NAMES, tolerance_text
from ..bench.text import map_text, share_text, speedup_text
from ..bench.tolerance import TEXT as ACCURACY_TOLERANCE
from ..bench.tolerance import accuracy, loses_accuracy

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
    """The report's verdict on a result's outputs: DISAGREES (why) and/or LOSES ACCURACY (why), ok, or not
    checked."""
    why = [f"{what}: {w}" for what, w in (("DISAGREES", disagrees(r)), ("LOSES ACCURACY", loses_accuracy(r))) if w]
    if why:
        return "; ".join(why)
    return "ok" if r.get("rel_l2") is not None or accuracy(r) is not None else "not checked"


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


def inaccurate(results):
    return [r for r in results if r.get("median_ms") and loses_accuracy(r)]


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
    """Every entry (measured, skipped or failed; detection pipelines apart) of a model, host and weights where a
    reduced precision was asked for, fp32 included, by backend (in its traits' order) and dtype: the time with the flag
    beside it, images/s, the agreement, the model's size, the share of convolutions that ran at the dtype, the
    speed-up over the same backend's fp32 in the same rounds (with the CI), what the layers kept in fp32, and for
    an entry that did not run, why."""
    entries = [r for r in results if r.get("pipeline_images") is None]
    group = lambda r: (r.get("model"), host_label(r), r.get("weights") or "")  # noqa: E731 - the same weights
    reduced = {group(r) for r in entries if r.get("dtype") not in (None, "fp32")}
    rank = {d: i for i, d in enumerate(NAMES)}
    chosen = sorted((r for r in entries if group(r) in reduced),
                    key=lambda r: (*group(r), traits.of(r).order, r.get("backend") or "", r.get("batch") or 1,
                                   rank.get(r.get("dtype"), len(rank))))
    accuracies = any(r.get("accuracy") is not None for r in chosen)  # bench --data: a column of its own
    rows = []
    for r in chosen:
        ran = r.get("median_ms") and not r.get("error") and not r.get("skipped")
        acc = accuracy(r) if accuracies and r.get("accuracy") is not None else None
        rows.append(dict(model=r["model"], host=host_label(r), dtype=r.get("dtype"), backend=r.get("backend"),
                         batch=r.get("batch"), median_ms=round(r["median_ms"], 3) if ran else None,
                         outputs=flag(r) if ran else f"skipped: {r['skipped']}" if r.get("skipped") else
                         f"error: {r['error']}" if r.get("error") else "not measured",
                         images_per_s=round(r["images_per_s"], 2) if ran and r.get("images_per_s") else None,
                         map50=map_text(r), **(dict(accuracy_text=_accuracy_text(acc)) if accuracies else {}),
                         model_mib=_mib(r.get("model_bytes")), at_dtype=share_text(r), speedup=speedup_text(r),
                         kept_fp32=_kept(r.get("kept_fp32") or []), rel_l2=r.get("rel_l2"),
                         calibration=r.get("calibration") or "", weights=r.get("weights") or ""))
    return pd.DataFrame(rows)


def _accuracy_text(acc):
    """"0.71 [0.66, 0.75] (mAP@0.5 vs labels on coco.data)", or ""."""
    if acc is None:
        return ""
    v, ci, what = acc
    return f"{v:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "") + f" ({what})"


PRECISION_TEXT = (
    "Every backend and dtype asked for on a network with a reduced precision, fp32 included, measured in the same "
    "interleaved rounds: the median latency (batch 1 unless said) with the verdict on its outputs beside it (or "
    "why it did not run), images/s, the detections' agreement mAP@0.5 against fp32 eager's on darknet's sample "
    "images with its bootstrap 95% CI, the model's size, how many of its convolutions and matrix products ran at "
    "the dtype (read from the graph the engine ran: an int8 entry with none quantized is an error, not a result; "
    "the torch backends cast the whole model and do not report it), the speed-up over the same backend's fp32 "
    "(fp32's median / this one's, bootstrap 95% CI), the nodes the layers keep in fp32 and why. Model size: the "
    "file the engine loaded (ONNX Runtime: the .onnx; OpenVINO: the IR's .xml + .bin; OpenCV: the darknet "
    ".weights file it read); torch loads no model file, so for its backends the bytes of the parameters and "
    "buffers the module holds at the dtype (batch norm's running statistics included where unfused, folded where "
    "compiled). DISAGREES: the outputs' relative L2 beyond the dtype's tolerance (see Agreement). "
    + ACCURACY_TOLERANCE)
