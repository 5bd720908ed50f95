"""[logistic]: darknet's logistic cross-entropy layer; a sigmoid at inference."""
NAMES = ("logistic",)
KEYS = set()
DIALECTS = ("pjreddie",)  # the AlexeyAB fork has no such section
DARKNET_TYPE = "LOGXENT"


def build(sec, ctx):
    return ctx.layer(sec, "logistic", (ctx.c, ctx.h, ctx.w), outputs=ctx.inputs)


def module(layer, net):
    import torch
    from ..nn import Elementwise
    return Elementwise(torch.sigmoid, "sigmoid")
