"""A darknet cfg as a torch.nn.Module, built from the analytic layer specs (darkbench.models.load is the door)."""
import torch
from torch import nn

from . import weights
from .dialect import ALEXEYAB
from .errors import DarkbenchError
from .memory import check_memory
from .nn import Conv, DarknetBN


class Darknet(nn.Module):
    """model(x) -> darknet's network output (the last non-cost layer), or a tuple of yolo head
    outputs in layer order. Image outputs are NCHW; flat outputs (connected, softmax, detection,
    reorg extra=) are (N, outputs), in darknet's C,H,W order. x.reshape(N, -1)[i] is darknet's
    l.output for image i, so a yolo/region output's channels are [anchor][entry] as darknet lays them."""

    def __init__(self, net):
        super().__init__()
        self.spec = net
        self.input_shape = input_shape(net)
        self.layers = nn.ModuleList(_module(l, net) for l in net.layers)
        self._fork_batch_norm(getattr(net, "dialect", None) == ALEXEYAB)
        self._tie()
        # darknet's buffers are flat: a connected output (N, c), or one passed on by dropout or a route,
        # is a c x 1 x 1 image to the layer that reads an image from it
        self.unflatten = [l.in_shape if l.reads_image and l.in_shape[1:] == (1, 1) else None
                          for l in net.layers]
        self.heads = net.returned
        needed = set(self.heads)
        for l in net.layers:
            needed.update(l.sources)
        self.keep = [i in needed for i in range(len(net.layers))]
        self.last = max(self.heads)

    def _check(self, x):
        if x.dim() != 1 + len(self.input_shape) or tuple(x.shape[1:]) != self.input_shape:
            want = ", ".join(map(str, self.input_shape))
            what = "(N, channels, height, width)" if len(self.input_shape) == 3 else "(N, inputs)"
            raise DarkbenchError(f"{self.spec.path}: input of shape {tuple(x.shape)}; expected (N, {want}) {what}")

    def input_of(self, i, x):
        """The previous output x as layer i reads it."""
        shape = self.unflatten[i]
        return x.reshape(x.shape[0], *shape) if shape is not None and x.dim() == 2 else x

    def forward(self, x):
        self._check(x)
        x = _channels_last(x)
        outs = [None] * (self.last + 1)
        for i in range(self.last + 1):
            x = self.layers[i](self.input_of(i, x), outs)
            if self.keep[i]:
                outs[i] = x
        return outs[self.heads[0]] if len(self.heads) == 1 else tuple(outs[i] for i in self.heads)

    def forward_to(self, x, last):
        """Layers 0..last only, differentiable (any input size the layers allow): for nightmare."""
        x = _channels_last(x)
        outs = [None] * (last + 1)
        for i in range(last + 1):
            x = self.layers[i](self.input_of(i, x), outs)
            outs[i] = x
        return x

    def layer_outputs(self, x):
        """Every layer's output in darknet's layer order (for parity checks)."""
        self._check(x)
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(self.input_of(i, x), outs)
            outs.append(x)
        return outs

    def named_weights(self, saved_only=True):
        """(layer, name, tensor) in .weights file order, for saved layers (all with saved_only=False)."""
        for spec, layer in zip(self.spec.layers, self.layers):
            if saved_only and not spec.saved:
                continue
            t = layer.tensors()
            for name, shape in spec.weights:
                yield spec, name, t[name]

    def _fork_batch_norm(self, fork):
        """Every batch norm (inside recurrent layers too) in the network's dialect's formula."""
        for m in self.modules():
            if isinstance(m, DarknetBN):
                m.fork = fork

    def _tie(self):
        """Layers whose family ties their parameters to an earlier layer's (TIE: the fork's share_index) take
        its tensors; self.tied holds their indexes."""
        self.tied = {spec.index for spec in self.spec.layers if spec.trait("TIE")(spec, self.layers)}

    def fuse(self):
        """Fold batch norm into the layers whose family can (FUSE: convolutions), in inference form;
        channels-last like every model."""
        for spec, layer in zip(self.spec.layers, self.layers):
            if spec.trait("FUSE") and spec.index not in self.tied:
                layer.fuse()
        self._tie()  # the folded tensors, folded once
        return self.to(memory_format=torch.channels_last)

    def prepack(self):
        """CPU inference through oneDNN's convolutions with their activation inside, weights reordered once, and
        Winograd's F(4x4, 3x3) where that is faster (nn.Conv.prepack; float32 rounding apart, the same outputs):
        for a model that only runs, as darkbench map's own; training, export, compiling and counting see the
        plain operators either way. Returns how many layers it packed."""
        return sum(m.prepack() for m in self.modules() if isinstance(m, Conv))

    def load_weights(self, path):
        weights.load_into(self, path)
        return self

    def save_weights(self, path, overwrite=False):
        weights.save_from(self, path, overwrite=overwrite)


def _module(layer, net):
    """The layer's torch module; a refusal raised without a place (e.g. by nn.Activation) names the layer."""
    try:
        return layer.family.module(layer, net)
    except DarkbenchError as e:
        if e.path is None and e.layer is None:
            raise DarkbenchError(f"[{layer.type}] {e.message}", net.path, layer.line, layer.index) from None
        raise


def input_shape(net):
    """(C, H, W) for an image input; (inputs,) for a [net] that gives only inputs= (a flat vector, as
    darknet's network input is then: connected/recurrent/softmax layers read it as is)."""
    image = net.channels and net.height and net.width
    return (net.channels, net.height, net.width) if image else (net.inputs,)


def _channels_last(x):
    """oneDNN's fast layout on CPU, for image tensors (a flat input stays as it is)."""
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


def build(net):
    check_memory(net)
    with torch.no_grad():
        model = Darknet(net)
    return model.eval().to(memory_format=torch.channels_last)

