"""[region]: YOLOv2 head (logistic x, y, objectness; softmax over classes when softmax=1)."""
from ..errors import DarkbenchError

NAMES = ("region",)
KEYS = {"coords", "classes", "num", "anchors", "log", "sqrt", "softmax", "background", "max",
        "jitter", "rescore", "thresh", "classfix", "absolute", "random", "coord_scale",
        "object_scale", "noobject_scale", "mask_scale", "class_scale", "bias_match", "tree", "map"}
PJREDDIE_KEYS = frozenset({"background"})
DETECTS = True
FORK_KEYS = frozenset({"focal_loss", "resize"})


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
                               anchors=sec.get_list("anchors", float, default=[])),
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
