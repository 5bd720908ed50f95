"""[Gaussian_yolo] (AlexeyAB fork, Gaussian YOLOv3): a yolo head with a mean and an uncertainty per box
coordinate: len(mask) * (classes + 9) channels, shaped like its input."""
from .fork_common import FORK_ONLY, not_built

NAMES = ("Gaussian_yolo",)
# all the fork's parse_gaussian_yolo reads; only classes, num, mask and anchors shape anything
KEYS = {"classes", "num", "mask", "anchors", "max", "max_delta", "counters_per_class", "label_smooth_eps",
        "scale_x_y", "objectness_smooth", "uc_normalizer", "iou_normalizer", "obj_normalizer",
        "cls_normalizer", "delta_normalizer", "iou_loss", "iou_thresh_kind", "beta_nms", "nms_kind",
        "yolo_point", "jitter", "resize", "ignore_thresh", "truth_thresh", "iou_thresh", "random", "map"}
DIALECTS = FORK_ONLY
HEAD = True


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
    for key in ("scale_x_y", "jitter", "ignore_thresh", "truth_thresh", "iou_thresh", "random", "resize"):
        sec.get_float(key, 0.0)
    c, h, w = ctx.need_image(sec)
    want = len(mask) * (classes + 9)
    if c != want:
        raise ctx.fail(sec, f"input has {c} channels but {len(mask)} masks x ({classes} classes + 9) needs "
                            f"{want} (the fork refuses this)")
    return ctx.layer(sec, "Gaussian_yolo", (c, h, w),
                     opts=dict(classes=classes, num=total, mask=mask, anchors=anchors),
                     desc=f"{classes} cls")


module = not_built
