"""[batchnorm]: stand-alone batch norm (scales, rolling mean, rolling variance stored)."""
NAMES = ("batchnorm",)
KEYS = set()


def build(sec, ctx):
    c, h, w = ctx.need_image(sec)
    return ctx.layer(sec, "batchnorm", (c, h, w),
                     weights=[("scales", (c,)), ("rolling_mean", (c,)), ("rolling_variance", (c,))])
