"""[detection]: YOLOv1 head on a flat input of side*side*((1+coords)*num + classes)."""
NAMES = ("detection",)
KEYS = {"coords", "classes", "rescore", "num", "side", "softmax", "sqrt", "max", "coord_scale",
        "forced", "object_scale", "noobject_scale", "class_scale", "jitter", "random", "reorg",
        "random"}


def build(sec, ctx):
    coords = sec.get_int("coords", 1, min=0)
    classes = sec.get_int("classes", 1, min=0)
    num = sec.get_int("num", 1, min=1)
    side = sec.get_int("side", 7, min=1)
    want = side * side * ((1 + coords) * num + classes)
    if ctx.inputs != want:
        raise ctx.fail(sec, f"input has {ctx.inputs} values but side={side}, num={num}, coords={coords}, "
                            f"classes={classes} needs {want}")
    layer = ctx.layer(sec, "detection", (0, 0, 0), outputs=ctx.inputs,
                      opts=dict(coords=coords, classes=classes, num=num, side=side,
                                softmax=sec.get_int("softmax", 0), sqrt=sec.get_int("sqrt", 0)))
    layer.image = False
    return layer
