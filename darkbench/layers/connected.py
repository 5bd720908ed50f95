"""[connected] / [conn]: fully connected on the flattened (C,H,W) input."""
from .base import bn_weights, check_positive

NAMES = ("connected", "conn")
KEYS = {"output", "activation", "batch_normalize"}


def build(sec, ctx):
    out = sec.get_int("output", 1)
    act = ctx.activation(sec, "logistic")
    bn = sec.get_int("batch_normalize", 0)
    check_positive(sec, output=out)
    if ctx.inputs <= 0:
        raise ctx.fail(sec, "has no input")
    layer = ctx.layer(
        sec, "connected", (out, 1, 1),
        opts=dict(output=out, activation=act, batch_normalize=bn),
        # file order: biases, weights[out][in], then scales/mean/variance
        weights=[("biases", (out,)), ("weights", (out, ctx.inputs))] + bn_weights(out, bn),
        macs=ctx.inputs * out, ops=2 * ctx.inputs * out, desc=f"{out}")
    layer.image = False
    return layer
