"""[lstm]: i, f, o, g gates, each a W (state) and U (input) connected layer (analytic only).

File order: 2018 darknet wi, wf, wo, wg, ui, uf, uo, ug; the fork wf, wi, wg, wo, uf, ui, ug, uo."""
from . import recurrent

NAMES = ("lstm",)
KEYS = {"output", "batch_normalize"}
TRANSPOSED = True
_ORDER = {"pjreddie": ("wi", "wf", "wo", "wg", "ui", "uf", "uo", "ug"),
         "alexeyab": ("wf", "wi", "wg", "wo", "uf", "ui", "ug", "uo")}


def build(sec, ctx):
    return recurrent.build(sec, ctx, "lstm", _ORDER[ctx.dialect], {"ui", "uf", "uo", "ug"}, image=ctx.fork)


module = recurrent.module
