"""[Gaussian_yolo] (AlexeyAB fork, Gaussian YOLOv3): a yolo head with a mean and an uncertainty per box
coordinate: len(mask) * (classes + 9) channels, shaped like its input; its boxes as the fork's
get_gaussian_yolo_detections decodes them (numpy)."""
from .fork_common import FORK_ONLY
from .yolo import anchors_for, nms, nms_options  # noqa: F401 (nms: this family's trait too)

NAMES = ("Gaussian_yolo",)
# all the fork's parse_gaussian_yolo reads; only classes, num, mask and anchors shape anything
KEYS = {"classes", "num", "mask", "anchors", "max", "max_delta", "counters_per_class", "label_smooth_eps",
        "scale_x_y", "objectness_smooth", "uc_normalizer", "iou_normalizer", "obj_normalizer",
        "cls_normalizer", "delta_normalizer", "iou_loss", "iou_thresh_kind", "beta_nms", "nms_kind",
        "yolo_point", "jitter", "resize", "ignore_thresh", "truth_thresh", "iou_thresh", "random", "map"}
DIALECTS = FORK_ONLY
HEAD = True
DETECTS = True
NMS_KINDS = ("greedynms", "diounms", "cornersnms")  # parse_gaussian_yolo knows cornersnms too
# yolo_point: where the box's x, y point (the fork's YOLO_CENTER, YOLO_LEFT_TOP, YOLO_RIGHT_BOTTOM)
POINTS = {"center": 0, "left_top": 1, "right_bottom": -1}


def build(sec, ctx):
    classes = sec.get_int("classes", 20, min=1)
    total = sec.get_int("num", 1, min=1)
    mask = sec.get_list("mask", default=list(range(total)))
    if any(m < 0 or m >= total for m in mask):
        raise sec._err("mask", f"mask {mask} refers to anchors outside 0..{total - 1}")
    anchors = sec.get_list("anchors", float, default=[])
    if anchors and len(anchors) != 2 * total:  # more would overrun the fork's 2*num biases
        raise sec._err("anchors", f"{len(anchors)} anchor values for num={total} (need {2 * total})")
    if sec.has("counters_per_class"):
        counts = sec.get_list("counters_per_class")
        if len(counts) != classes:
            raise sec._err("counters_per_class", f"counters_per_class has {len(counts)} values for "
                                                 f"classes={classes} (the fork refuses this)")
    sec.get_int("max", 200)
    scale_x_y = sec.get_float("scale_x_y", 1.0)
    for key in ("jitter", "ignore_thresh", "truth_thresh", "iou_thresh", "random", "resize"):
        sec.get_float(key, 0.0)
    c, h, w = ctx.need_image(sec)
    want = len(mask) * (classes + 9)
    if c != want:
        raise ctx.fail(sec, f"input has {c} channels but {len(mask)} masks x ({classes} classes + 9) needs "
                            f"{want} (the fork refuses this)")
    return ctx.layer(sec, "Gaussian_yolo", (c, h, w),
                     opts=dict(classes=classes, num=total, mask=mask, anchors=anchors, scale_x_y=scale_x_y,
                               yolo_point=POINTS.get(sec.get_str("yolo_point", "center"), 0),
                               **nms_options(sec, NMS_KINDS)),
                     desc=f"{classes} cls")


def module(layer, net):
    """The fork's CPU forward at inference: per anchor, entries x, x-sigma, y, y-sigma, w, w-sigma, h,
    h-sigma, objectness, classes; the logistic on all but w and h, then x and y scaled by scale_x_y about 0.5."""
    import torch
    from ..nn import Elementwise
    c = layer.out_shape[0]
    k = layer.opts["classes"] + 9
    s = layer.opts["scale_x_y"]
    raw = torch.zeros(c, dtype=torch.bool)
    raw[4::k] = raw[6::k] = True
    scaled = torch.zeros(c, dtype=torch.bool)
    scaled[0::k] = scaled[2::k] = True
    keep, scale = raw.view(1, c, 1, 1), scaled.view(1, c, 1, 1)

    def fn(x):
        y = torch.where(keep.to(x.device), x, torch.sigmoid(x))
        if s == 1:
            return y
        return torch.where(scale.to(x.device), y * s - 0.5 * (s - 1), y)
    return Elementwise(fn, f"classes={layer.opts['classes']}, mask={layer.opts['mask']}, scale_x_y={s}")


def boxes(layer, output, frame):
    """get_gaussian_yolo_detections: as [yolo] (entries x, y, w, h at 0, 2, 4, 6, objectness at 8), the
    coordinates' uncertainties (1, 3, 5, 7) kept, and each probability times (1 - their mean)."""
    import numpy as np

    from .. import boxes as heads
    o = layer.opts
    _, h, w = layer.out_shape
    n = len(o["mask"])
    f32 = heads.F32
    v = np.asarray(output, dtype=f32).reshape(n, o["classes"] + 9, h * w)
    cell, a = np.divmod(np.flatnonzero(v[:, 8].T.reshape(-1) > f32(frame.thresh)), n)
    e = v[a, :, cell]
    aw, ah = anchors_for(layer, np.asarray(o["mask"])[a])
    box = np.empty((len(e), 4), f32)
    box[:, 2] = heads.scaled_size(e[:, 4], aw, frame.net_width)
    box[:, 3] = heads.scaled_size(e[:, 6], ah, frame.net_height)
    box[:, 0] = ((cell % w).astype(f32) + e[:, 0]) / f32(w) + o["yolo_point"] * box[:, 2] / f32(2)
    box[:, 1] = ((cell // w).astype(f32) + e[:, 2]) / f32(h) + o["yolo_point"] * box[:, 3] / f32(2)
    uc = e[:, [1, 3, 5, 7]]
    mean = (((uc[:, 0] + uc[:, 1]) + uc[:, 2]) + uc[:, 3]).astype(np.float64) / 4.0
    objectness = e[:, 8]
    probs = ((objectness[:, None] * e[:, 9:]).astype(np.float64) * (1.0 - mean.astype(f32))[:, None]).astype(f32)
    return heads.Rows(heads.correct(box, frame), objectness, heads.keep_above(probs, frame.thresh), uc)


def activate(layer, x, dialect):
    """module() in numpy, from the layer's input."""
    import numpy as np

    from .. import boxes as heads
    k = layer.opts["classes"] + 9
    y = np.array(x, dtype=heads.F32).reshape(len(x), -1, k, *layer.out_shape[1:])
    raw = np.zeros(k, bool)
    raw[[4, 6]] = True
    y[:, :, ~raw] = heads.logistic(y[:, :, ~raw])
    s = heads.F32(layer.opts["scale_x_y"])
    if s != 1:
        y[:, :, [0, 2]] = y[:, :, [0, 2]] * s - heads.F32(0.5 * (s - 1))
    return y.reshape(len(x), *layer.out_shape)
