"""[connected] / [conn]: fully connected on the flattened (C,H,W) input."""
from .loading import bn_weights
from .options import check_positive
from .traits import bn_darknet_floats

NAMES = ("connected", "conn")
KEYS = {"output", "activation", "batch_normalize"}
DONTLOADSCALES = TRANSPOSED = True
COLOR = "tab:orange"
MARKER = "s"
DARKNET_FLOATS = bn_darknet_floats  # footprint.py


def build(sec, ctx):
    out = sec.get_int("output", 1)
    act = ctx.activation(sec, "logistic")
    bn = sec.get_int("batch_normalize", 0)
    check_positive(sec, output=out)
    if ctx.inputs <= 0:
        raise ctx.fail(sec, "has no input")
    # darknet's output is an out x 1 x 1 image: image layers may follow
    return ctx.layer(
        sec, "connected", (out, 1, 1),
        opts=dict(output=out, activation=act, batch_normalize=bn),
        # file order: biases, weights[out][in], then scales/mean/variance
        weights=[("biases", (out,)), ("weights", (out, ctx.inputs))] + bn_weights(out, bn),
        macs=ctx.inputs * out, ops=2 * ctx.inputs * out, desc=f"{out}")


def module(layer, net):
    from torch import nn
    from ..nn import Activation, DarknetBN, Layer, weight_tensors
    o = layer.opts
    bn = o["batch_normalize"]

    class Connected(Layer):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(layer.inputs, o["output"], bias=not bn)
            self.bn = DarknetBN(o["output"]) if bn else None
            self.act = Activation(o["activation"])

        def tensors(self):
            return weight_tensors(self.fc.weight, self.fc.bias, self.bn)

        def forward(self, x, outs):
            x = self.fc(x.flatten(1))
            if self.bn is not None:
                x = self.bn(x)
            return self.act(x)
    return Connected()
