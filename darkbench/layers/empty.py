"""[empty] / [silence] (AlexeyAB fork): pass-through, the previous layer's output unchanged."""
from .traits import FORK_ONLY

NAMES = ("empty", "silence")
KEYS = set()
DIALECTS = FORK_ONLY


def build(sec, ctx):
    return ctx.layer(sec, "empty", (ctx.c, ctx.h, ctx.w), outputs=ctx.inputs)


def module(layer, net):
    from ..nn import Elementwise
    return Elementwise(lambda x: x, "pass-through")
