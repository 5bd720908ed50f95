"""[rnn]: input, self and output connected layers (analytic only).

2018 darknet sizes all three by `output`; the fork's input and self layers have `hidden` outputs."""
from . import recurrent

NAMES = ("rnn",)
KEYS = {"output", "hidden", "activation", "batch_normalize", "shortcut"}
FORK_KEYS = frozenset({"logistic"})
TRANSPOSED = True


def build(sec, ctx):
    ctx.activation(sec, "logistic")
    hidden = sec.get_int("hidden", 1, min=1)  # read by 2018 darknet too, which sizes all by `output`
    sizes = None
    if ctx.fork:
        out = sec.get_int("output", 1, min=1)
        sizes = {"input_layer": (ctx.inputs, hidden), "self_layer": (hidden, hidden),
                 "output_layer": (hidden, out)}
    return recurrent.build(sec, ctx, "rnn", ("input_layer", "self_layer", "output_layer"),
                           {"input_layer"}, sizes, image=ctx.fork)


module = recurrent.module
