"""[reorg]: darknet's own space-to-depth (its index permutation, not pixel_unshuffle)."""
NAMES = ("reorg",)
KEYS = {"stride", "reverse", "flatten", "extra"}


def build(sec, ctx):
    s = sec.get_int("stride", 1)
    reverse = sec.get_int("reverse", 0)
    flatten = sec.get_int("flatten", 0)
    extra = sec.get_int("extra", 0, min=0)
    if s <= 0:
        raise sec._err("stride", f"stride={s} must be > 0")
    c, h, w = ctx.need_image(sec)
    if reverse:
        if c % (s * s):
            raise sec._err("stride", f"reverse reorg: {c} channels not divisible by {s * s}")
        shape = (c // (s * s), h * s, w * s)
    else:
        if h % s or w % s:
            raise sec._err("stride", f"stride {s} does not divide the {w}x{h} input")
        shape = (c * s * s, h // s, w // s)
    if extra:  # darknet: a flat vector of the inputs plus `extra` zeros
        layer = ctx.layer(sec, "reorg", (0, 0, 0), outputs=ctx.inputs + extra,
                          opts=dict(stride=s, reverse=reverse, flatten=flatten, extra=extra))
        layer.image = False
        return layer
    return ctx.layer(sec, "reorg", shape, opts=dict(stride=s, reverse=reverse, flatten=flatten, extra=0),
                     desc=f"/{s}")
