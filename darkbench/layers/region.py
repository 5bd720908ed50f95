"""[region]: YOLOv2 head (logistic x, y, objectness; softmax over classes when softmax=1)."""
NAMES = ("region",)
KEYS = {"coords", "classes", "num", "anchors", "log", "sqrt", "softmax", "background", "max",
        "jitter", "rescore", "thresh", "classfix", "absolute", "random", "coord_scale",
        "object_scale", "noobject_scale", "mask_scale", "class_scale", "bias_match", "tree", "map"}


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
