"""[scale]: a per-channel affine layer, y = x * weights[c] + biases[c], defined outside darkbench.

The proof that a layer family is one file: tests/test_layer_plugin.py loads it through DARKBENCH_LAYERS
and runs it through analysis, weights, torch, crosscheck and ONNX without any other module knowing it.
"""
from darkbench.layers.traits import PER_OUTPUT

NAMES = ("scale",)
KEYS = {"activation"}
COLOR = "tab:green"
TORCH_OPS = {"aten::addcmul": PER_OUTPUT}  # fvcore skips it; crosscheck counts 1 per output element


def FAN_IN(layer):
    """One input per weight: kernels uniform in +-sqrt(3)."""
    return 1


def build(sec, ctx):
    act = ctx.activation(sec, "linear")
    c, h, w = ctx.need_image(sec)
    return ctx.layer(sec, "scale", (c, h, w), opts=dict(activation=act),
                     weights=[("biases", (c,)), ("weights", (c,))],  # file order
                     desc=f"{c} x a + b")  # no MACs: darknet counts conv/connected only


def module(layer, net):
    import torch
    from torch import nn

    from darkbench.nn import Activation, Layer
    c = layer.out_shape[0]

    class Scale(Layer):
        def __init__(self):
            super().__init__()
            self.weights = nn.Parameter(torch.ones(c))
            self.biases = nn.Parameter(torch.zeros(c))
            self.act = Activation(layer.opts["activation"])

        def tensors(self):
            return {"weights": self.weights, "biases": self.biases}

        def forward(self, x, outs):
            return self.act(torch.addcmul(self.biases.view(1, c, 1, 1), x, self.weights.view(1, c, 1, 1)))
    return Scale()
