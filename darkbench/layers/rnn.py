"""[rnn]: input, self and output connected layers (analytic only)."""
from . import recurrent

NAMES = ("rnn",)
KEYS = {"output", "hidden", "activation", "batch_normalize", "shortcut"}
TRANSPOSED = True


def build(sec, ctx):
    ctx.activation(sec, "logistic")
    sec.get_int("hidden", 1)  # read by old darknet versions; pjreddie's sizes all by `output`
    return recurrent.build(sec, ctx, "rnn", ("input_layer", "self_layer", "output_layer"),
                           {"input_layer"})


module = recurrent.module
