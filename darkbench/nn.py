"""Torch building blocks with darknet's exact arithmetic (imported only when a model is built)."""
import torch
import torch.nn.functional as F
from torch import nn

from .layers.base import c_div

BN_EPS = 1e-6  # darknet CPU: (x - mean) / (sqrt(var) + .000001)


def _stair(x):
    n = torch.floor(x)
    odd = torch.remainder(n, 2) != 0
    return torch.where(odd, (x - n) + torch.floor(x / 2), torch.floor(x / 2))


# darknet's activations (src/activations.h), elementwise
ACTIVATIONS = {
    "linear": None,
    "logistic": torch.sigmoid,
    "loggy": lambda x: 2 * torch.sigmoid(x) - 1,
    "relu": F.relu,
    "elu": lambda x: torch.where(x >= 0, x, torch.expm1(x)),
    "selu": lambda x: torch.where(x >= 0, 1.0507 * x, 1.0507 * 1.6732 * torch.expm1(x)),
    "relie": lambda x: torch.where(x > 0, x, 0.01 * x),
    "plse": lambda x: torch.where(x < -4, 0.01 * (x + 4), torch.where(x > 4, 0.01 * (x - 4) + 1, 0.125 * x + 0.5)),
    "hardtan": lambda x: torch.clamp(x, -1, 1),
    "lhtan": lambda x: torch.where(x < 0, 0.001 * x, torch.where(x > 1, 0.001 * (x - 1) + 1, x)),
    "ramp": lambda x: F.relu(x) + 0.1 * x,
    "leaky": lambda x: F.leaky_relu(x, 0.1),
    "tanh": torch.tanh,
    "stair": _stair,
    # the AlexeyAB fork's elementwise ones (its activations.c; softplus with threshold 20 as its mish)
    "mish": lambda x: x * torch.tanh(F.softplus(x, threshold=20)),
    "hard_mish": lambda x: torch.where(x > 0, x, torch.where(x > -2, x * x / 2 + x, torch.zeros_like(x))),
    "swish": lambda x: x * torch.sigmoid(x),
    "relu6": lambda x: torch.clamp(x, 0, 6),  # the fork's CPU forward outputs 0 here (no case in its activate())
    "gelu": lambda x: 0.5 * x * (1 + torch.tanh(0.797885 * x + 0.035677 * x.pow(3))),
}


INPLACE = {"relu": lambda x: F.relu(x, inplace=True), "leaky": lambda x: F.leaky_relu(x, 0.1, inplace=True)}


class Activation(nn.Module):
    """inplace=True only where the input is a fresh tensor nobody else holds (after conv/BN)."""

    def __init__(self, name, inplace=False):
        super().__init__()
        self.name = name
        if name not in ACTIVATIONS:  # the fork's channel-normalising ones are not elementwise
            from .errors import DarkbenchError
            raise DarkbenchError(f"activation '{name}' is read and counted but not built in PyTorch")
        self.fn = INPLACE[name] if inplace and name in INPLACE else ACTIVATIONS[name]

    def forward(self, x):
        return x if self.fn is None else self.fn(x)

    def extra_repr(self):
        return self.name


class DarknetBN(nn.Module):
    """Inference batch norm as darknet's CPU path computes it, plus the layer's bias."""

    def __init__(self, n):
        super().__init__()
        self.scales = nn.Parameter(torch.ones(n))
        self.biases = nn.Parameter(torch.zeros(n))
        self.register_buffer("rolling_mean", torch.zeros(n))
        self.register_buffer("rolling_variance", torch.ones(n))

    def factors(self):
        a = self.scales / (torch.sqrt(self.rolling_variance) + BN_EPS)
        return a, self.biases - self.rolling_mean * a

    def forward(self, x):
        # torch's fused kernel computes (x-mean)/sqrt(v+eps): v = (sqrt(var)+1e-6)^2, eps=0 gives darknet's
        v = (torch.sqrt(self.rolling_variance) + BN_EPS) ** 2
        return F.batch_norm(x, self.rolling_mean, v, self.scales, self.biases, False, 0.0, 0.0)


def weight_tensors(weight, bias, bn):
    """The .weights names of a conv/connected layer: biases live in the BN when there is one."""
    t = {"weights": weight}
    if bn is None:
        t["biases"] = bias
    else:
        t.update(biases=bn.biases, scales=bn.scales, rolling_mean=bn.rolling_mean,
                 rolling_variance=bn.rolling_variance)
    return t


class Layer(nn.Module):
    """Base of every darknet layer module: forward(x, outs) sees the previous output and all kept outputs.

    `tensors()` maps the names in the analytic Layer.weights (file order) to this module's tensors.
    """

    def tensors(self):
        return {}

    def forward(self, x, outs):  # pragma: no cover - abstract
        raise NotImplementedError


class Conv(Layer):
    """convolutional / deconvolutional: conv, then darknet BN (or bias), then activation."""

    def __init__(self, conv, n, bn, activation, extra=(0, 0)):
        super().__init__()
        self.conv = conv
        self.bn = DarknetBN(n) if bn else None
        self.act = Activation(activation, inplace=True)
        # zeros right/bottom where darknet's C-division size lets the last window hang over the input
        self.extra = (0, extra[0], 0, extra[1]) if any(extra) else None

    def tensors(self):
        return weight_tensors(self.conv.weight, self.conv.bias, self.bn)

    def forward(self, x, outs):
        if self.extra is not None:
            x = F.pad(x, self.extra)
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return self.act(x)

    @torch.no_grad()
    def fuse(self):
        """Fold batch norm into the convolution (inference only)."""
        if self.bn is None:
            return
        a, b = self.bn.factors()
        conv = self.conv
        w = conv.weight
        if isinstance(conv, nn.ConvTranspose2d):  # weight (in, out/groups, k, k)
            w.mul_(a.view(1, -1, 1, 1))
        else:
            w.mul_(a.view(-1, 1, 1, 1))
        conv.bias = nn.Parameter(b.detach().clone())
        self.bn = None


class Elementwise(Layer):
    """A layer that applies a function to the previous output."""

    def __init__(self, fn, name=""):
        super().__init__()
        self.fn = fn
        self.name = name

    def forward(self, x, outs):
        return self.fn(x)

    def extra_repr(self):
        return self.name


def maxpool(x, size, stride, padding, stride_x=None):
    """darknet's maxpool: windows start at -padding/2, padded cells are -FLT_MAX, extra on right/bottom.
    stride_x: the fork's horizontal stride when it differs from stride (then the vertical one)."""
    sx = stride if stride_x is None else stride_x
    h, w = x.shape[-2:]
    oh = c_div(h + padding - size, stride) + 1  # darknet's C division
    ow = c_div(w + padding - size, sx) + 1
    lo = padding // 2
    right = max(0, (ow - 1) * sx + size - w - lo)
    bottom = max(0, (oh - 1) * stride + size - h - lo)
    if lo or right or bottom:
        # a window of padding only gives darknet's -FLT_MAX (the lowest finite value of other dtypes)
        x = F.pad(x, (lo, right, lo, bottom), value=-torch.finfo(x.dtype).max)
    y = F.max_pool2d(x, size, stride if sx == stride else (stride, sx))
    return y if y.shape[-2:] == (oh, ow) else y[..., :oh, :ow]  # no Slice nodes in an ONNX export when exact
