"""[activation]: an activation function on its own (default linear)."""
NAMES = ("activation",)
KEYS = {"activation"}
DARKNET_TYPE = "ACTIVE"


def build(sec, ctx):
    act = ctx.activation(sec, "linear")
    return ctx.layer(sec, "activation", (ctx.c, ctx.h, ctx.w), outputs=ctx.inputs,
                     opts=dict(activation=act), desc=act)


def module(layer, net):
    from ..nn import Activation, Elementwise
    return Elementwise(Activation(layer.opts["activation"]), layer.opts["activation"])
