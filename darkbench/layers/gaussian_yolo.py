"""[Gaussian_yolo] (AlexeyAB fork, Gaussian YOLOv3): a yolo head with a mean and an uncertainty per box
coordinate: len(mask) * (classes + 9) channels, shaped like its input."""
from .traits import FORK_ONLY

NAMES = ("Gaussian_yolo",)
# all the fork's parse_gaussian_yolo reads; only classes, num, mask and anchors shape anything
KEYS = {"classes", "num", "mask", "anchors", "max", "max_delta", "counters_per_class", "label_smooth_eps",
        "scale_x_y", "objectness_smooth", "uc_normalizer", "iou_normalizer", "obj_normalizer",
        "cls_normalizer", "delta_normalizer", "iou_loss", "iou_thresh_kind", "beta_nms", "nms_kind",
        "yolo_point", "jitter", "resize", "ignore_thresh", "truth_thresh", "iou_thresh", "random", "map"}
DIALECTS = FORK_ONLY
HEAD = True
DETECTS = True


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
                     opts=dict(classes=classes, num=total, mask=mask, anchors=anchors, scale_x_y=scale_x_y),
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
