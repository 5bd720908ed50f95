"""The accuracy a result reports, and the tolerance beyond which it is flagged beside its time (as DISAGREES
flags outputs too far from fp32's): task accuracy on `bench --data` where the result has it, else a detector's
agreement mAP@0.5 against fp32 eager's detections on darknet's sample images."""

# agreement with fp32 (mAP@0.5 against fp32 eager's detections, or accuracy measured against fp32's answers
# where the data has no labels): below this an entry no longer finds fp32's objects (issue 23's target for int8)
AGREEMENT_MIN = 0.9
# accuracy against labels: flagged when its change against the same backend's fp32 on the same images lies below
# this with its whole 95% CI (the point itself where there is no CI), i.e. more than 2 points lost beyond the noise
CHANGE_MIN = -0.02
SAMPLE = "mAP@0.5 vs fp32 eager's detections (darknet's sample images)"
TEXT = (f"An entry is flagged LOSES ACCURACY beside its time when its agreement with fp32 (mAP@0.5 against fp32 "
        f"eager's detections, or an accuracy measured against fp32's answers) is below {AGREEMENT_MIN:g}, or, "
        f"measured against labels, when its accuracy change against its own backend's fp32 lies below "
        f"{CHANGE_MIN:+g} with its whole 95% CI.")


def _ci(ci, fmt=".2f"):
    return f" [{ci[0]:{fmt}}, {ci[1]:{fmt}}]" if ci else ""


def accuracy(r):
    """(value, [lo, hi] or None, what it is) of a result (a dict), or None: `accuracy` (bench --data) where set,
    else `agreement_map50`."""
    if r.get("accuracy") is not None:
        data = f" on {r['accuracy_data']}" if r.get("accuracy_data") else ""
        what = f"{r.get('accuracy_metric') or 'accuracy'} vs {r.get('accuracy_against') or '?'}{data}"
        return r["accuracy"], r.get("accuracy_ci95"), what
    if r.get("agreement_map50") is not None:
        return r["agreement_map50"], r.get("agreement_map50_ci95"), SAMPLE
    return None


def loses_accuracy(r):
    """Why a result's accuracy lies beyond the tolerance of fp32's (see TEXT), or None."""
    if r.get("accuracy") is not None and r.get("accuracy_against") == "labels":
        change, ci = r.get("accuracy_change"), r.get("accuracy_change_ci95")
        if change is not None and (ci[1] if ci else change) < CHANGE_MIN:
            return (f"{r.get('accuracy_metric') or 'accuracy'} {change:+.3f}{_ci(ci, '+.3f')} vs own fp32 "
                    f"< {CHANGE_MIN:+g}")
        return None
    got = accuracy(r)
    if got is None or got[0] >= AGREEMENT_MIN:
        return None
    what = (f"{r.get('accuracy_metric') or 'accuracy'} vs {r.get('accuracy_against') or '?'}"
            if r.get("accuracy") is not None else "mAP@0.5 vs fp32 eager's detections")
    return f"{what} {got[0]:.2f}{_ci(got[1])} < {AGREEMENT_MIN:g}"
