"""[l2norm]: each position's channel vector scaled to unit L2 norm."""
NAMES = ("l2norm",)
KEYS = set()


def build(sec, ctx):
    layer = ctx.layer(sec, "l2norm", (ctx.c, ctx.h, ctx.w), outputs=ctx.inputs)
    layer.image = ctx.image
    return layer


def module(layer, net):
    from ..nn import Elementwise
    if not layer.out_shape[0]:  # after softmax/detection darknet's channel count is 0: a plain copy
        return Elementwise(lambda x: x, "no channels: identity")
    return Elementwise(lambda x: x / x.pow(2).sum(1, keepdim=True).sqrt(), "over channels")
