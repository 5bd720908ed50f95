"""A darknet cfg as a torch.nn.Module, built from the analytic layer specs."""
import os

import torch
from torch import nn

from . import models
from .errors import DarkbenchError
from .layers import REGISTRY
from .nn import Conv


def _available_memory():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


class Darknet(nn.Module):
    """model(x) -> darknet's network output (the last non-cost layer), or a tuple of yolo head
    outputs in layer order. Image outputs are NCHW; flat outputs (connected, softmax, detection,
    reorg extra=) are (N, outputs), in darknet's C,H,W order. x.reshape(N, -1)[i] is darknet's
    l.output for image i, so a yolo/region output's channels are [anchor][entry] as darknet lays them."""

    def __init__(self, net):
        super().__init__()
        self.spec = net
        self.input_shape = (net.channels, net.height, net.width)
        self.layers = nn.ModuleList(REGISTRY[l.type].module(l, net) for l in net.layers)
        yolo = [l.index for l in net.layers if l.type == "yolo"]
        self.heads = yolo if len(yolo) > 1 else [net.output_index]
        needed = set(self.heads)
        for l in net.layers:
            needed.update(l.sources)
        self.keep = [i in needed for i in range(len(net.layers))]
        self.last = max(self.heads)

    def _check(self, x):
        if x.dim() != 4 or tuple(x.shape[1:]) != self.input_shape:
            c, h, w = self.input_shape
            raise DarkbenchError(f"{self.spec.path}: input of shape {tuple(x.shape)}; expected (N, {c}, {h}, {w})"
                                 " (N, channels, height, width)")

    def forward(self, x):
        self._check(x)
        x = x.contiguous(memory_format=torch.channels_last)  # oneDNN's fast layout on CPU
        outs = [None] * (self.last + 1)
        for i in range(self.last + 1):
            x = self.layers[i](x, outs)
            if self.keep[i]:
                outs[i] = x
        return outs[self.heads[0]] if len(self.heads) == 1 else tuple(outs[i] for i in self.heads)

    def forward_to(self, x, last):
        """Layers 0..last only, differentiable (any input size the layers allow): for nightmare."""
        x = x.contiguous(memory_format=torch.channels_last)
        outs = [None] * (last + 1)
        for i in range(last + 1):
            x = self.layers[i](x, outs)
            outs[i] = x
        return x

    def layer_outputs(self, x):
        """Every layer's output in darknet's layer order (for parity checks)."""
        self._check(x)
        outs = []
        for layer in self.layers:
            x = layer(x, outs)
            outs.append(x)
        return outs

    def named_weights(self):
        """(layer, name, tensor) in .weights file order, for saved layers."""
        for spec, layer in zip(self.spec.layers, self.layers):
            if not spec.saved:
                continue
            t = layer.tensors()
            for name, shape in spec.weights:
                yield spec, name, t[name]

    def fuse(self):
        """Fold batch norm into convolutions (inference form; channels-last like every model)."""
        for layer in self.layers:
            if isinstance(layer, Conv):
                layer.fuse()
        return self.to(memory_format=torch.channels_last)

    def load_weights(self, path):
        from . import weights
        weights.load_into(self, path)
        return self

    def save_weights(self, path, overwrite=False):
        from . import weights
        weights.save_from(self, path, overwrite=overwrite)


def estimate_bytes(net, batch=1):
    """Activations kept during a forward pass plus the weights, at fp32."""
    return 4 * (batch * (sum(l.outputs for l in net.layers) + net.inputs) + net.weight_floats)


def check_memory(net):
    """Refuse a build that would not fit (cfg or Keras network: layers' outputs, inputs, weight_floats)."""
    need = estimate_bytes(net)
    avail = _available_memory()
    if avail is not None and need > 0.8 * avail:
        raise DarkbenchError(f"{net.path}: building needs about {need / 2**30:.1f} GiB at batch 1 "
                             f"(activations + weights) but only {avail / 2**30:.1f} GiB is available")


def build(net):
    check_memory(net)
    with torch.no_grad():
        model = Darknet(net)
    return model.eval().to(memory_format=torch.channels_last)


def load(cfg, weights=None, width=None, height=None, fuse=False):
    """Build a cfg (or Keras .json/.keras) as an eval-mode torch module; optionally load .weights."""
    path = models.resolve(cfg)
    if models.is_keras(path):
        from . import keras
        if weights is not None:
            raise DarkbenchError("weights cannot be loaded into a Keras model (only its architecture is read)", path)
        return keras.load(path, width=width, height=height, fuse=fuse)
    net = models.analyse(path, width, height)
    model = build(net)
    if weights is not None:
        model.load_weights(os.fspath(weights))
    if fuse:
        model.fuse()
    return model
