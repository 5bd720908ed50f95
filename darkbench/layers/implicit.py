"""[implicit] (AlexeyAB fork, YOLOR): a learnt constant, filters x atoms values, whatever the input.
Its output is 1 wide, `atoms` high, `filters` channels; the values are stored in the weights file."""
from .traits import FORK_ONLY, MOVEMENT

NAMES = ("implicit",)
KEYS = {"mean", "std", "filters", "atoms"}
DIALECTS = FORK_ONLY
TORCH_OPS = {"aten::unsqueeze": MOVEMENT, "aten::repeat": MOVEMENT}


def build(sec, ctx):
    sec.get_float("mean", 0.0)  # initial values only
    sec.get_float("std", 0.2)
    filters = sec.get_int("filters", 128, min=1)
    atoms = sec.get_int("atoms", 1, min=1)
    layer = ctx.layer(sec, "implicit", (filters, atoms, 1), opts=dict(filters=filters, atoms=atoms),
                      weights=[("weights", (filters, atoms, 1))], desc=f"{filters}x{atoms}")
    layer.inputs = 0  # reads nothing but its own values
    return layer


def module(layer, net):
    import torch
    from ..nn import Layer
    shape = layer.out_shape

    class Implicit(Layer):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(shape))

        def tensors(self):
            return {"weights": self.weight}

        def forward(self, x, outs):
            return self.weight.unsqueeze(0).repeat(x.shape[0], 1, 1, 1)  # a copy: a view of a leaf confuses autograd hooks

        def extra_repr(self):
            return "x".join(map(str, shape))
    return Implicit()
