"""[region]: YOLOv2 head. 2018 darknet: logistic x, y, objectness; softmax over classes when softmax=1 (else
logistic). The AlexeyAB fork's CPU forward differs: it reorders the output cell by cell ([cell][anchor][entry])
and applies only the logistic to objectness and the softmax to classes (x, y get theirs when boxes are made).
Its boxes as each darknet's get_network_boxes decodes them (numpy)."""
from ..dialect import ALEXEYAB
from ..errors import DarkbenchError

NAMES = ("region",)
KEYS = {"coords", "classes", "num", "anchors", "log", "sqrt", "softmax", "background", "max",
        "jitter", "rescore", "thresh", "classfix", "absolute", "random", "coord_scale",
        "object_scale", "noobject_scale", "mask_scale", "class_scale", "bias_match", "tree", "map"}
PJREDDIE_KEYS = frozenset({"background"})
FORK_KEYS = frozenset({"focal_loss", "resize"})
DETECTS = True


def build(sec, ctx):
    coords = sec.get_int("coords", 4, min=0)
    classes = sec.get_int("classes", 20, min=0)
    num = sec.get_int("num", 1, min=1)
    c, h, w = ctx.need_image(sec)
    want = num * (coords + classes + 1)
    if c != want:
        raise ctx.fail(sec, f"input has {c} channels but num={num} x ({coords} coords + {classes} "
                            f"classes + 1) needs {want}")
    return ctx.layer(sec, "region", (c, h, w),
                     opts=dict(coords=coords, classes=classes, num=num, softmax=sec.get_int("softmax", 0),
                               background=sec.get_int("background", 0), tree=sec.get_str("tree"),
                               anchors=sec.get_list("anchors", float, default=[]),
                               classfix=sec.get_int("classfix", 0) if ctx.fork else 0),
                     desc=f"{classes} cls")


def module(layer, net):
    import torch
    from ..nn import Elementwise
    o = layer.opts
    if o["tree"]:
        # parse_region never sets the temperature its tree softmax divides by: darknet's CPU output is NaN
        raise DarkbenchError("[region] tree= is not built: darknet's CPU forward of a tree region divides by a "
                             "zero softmax temperature (its outputs are NaN), so there is nothing to match",
                             net.path, layer.line, layer.index)
    c, h, w = layer.out_shape
    num, coords, classes, bg = o["num"], o["coords"], o["classes"], o["background"]
    k = coords + classes + 1
    if net.dialect == ALEXEYAB:
        return _fork_module(layer, net)

    def fn(x):
        n = x.shape[0]
        v = x.view(n, num, k, h, w)
        parts = [torch.sigmoid(v[:, :, :2]), v[:, :, 2:coords]]
        obj = v[:, :, coords:coords + 1]
        parts.append(obj if bg else torch.sigmoid(obj))
        cls = v[:, :, coords + 1:]
        if o["softmax"]:  # darknet: softmax over classes + background, starting at coords + !background
            start = coords + (0 if bg else 1)
            sm = v[:, :, start:start + classes + bg].softmax(2)
            parts = parts[:2] + ([sm] if bg else [parts[2], sm])
        else:
            parts.append(torch.sigmoid(cls))
        return torch.cat(parts, 2).view(n, c, h, w)
    return Elementwise(fn, f"num={num}, classes={classes}, softmax={o['softmax']}")


def _fork_module(layer, net):
    import torch
    from ..nn import Elementwise
    o = layer.opts
    c, h, w = layer.out_shape
    if o["coords"] != 4:
        raise DarkbenchError(f"[region] coords={o['coords']} is not built in the AlexeyAB fork's dialect: its "
                             "forward lays every box out as 4 coordinates + objectness + classes", net.path,
                             layer.line, layer.index)

    def fn(x):
        n = x.shape[0]
        v = x.reshape(n, c, h * w).transpose(1, 2).reshape(n, h * w * o["num"], o["classes"] + 5)
        cls = v[:, :, 5:].softmax(-1) if o["softmax"] else v[:, :, 5:]
        return torch.cat([v[:, :, :4], torch.sigmoid(v[:, :, 4:5]), cls], 2).reshape(n, c, h, w)
    return Elementwise(fn, f"num={o['num']}, classes={o['classes']}, softmax={o['softmax']} "
                           "(the fork's layout: cell by cell)")


def boxes(layer, output, frame):
    """2018 (get_region_detections): slots anchor by anchor; every slot a row, objectness zeroed at or below
    thresh (and then its probs); anchors in cells. The fork (custom_get_region_detections over
    get_region_boxes): slots cell by cell, objectness 1, probs objectness * class above thresh, x, y through
    the logistic here; classfix=-1 zeroes objectness below .5."""
    import numpy as np

    from .. import boxes as heads
    o = layer.opts
    if o["tree"]:
        raise DarkbenchError("[region] tree= has no boxes here: darknet's CPU forward of a tree region gives NaN",
                             None, layer.line, layer.index)
    _, h, w = layer.out_shape
    num, classes = o["num"], o["classes"]
    f32 = heads.F32
    anchor = heads.biases(layer, 2 * num)
    fork = frame.dialect == ALEXEYAB
    if fork:  # [cell][anchor][entry]
        e = np.asarray(output, dtype=f32).reshape(h * w * num, classes + 5)
        cell, a = np.divmod(np.arange(len(e)), num)
        x, y = heads.logistic(e[:, 0]), heads.logistic(e[:, 1])
        scale = e[:, 4]
        if o["classfix"] == -1:
            scale = np.where(scale < .5, f32(0), scale)
        objectness = np.ones(len(e), f32)
        probs = heads.keep_above(scale[:, None] * e[:, 5:], frame.thresh)
    else:  # [anchor][entry][cell]
        v = np.asarray(output, dtype=f32).reshape(num, o["coords"] + classes + 1, h * w)
        e = v.transpose(0, 2, 1).reshape(num * h * w, -1)
        a, cell = np.divmod(np.arange(len(e)), h * w)
        x, y = e[:, 0], e[:, 1]
        scale = np.ones(len(e), f32) if o["background"] else e[:, o["coords"]]
        objectness = np.where(scale > f32(frame.thresh), scale, f32(0))
        start = o["coords"] + 1
        probs = heads.keep_above(scale[:, None] * e[:, start:start + classes], frame.thresh)
        probs[objectness == 0] = 0
    box = np.empty((len(e), 4), f32)
    box[:, 0] = ((cell % w).astype(f32) + x) / f32(w)
    box[:, 1] = ((cell // w).astype(f32) + y) / f32(h)
    box[:, 2] = heads.scaled_size(e[:, 2], anchor[2 * a], w)
    box[:, 3] = heads.scaled_size(e[:, 3], anchor[2 * a + 1], h)
    return heads.Rows(heads.correct(box, frame), objectness, probs)


def activate(layer, x, dialect):
    """module() in numpy, from the layer's input (either dialect's forward)."""
    import numpy as np

    from .. import boxes as heads
    o = layer.opts
    c, h, w = layer.out_shape
    n = len(x)
    f32 = heads.F32
    if dialect == ALEXEYAB:
        v = np.array(x, dtype=f32).reshape(n, c, h * w).transpose(0, 2, 1).reshape(n, -1, o["classes"] + 5).copy()
        v[:, :, 4] = heads.logistic(v[:, :, 4])
        if o["softmax"]:
            v[:, :, 5:] = heads.softmax(v[:, :, 5:])
        return v.reshape(n, c, h, w)
    coords, bg = o["coords"], o["background"]
    v = np.array(x, dtype=f32).reshape(n, o["num"], coords + o["classes"] + 1, h, w)
    v[:, :, :2] = heads.logistic(v[:, :, :2])
    if not bg:
        v[:, :, coords] = heads.logistic(v[:, :, coords])
    if o["softmax"]:
        start = coords + (0 if bg else 1)
        v[:, :, start:start + o["classes"] + bg] = heads.softmax(v[:, :, start:start + o["classes"] + bg], axis=2)
    else:
        v[:, :, coords + 1:] = heads.logistic(v[:, :, coords + 1:])
    return v.reshape(n, c, h, w)
