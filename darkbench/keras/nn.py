"""Torch building blocks of the Keras kinds' modules (imported only when a model is built): Keras' 'same'
padding, activations, merges and batch norm on NCHW images (other tensors keep Keras' layout)."""
import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import DarkbenchError
from .base import activation, short


class Op(nn.Module):
    """A layer as a function of its inputs, holding the modules whose weights it uses."""

    def __init__(self, fn, mods=()):
        super().__init__()
        self.fn = fn
        self.mods = nn.ModuleList(mods)

    def forward(self, *xs):
        return self.fn(*xs)


def as_pair(v):
    """An int-or-pair option the count already checked, as a pair."""
    return (v, v) if isinstance(v, int) else tuple(v)


def _same_pad(n, k, s, d=1):
    k = (k - 1) * d + 1
    total = max((-(-n // s) - 1) * s + k - n, 0)
    return total // 2, total - total // 2  # TensorFlow puts the extra row/column at the end


def pads(c, layer, k, s, d=(1, 1)):
    """'same' padding as F.pad's (left, right, top, bottom), and as a symmetric (h, w) when it is one
    (then torch's own padding argument does it, faster)."""
    if c.get("padding", "valid") != "same":
        return None, (0, 0)
    h, w = layer.in_keras_shapes[0][:2]
    (t, b), (l, r) = _same_pad(h, k[0], s[0], d[0]), _same_pad(w, k[1], s[1], d[1])
    return ((l, r, t, b), (0, 0)) if (t, l) != (b, r) else (None, (t, l))


ACT = {"linear": None, None: None, "relu": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
       "elu": F.elu, "selu": F.selu, "softplus": F.softplus, "softsign": F.softsign, "swish": F.silu,
       "silu": F.silu, "gelu": F.gelu, "relu6": F.relu6, "leaky_relu": lambda x: F.leaky_relu(x, 0.2),
       "hard_sigmoid": F.hardsigmoid, "hard_silu": F.hardswish, "hard_swish": F.hardswish,
       "mish": F.mish, "exponential": torch.exp,
       "softmax": lambda x: x.softmax(channel_dim(x)),
       "log_softmax": lambda x: x.log_softmax(channel_dim(x))}


def channel_dim(x):
    """torch dim of Keras' last (feature) axis: 1 for NCHW images, else the last."""
    return 1 if x.dim() == 4 else -1


def activation_fn(v, where):
    """A layer's activation option as a torch function (None: linear)."""
    try:
        name = activation(v)
    except ValueError as e:
        raise DarkbenchError(f"{where}: {e}") from None
    if name not in ACT:
        raise DarkbenchError(f"{where}: activation '{name}' is not supported in PyTorch")
    return ACT[name]


def number(c, key, default, where, none=False):
    """A numeric option (a finite JSON number; None only where Keras means 'no limit')."""
    v = c.get(key, default)
    if v is None and none:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise DarkbenchError(f"{where}: {key}={short(v)} must be a number")
    return float(v)


def constant(c, key, default, shape, where):
    """A number or nested list of numbers from the config that broadcasts to shape (as Keras needs)."""
    v = c.get(key)
    v = default if v is None else v
    try:
        t = torch.tensor(v, dtype=torch.float32)
        t.expand(shape)  # a view: raises unless t broadcasts to shape
        return t
    except (TypeError, ValueError, RuntimeError, OverflowError):
        raise DarkbenchError(f"{where}: {key}={short(v)} must be a number or a list of numbers of "
                             f"shape {tuple(shape)}") from None


def to_keras_axis(x, axis):
    """torch dim for a Keras (channels-last) axis of this tensor."""
    rank = x.dim() - 1
    a = axis % (rank + 1) if axis < 0 else axis
    if x.dim() == 4:
        return {1: 2, 2: 3, 3: 1}[a]
    return a


def nhwc(x):
    return x.permute(0, 2, 3, 1) if x.dim() == 4 else x


def nchw(x):
    return x.permute(0, 3, 1, 2) if x.dim() == 4 else x


def merge_op(fn, layer):
    """fn(list of inputs) as a layer: same shapes as they are, others broadcast as Keras aligns them, a
    Keras operation's numbers (x * 0.5) in their places."""
    if any(v is not None for v in layer.operands or ()):
        slots = layer.operands

        def constant(*xs):
            it = iter(xs)
            return fn([next(it) if v is None else v for v in slots])
        return Op(constant)
    shapes = layer.in_keras_shapes
    if all(s == shapes[0] for s in shapes):
        return Op(lambda *xs: fn(xs))
    rank = len(layer.keras_shape)

    def broadcast(*xs):  # Keras aligns the shapes without the batch axis from the right
        ys = [nhwc(x) for x in xs]
        ys = [y.reshape(y.shape[0], *[1] * (rank - (y.dim() - 1)), *y.shape[1:]) for y in ys]
        return nchw(fn(ys))
    return Op(broadcast)


class KerasBatchNorm(nn.Module):
    """Inference batch norm over one Keras axis, with Keras' optional gamma (scale) and beta (center)."""

    def __init__(self, n, axis, eps, scale, center):
        super().__init__()
        self.axis, self.eps = axis, eps
        self.weight = nn.Parameter(torch.ones(n)) if scale else None
        self.bias = nn.Parameter(torch.zeros(n)) if center else None
        self.register_buffer("running_mean", torch.zeros(n))
        self.register_buffer("running_var", torch.ones(n))

    def forward(self, x):  # written out rather than F.batch_norm: exports to ONNX on any axis
        shape = [1] * x.dim()
        shape[self.axis + 1 if x.dim() != 4 else {0: 2, 1: 3, 2: 1}[self.axis]] = -1
        scale = torch.rsqrt(self.running_var + self.eps)
        if self.weight is not None:
            scale = scale * self.weight
        y = (x - self.running_mean.view(shape)) * scale.view(shape)
        return y + self.bias.view(shape) if self.bias is not None else y


def holder(**tensors):
    """A module holding named parameters (None: absent), for an Op's functions to use."""
    h = nn.Module()
    for key, t in tensors.items():
        setattr(h, key, None if t is None else nn.Parameter(t))
    return h
