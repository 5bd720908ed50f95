"""[lstm]: i, f, o, g gates, each a W (state) and U (input) connected layer (analytic only)."""
from . import recurrent

NAMES = ("lstm",)
KEYS = {"output", "batch_normalize"}
TRANSPOSED = True


def build(sec, ctx):
    return recurrent.build(sec, ctx, "lstm", ("wi", "wf", "wo", "wg", "ui", "uf", "uo", "ug"),
                           {"ui", "uf", "uo", "ug"})


module = recurrent.module
