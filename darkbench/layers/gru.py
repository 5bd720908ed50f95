"""[gru]: z, r, h gates, each an input and a state connected layer (analytic only).

File order: 2018 darknet wz, wr, wh (state), uz, ur, uh (input); the fork input_z, input_r, input_h,
then state_z, state_r, state_h."""
from . import recurrent

NAMES = ("gru",)
KEYS = {"output", "batch_normalize", "tanh"}
PJREDDIE_KEYS = frozenset({"tanh"})
TRANSPOSED = True
_ORDER = {"pjreddie": (("wz", "wr", "wh", "uz", "ur", "uh"), {"uz", "ur", "uh"}),
         "alexeyab": (("input_z", "input_r", "input_h", "state_z", "state_r", "state_h"),
                      {"input_z", "input_r", "input_h"})}


def build(sec, ctx):
    return recurrent.build(sec, ctx, "gru", *_ORDER[ctx.dialect])


module = recurrent.module
