"""[l2norm]: each position's channel vector scaled to unit L2 norm."""
NAMES = ("l2norm",)
KEYS = set()


def build(sec, ctx):
    layer = ctx.layer(sec, "l2norm", (ctx.c, ctx.h, ctx.w), outputs=ctx.inputs)
    layer.image = ctx.image
    return layer


def module(layer, net):
    from ..nn import Elementwise
    return Elementwise(lambda x: x / x.pow(2).sum(1, keepdim=True).sqrt(), "over channels")
