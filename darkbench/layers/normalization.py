"""[normalization] / [lrn]: cross-channel LRN; darknet does not divide alpha by size."""
NAMES = ("normalization", "lrn")
KEYS = {"alpha", "beta", "kappa", "size"}


def build(sec, ctx):
    size = sec.get_int("size", 5, min=1)
    c, h, w = ctx.need_image(sec)
    return ctx.layer(sec, "normalization", (c, h, w),
                     opts=dict(size=size, alpha=sec.get_float("alpha", 0.0001),
                               beta=sec.get_float("beta", 0.75), kappa=sec.get_float("kappa", 1.0)),
                     desc=f"{size}")
