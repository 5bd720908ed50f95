"""[detection]: YOLOv1 head on a flat input of side*side*((1+coords)*num + classes)."""
NAMES = ("detection",)
KEYS = {"coords", "classes", "rescore", "num", "side", "softmax", "sqrt", "max", "coord_scale",
        "forced", "object_scale", "noobject_scale", "class_scale", "jitter", "random", "reorg",
        "random"}
DETECTS = True
FORK_KEYS = frozenset({"resize"})


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
