"""[gru]: z, r, h gates, each a U (input) and W (state) connected layer (analytic only)."""
from . import recurrent

NAMES = ("gru",)
KEYS = {"output", "batch_normalize", "tanh"}
TRANSPOSED = True


def build(sec, ctx):
    return recurrent.build(sec, ctx, "gru", ("wz", "wr", "wh", "uz", "ur", "uh"), {"uz", "ur", "uh"})


module = recurrent.module
