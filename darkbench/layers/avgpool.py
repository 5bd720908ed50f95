"""[avgpool] / [avg]: global average over H and W."""
NAMES = ("avgpool", "avg")
KEYS = set()


def build(sec, ctx):
    c, h, w = ctx.need_image(sec)
    return ctx.layer(sec, "avgpool", (c, 1, 1))


def module(layer, net):
    from ..nn import Elementwise
    return Elementwise(lambda x: x.mean((2, 3), keepdim=True), "global")
