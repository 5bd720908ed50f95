"""A Keras architecture as a PyTorch module (NCHW, random weights): for timing and shapes. Each layer's
module comes from its Kind (darkbench/keras/kinds/)."""
import torch
from torch import nn

from ..errors import DarkbenchError
from ..memory import check_memory
from .layers import KINDS


def _module(layer, path):
    return KINDS[layer.type].module(layer, f"{path}: layer '{layer.name}' ({layer.type})")


class KerasModel(nn.Module):
    """Runs the layers in the file's (topological) order on NCHW tensors; image tensors stay NCHW,
    others keep Keras' layout."""

    def __init__(self, knet):
        super().__init__()
        self.path = knet.path
        s = knet.input_keras_shape
        self.input_shape = (s[2], s[0], s[1]) if len(s) == 3 else tuple(s)
        if len(knet.outputs) != 1:
            raise DarkbenchError(f"{knet.path}: the model has {len(knet.outputs)} outputs "
                                 f"({', '.join(knet.outputs)}); only single-output models can be built")
        self.input_name, self.output_name = knet.nodes[0].name, knet.outputs[0]
        self.names, self.order, mods = [], [], []
        built = {}
        for layer, node in zip(knet.layers, knet.nodes[1:]):
            op = built[layer.name] = _module(layer, knet.path)
            if layer.shares:
                _tie(op, built[layer.shares])
            mods.append(op)
            self.names.append(node.name)
            self.order.append((node.name, node.inputs))
        self.layers = nn.ModuleList(mods)
        last = {}  # the step after which forward() may drop a value
        for step, (_, inputs) in enumerate(self.order):
            for i in inputs:
                last[i] = step
        self.drop = [[i for i in dict.fromkeys(inputs) if last[i] == step and i != self.output_name]
                     for step, (_, inputs) in enumerate(self.order)]

    def _run(self, x, keep):
        if tuple(x.shape[1:]) != self.input_shape:
            raise DarkbenchError(f"{self.path}: input of shape {tuple(x.shape)}; expected "
                                 f"(N, {', '.join(map(str, self.input_shape))})")
        vals = {self.input_name: x}
        for (name, inputs), m, drop in zip(self.order, self.layers, self.drop):
            vals[name] = m(*[vals[i] for i in inputs])
            if not keep:
                for i in drop:
                    del vals[i]
        return vals

    def trace(self, x):
        """Every layer's output by name (image outputs NCHW)."""
        return self._run(x, keep=True)

    def forward(self, x):
        return self._run(x, keep=False)[self.output_name]


def _tie(op, first):
    """A shared layer's later call: the first call's weights in place of its own (same structure)."""
    for mine, theirs in zip(op.modules(), first.modules()):
        mine._parameters.update(theirs._parameters)
        mine._buffers.update(theirs._buffers)


def build(knet):
    """An eval-mode torch module for a KerasNetwork: random weights, NCHW input of .input_shape."""
    check_memory(knet)  # the cfg builder's check: refuse what would not fit, before allocating
    with torch.no_grad():
        return KerasModel(knet).eval()
