"""[yolo]: YOLOv3 head; logistic on x, y, objectness and classes at inference; its boxes as darknet's
get_yolo_detections decodes them (numpy)."""

NAMES = ("yolo",)
KEYS = {"classes", "num", "mask", "anchors", "max", "jitter", "ignore_thresh", "truth_thresh",
        "random", "map"}
HEAD = True
DETECTS = True
# the fork's nms_kind values a [yolo] knows (anything else is its default, do_nms_sort)
NMS_KINDS = ("greedynms", "diounms")
# the fork's loss, NMS and tracking options: read by it, no effect on the counts; scale_x_y and new_coords
# change its output (x, y scaled about 0.5; new_coords: no logistic at all)
FORK_KEYS = frozenset({"show_details", "max_delta", "counters_per_class", "label_smooth_eps", "scale_x_y",
                       "objectness_smooth", "new_coords", "iou_normalizer", "obj_normalizer", "cls_normalizer",
                       "delta_normalizer", "iou_loss", "iou_thresh_kind", "beta_nms", "nms_kind", "resize",
                       "focal_loss", "iou_thresh", "track_history_size", "sim_thresh", "dets_for_track",
                       "dets_for_show", "track_ciou_norm", "embedding_layer"})


def build(sec, ctx):
    classes = sec.get_int("classes", 20, min=1)
    total = sec.get_int("num", 1, min=1)
    mask = sec.get_list("mask", default=list(range(total)))
    anchors = sec.get_list("anchors", float, default=[])
    for key, bad, msg in (("mask", any(m < 0 or m >= total for m in mask),
                           f"mask {mask} refers to anchors outside 0..{total - 1}"),
                          ("anchors", anchors and len(anchors) < 2 * total,
                           f"{len(anchors)} anchor values for num={total} (need {2 * total})")):
        if not bad:
            continue
        if not ctx.fork:
            raise sec._err(key, msg)
        # the fork reads past its anchors there (its own cspx-p7 cfgs do): only box decoding uses them,
        # so the counts and the layer's output stand
        sec.notes.append((sec.options[key][1], f"{msg}: the fork reads on past its anchors (boxes only)"))
    c, h, w = ctx.need_image(sec)
    want = len(mask) * (classes + 5)
    if c != want:
        raise ctx.fail(sec, f"input has {c} channels but {len(mask)} masks x ({classes} classes + 5) "
                            f"needs {want}")
    fork = dict(scale_x_y=sec.get_float("scale_x_y", 1.0), new_coords=sec.get_int("new_coords", 0),
                **nms_options(sec, NMS_KINDS)) if ctx.fork else {}
    return ctx.layer(sec, "yolo", (c, h, w),
                     opts=dict(classes=classes, num=total, mask=mask, anchors=anchors, **fork),
                     desc=f"{classes} cls")


def module(layer, net):
    import torch
    from ..nn import Elementwise
    c, h, w = layer.out_shape
    k = layer.opts["classes"] + 5
    plain = torch.zeros(c, dtype=torch.bool)
    plain[2::k] = True   # w and h stay raw; x, y, objectness and classes get the logistic
    plain[3::k] = True
    keep = plain.view(1, c, 1, 1)
    s, new_coords = layer.opts.get("scale_x_y", 1.0), layer.opts.get("new_coords", 0)
    xy = torch.zeros(c, dtype=torch.bool)
    xy[0::k] = xy[1::k] = True
    xy = xy.view(1, c, 1, 1)

    def fn(x):
        y = x if new_coords else torch.where(keep.to(x.device), x, torch.sigmoid(x))
        if s != 1:  # the fork: x, y scaled by scale_x_y about 0.5
            y = torch.where(xy.to(x.device), y * s - 0.5 * (s - 1), y)
        return y
    return Elementwise(fn, f"classes={layer.opts['classes']}, mask={layer.opts['mask']}"
                       + (f", scale_x_y={s}" if s != 1 else "") + (", new_coords=1" if new_coords else ""))


def nms_options(sec, kinds):
    """The fork's NMS for a head: nms_kind (a name it knows, else "default") and beta_nms (diounms)."""
    kind = sec.get_str("nms_kind", "default")
    return dict(nms_kind=kind if kind in kinds else "default", beta_nms=sec.get_float("beta_nms", 0.6))


def nms(layer):
    return layer.opts.get("nms_kind", "default"), layer.opts.get("beta_nms", 0.6)


def anchors_for(layer, mask):
    """(anchor w, anchor h) per mask entry, as darknet's biases (.5 where the cfg gives none)."""
    import numpy as np

    from .. import boxes as heads
    mask = np.asarray(mask)
    b = heads.biases(layer, 2 * max(layer.opts["num"], int(mask.max(initial=0)) + 1))
    return b[2 * mask], b[2 * mask + 1]


def boxes(layer, output, frame):
    """get_yolo_detections: slots cell by cell, anchor by anchor; kept where objectness > thresh; x, y from
    the cell, w, h from the anchors (in network pixels) by exp (new_coords: 4 t^2); probs objectness * class."""
    import numpy as np

    from .. import boxes as heads
    o = layer.opts
    _, h, w = layer.out_shape
    n = len(o["mask"])
    v = np.asarray(output, dtype=heads.F32).reshape(n, o["classes"] + 5, h * w)
    cell, a = np.divmod(np.flatnonzero(v[:, 4].T.reshape(-1) > heads.F32(frame.thresh)), n)
    e = v[a, :, cell]
    aw, ah = anchors_for(layer, np.asarray(o["mask"])[a])
    box = np.empty((len(e), 4), heads.F32)
    box[:, 0] = ((cell % w).astype(heads.F32) + e[:, 0]) / heads.F32(w)
    box[:, 1] = ((cell // w).astype(heads.F32) + e[:, 1]) / heads.F32(h)
    if o.get("new_coords"):
        box[:, 2] = e[:, 2] * e[:, 2] * heads.F32(4) * aw / heads.F32(frame.net_width)
        box[:, 3] = e[:, 3] * e[:, 3] * heads.F32(4) * ah / heads.F32(frame.net_height)
    else:
        box[:, 2] = heads.scaled_size(e[:, 2], aw, frame.net_width)
        box[:, 3] = heads.scaled_size(e[:, 3], ah, frame.net_height)
    objectness = e[:, 4]
    return heads.Rows(heads.correct(box, frame), objectness, heads.keep_above(objectness[:, None] * e[:, 5:],
                                                                             frame.thresh))


def activate(layer, x, dialect):
    """The layer's forward (module() above) in numpy, from its input: for engines that give a head's input."""
    import numpy as np

    from .. import boxes as heads
    o = layer.opts
    k = o["classes"] + 5
    y = np.array(x, dtype=heads.F32).reshape(len(x), -1, k, *layer.out_shape[1:])
    if not o.get("new_coords"):
        y[:, :, :2] = heads.logistic(y[:, :, :2])
        y[:, :, 4:] = heads.logistic(y[:, :, 4:])
    s = heads.F32(o.get("scale_x_y", 1.0))
    if s != 1:
        y[:, :, :2] = y[:, :, :2] * s - heads.F32(0.5 * (s - 1))
    return y.reshape(len(x), *layer.out_shape)
