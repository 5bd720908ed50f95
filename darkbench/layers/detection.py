"""[detection]: YOLOv1 head on a flat input of side*side*((1+coords)*num + classes); its boxes as darknet's
get_detection_detections decodes them (numpy)."""

NAMES = ("detection",)
KEYS = {"coords", "classes", "rescore", "num", "side", "softmax", "sqrt", "max", "coord_scale",
        "forced", "object_scale", "noobject_scale", "class_scale", "jitter", "random", "reorg",
        "random"}
FORK_KEYS = frozenset({"resize"})
DETECTS = True


def build(sec, ctx):
    coords = sec.get_int("coords", 1, min=0)
    classes = sec.get_int("classes", 1, min=0)
    num = sec.get_int("num", 1, min=1)
    side = sec.get_int("side", 7, min=1)
    want = side * side * ((1 + coords) * num + classes)
    if ctx.inputs != want:
        raise ctx.fail(sec, f"input has {ctx.inputs} values but side={side}, num={num}, coords={coords}, "
                            f"classes={classes} needs {want}")
    return ctx.layer(sec, "detection", (0, 0, 0), outputs=ctx.inputs,
                     opts=dict(coords=coords, classes=classes, num=num, side=side,
                               softmax=sec.get_int("softmax", 0), sqrt=sec.get_int("sqrt", 0)))


def module(layer, net):
    import torch
    from ..nn import Elementwise
    o = layer.opts
    loc, classes = o["side"] * o["side"], o["classes"]
    if not o["softmax"]:
        return Elementwise(lambda x: x.flatten(1), "identity at inference")

    def fn(x):  # darknet: softmax over each location's class block, the rest unchanged
        x = x.flatten(1)
        n = x.shape[0]
        head = x[:, :loc * classes].reshape(n, loc, classes).softmax(-1).reshape(n, -1)
        return torch.cat([head, x[:, loc * classes:]], 1)
    return Elementwise(fn, "softmax over classes")


def boxes(layer, output, frame):
    """Slots cell by cell, box by box within a cell; every slot a row with its confidence as objectness (no
    threshold on it); probs confidence * the cell's class probability. darknet gives x, w times the image's
    width and y, h times its height, relative to the network input (no letterbox correction in either
    darknet): here they stay relative (divided back)."""
    import numpy as np

    from .. import boxes as heads
    o = layer.opts
    side, n, classes = o["side"], o["num"], o["classes"]
    f32 = heads.F32
    p = np.asarray(output, dtype=f32).reshape(-1)
    loc = side * side
    slot = np.arange(loc * n)
    cell = slot // n
    scale = p[loc * classes + slot]
    e = p[loc * (classes + n):loc * (classes + n) + 4 * loc * n].reshape(loc * n, 4)
    box = np.empty((len(slot), 4), f32)
    box[:, 0] = (e[:, 0] + (cell % side).astype(f32)) / f32(side)
    box[:, 1] = (e[:, 1] + (cell // side).astype(f32)) / f32(side)
    power = 2 if o["sqrt"] else 1
    box[:, 2:] = (e[:, 2:].astype(np.float64) ** power).astype(f32)
    cls = p[:loc * classes].reshape(loc, classes)[cell]
    return heads.Rows(box, scale, heads.keep_above(scale[:, None] * cls, frame.thresh))


def activate(layer, x, dialect):
    """module() in numpy, from the layer's input."""
    import numpy as np

    from .. import boxes as heads
    y = np.array(x, dtype=heads.F32).reshape(len(x), -1)
    if layer.opts["softmax"]:
        loc, classes = layer.opts["side"] ** 2, layer.opts["classes"]
        y[:, :loc * classes] = heads.softmax(y[:, :loc * classes].reshape(len(x), loc, classes)).reshape(len(x), -1)
    return y
