"""darknet's non-maximum suppression over one image's detection array, numpy: do_nms_sort (2018 darknet and the
fork's default) and the fork's diounms_sort (nms_kind greedynms, diounms with beta_nms, cornersnms), in float32
as darknet computes it, and leaving the array in the order darknet leaves it (glibc's qsort is a stable merge
sort: successive stable sorts reproduce it)."""
import numpy as np

F32 = np.float32
KINDS = ("default", "greedynms", "diounms", "cornersnms")


def _edges(b):
    x, y, w, h = (b[:, i] for i in range(4))
    return x - w / F32(2), x + w / F32(2), y - h / F32(2), y + h / F32(2)


def iou(a, b):
    """box_iou of every box of a (n, 4) with every box of b (m, 4), float32: darknet's overlap()."""
    al, ar, at, ab = (v[:, None] for v in _edges(a))
    bl, br, bt, bb = (v[None, :] for v in _edges(b))
    w = np.minimum(ar, br) - np.maximum(al, bl)
    h = np.minimum(ab, bb) - np.maximum(at, bt)
    inter = np.where((w < 0) | (h < 0), F32(0), w * h)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((inter == 0) | (union == 0), F32(0), inter / union)


def diou(a, b, beta):
    """box_diou (beta .6, the fork's greedynms) / box_diounms (its diounms): IoU less (centre distance^2 /
    enclosing box diagonal^2) ** beta."""
    al, ar, at, ab = (v[:, None] for v in _edges(a))
    bl, br, bt, bb = (v[None, :] for v in _edges(b))
    w = np.maximum(ar, br) - np.minimum(al, bl)
    h = np.maximum(ab, bb) - np.minimum(at, bt)
    c = w * w + h * h
    dx = a[:, 0][:, None] - b[:, 0][None, :]
    dy = a[:, 1][:, None] - b[:, 1][None, :]
    d = dx * dx + dy * dy
    i = iou(a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.power((d / c).astype(np.float64), np.float64(F32(beta))).astype(F32)
    return np.where(c == 0, i, i - u)


def _overlaps(boxes, kind, beta):
    if kind == "greedynms":
        return diou(boxes, boxes, .6)
    if kind == "diounms":
        return diou(boxes, boxes, beta)
    return iou(boxes, boxes)  # default (do_nms_sort) and cornersnms suppress alike


def _front(objectness):
    """do_nms_sort's first pass: rows with objectness 0 swapped to the back, in darknet's order. Returns the
    row order and how many lead (those sorted and suppressed)."""
    order = list(range(len(objectness)))
    k = len(order) - 1
    i = 0
    while i <= k:
        if objectness[order[i]] == 0:
            order[i], order[k] = order[k], order[i]
            k -= 1
        else:
            i += 1
    return np.array(order, dtype=np.int64), k + 1


def suppress(boxes, objectness, probs, thresh, kind="default", beta=.6):
    """Zero, class by class, the probability of every box that overlaps a more probable one by more than
    thresh (probs is changed in place). Returns the rows' order as darknet leaves its array."""
    if kind not in KINDS:
        raise ValueError(f"unknown nms kind {kind!r}")
    boxes = np.asarray(boxes, dtype=F32)
    order, total = _front(objectness)
    lead, back = order[:total], order[total:]
    t = F32(thresh)
    for k in range(probs.shape[1]):
        lead = lead[np.argsort(-probs[lead, k], kind="stable")]
        rows = lead[probs[lead, k] != 0]
        if len(rows) < 2:
            continue
        over = _overlaps(boxes[rows], kind, beta) > t
        alive = np.ones(len(rows), bool)
        i = 0
        while i < len(rows) - 1:  # from one survivor to the next: a suppressed row suppresses nothing
            alive[i + 1:] &= ~over[i, i + 1:]
            later = np.flatnonzero(alive[i + 1:])
            if not len(later):
                break
            i += 1 + int(later[0])
        probs[rows[~alive], k] = 0
    return np.concatenate([lead, back])
