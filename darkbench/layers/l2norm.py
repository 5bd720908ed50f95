"""[l2norm]: each position's channel vector scaled to unit L2 norm."""
NAMES = ("l2norm",)
KEYS = set()
DIALECTS = ("pjreddie",)  # the AlexeyAB fork has no such section


def DARKNET_FLOATS(layer):
    """Output, delta and the per-position scales its forward writes (footprint.py)."""
    return 3 * layer.outputs


def build(sec, ctx):
    return ctx.layer(sec, "l2norm", (ctx.c, ctx.h, ctx.w), outputs=ctx.inputs)


def module(layer, net):
    from ..nn import Elementwise
    if not all(layer.out_shape):  # no image (after softmax or a flat route): darknet's loop is empty, a copy
        return Elementwise(lambda x: x, "no image: identity")
    return Elementwise(lambda x: x / x.pow(2).sum(1, keepdim=True).sqrt(), "over channels")
