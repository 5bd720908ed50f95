"""[shortcut]: out = act(alpha*previous + beta*from), shaped like the previous layer."""
NAMES = ("shortcut",)
KEYS = {"from", "activation", "alpha", "beta"}


def build(sec, ctx):
    act = ctx.activation(sec, "linear")
    src = ctx.ref(sec, "from", sec.get_int("from"))
    c, h, w = ctx.need_image(sec)
    sc, sh, sw = src.out_shape
    if not sc:
        raise sec._err("from", f"layer {src.index} ({src.type}) has no image output")
    # darknet samples or strides when sizes differ; it asserts the ratios agree
    if not ((sw >= w and sw % w == 0 and sh % h == 0 and sw // w == sh // h) or
            (sw < w and w % sw == 0 and h % sh == 0 and w // sw == h // sh)):
        raise sec._err("from", f"layer {src.index} is {sw}x{sh}, not a whole multiple or fraction of {w}x{h}")
    return ctx.layer(sec, "shortcut", (c, h, w),
                     opts=dict(source=src.index, activation=act,
                               alpha=sec.get_float("alpha", 1.0), beta=sec.get_float("beta", 1.0)),
                     sources=(src.index,), extra_read=src.outputs, desc=f"from {src.index}")
