"""Torch building blocks with darknet's exact arithmetic (imported only when a model is built)."""
import torch
import torch.nn.functional as F
from torch import nn

from . import winograd
from .carith import c_div, maxpool_pads
from .errors import DarkbenchError

BN_EPS = 1e-6  # 2018 darknet's CPU: (x - mean) / (sqrt(var) + .000001)
FORK_BN_EPS = 1e-5  # the AlexeyAB fork's: (x - mean) / sqrt(var + .00001)


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
    "revleaky": lambda x: F.leaky_relu(x, 0.1),  # the fork's activate() computes it as leaky (same case)
}


INPLACE = {"relu": lambda x: F.relu(x, inplace=True), "leaky": lambda x: F.leaky_relu(x, 0.1, inplace=True)}


def _softmax_channels(x, use_max):
    e = torch.exp(x - x.amax(1, keepdim=True)) if use_max else torch.exp(x)
    return e / (e.sum(1, keepdim=True) + 1e-4)


# the fork's activations across the channels at each position (its activate_array_normalize_channels*, eps 0.0001);
# only its convolutions apply them (elsewhere its activate() has no case for them)
CHANNELS = {
    "normalize_channels": lambda x: F.relu(x) / (F.relu(x).sum(1, keepdim=True) + 1e-4),
    "normalize_channels_softmax": lambda x: _softmax_channels(x, False),
    "normalize_channels_softmax_maxval": lambda x: _softmax_channels(x, True),
}


class Activation(nn.Module):
    """inplace=True only where the input is a fresh tensor nobody else holds (after conv/BN)."""

    def __init__(self, name, inplace=False, channels=False):
        super().__init__()
        self.name = name
        if channels and name in CHANNELS:  # a convolution's output (N, C, H, W): across C
            self.fn = CHANNELS[name]
            return
        if name not in ACTIVATIONS:  # the fork's channel-normalising ones, which it applies in convolutions only
            raise DarkbenchError(f"activation '{name}' is read and counted but built in PyTorch in convolutions "
                                 "only (the fork applies it there; its other layers give 0 for it)")
        self.fn = INPLACE[name] if inplace and name in INPLACE else ACTIVATIONS[name]

    def forward(self, x):
        return x if self.fn is None else self.fn(x)

    def extra_repr(self):
        return self.name


class DarknetBN(nn.Module):
    """Inference batch norm as darknet's CPU path computes it, plus the layer's bias. fork: the AlexeyAB
    fork's formula (the model sets it from its network's dialect, see torch_model.Darknet)."""

    def __init__(self, n, fork=False):
        super().__init__()
        self.fork = fork
        self.scales = nn.Parameter(torch.ones(n))
        self.biases = nn.Parameter(torch.zeros(n))
        self.register_buffer("rolling_mean", torch.zeros(n))
        self.register_buffer("rolling_variance", torch.ones(n))

    def std(self):
        v = self.rolling_variance
        return torch.sqrt(v + FORK_BN_EPS) if self.fork else torch.sqrt(v) + BN_EPS

    def factors(self):
        a = self.scales / self.std()
        return a, self.biases - self.rolling_mean * a

    def forward(self, x):
        if self.fork:  # torch's own formula, eps inside the root
            return F.batch_norm(x, self.rolling_mean, self.rolling_variance, self.scales, self.biases, False, 0.0,
                                FORK_BN_EPS)
        # torch's fused kernel computes (x-mean)/sqrt(v+eps): v = (sqrt(var)+1e-6)^2, eps=0 gives darknet's
        return F.batch_norm(x, self.rolling_mean, self.std() ** 2, self.scales, self.biases, False, 0.0, 0.0)

    def extra_repr(self):
        return "the AlexeyAB fork's: sqrt(var + 1e-5)" if self.fork else "2018 darknet's: sqrt(var) + 1e-6"


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


# activations oneDNN applies inside its convolution (darknet's leaky is torch's leaky_relu with slope .1)
POST_OPS = {"linear": ("none", []), "relu": ("relu", []), "leaky": ("leaky_relu", [0.1])}


def fused_conv_op():
    """oneDNN's convolution with its activation inside (what inductor's CPU freezing runs), or None in a build
    without it."""
    try:
        return torch.ops.mkldnn._convolution_pointwise if torch.backends.mkldnn.is_available() else None
    except (AttributeError, RuntimeError):
        return None


def _captured():
    """Traced (fvcore, the ONNX export) or compiled: the graph must hold the plain operators."""
    return torch.jit.is_tracing() or torch.compiler.is_compiling()


def _packable(x):
    """Inference on CPU in fp32, not traced, exported or compiled."""
    return (x.dtype == torch.float32 and x.device.type == "cpu" and x.dim() == 4 and not torch.is_grad_enabled()
            and not _captured())


class Conv(Layer):
    """convolutional / deconvolutional: conv, then darknet BN (or bias), then activation."""
    packed = None  # {(input shape, weight version): the weight in oneDNN's layout}, once prepack() says yes

    def __init__(self, conv, n, bn, activation, extra=(0, 0)):
        super().__init__()
        self.conv = conv
        self.bn = DarknetBN(n) if bn else None
        self.act = Activation(activation, inplace=True, channels=True)
        # zeros right/bottom where darknet's C-division size lets the last window hang over the input
        self.extra = (0, extra[0], 0, extra[1]) if any(extra) else None

    def tensors(self):
        return weight_tensors(self.conv.weight, self.conv.bias, self.bn)

    def prepack(self):
        """Run inference as one oneDNN convolution with the bias and activation inside and the weight reordered
        once per input shape, where that computes what forward computes: a plain 2-D convolution, batch norm
        folded (or none), an activation oneDNN has. Saves the activation's pass over the output and the
        weight's reordering at every call. Where Winograd's F(4x4, 3x3) is faster (winograd.suits: 3x3 layers
        over 64+ channels on mid-sized maps), that, its weight transformed once per shape. Returns whether it
        will."""
        c = self.conv
        ok = (fused_conv_op() is not None and type(c) is nn.Conv2d and self.bn is None and self.extra is None
              and self.act.name in POST_OPS and c.padding_mode == "zeros" and not isinstance(c.padding, str)
              and c.weight.dtype == torch.float32)
        self.packed = {} if ok else None
        return ok

    def _fused(self, x):
        c = self.conv
        key = (tuple(x.shape), c.weight._version)
        packed = self.packed.get(key)
        if packed is None:
            self.packed.clear()  # another shape or changed weights: transform or reorder anew
            packed = self.packed[key] = self._pack(x.shape)
        how, w = packed
        if how == "winograd":
            return self.act(winograd.conv(x, w, c.bias))
        act, scalars = POST_OPS[self.act.name]
        return torch.ops.mkldnn._convolution_pointwise(x, w, c.bias, list(c.padding), list(c.stride),
                                                       list(c.dilation), c.groups, act, scalars, "")

    def _pack(self, shape):
        """("winograd", the transformed weight) where Winograd's F(4x4, 3x3) saves time (winograd.suits), else
        ("onednn", the weight in oneDNN's layout for this input shape)."""
        c = self.conv
        if winograd.suits(c, shape):
            return "winograd", winograd.weight(c.weight)
        return "onednn", torch.ops.mkldnn._reorder_convolution_weight(
            c.weight, list(c.padding), list(c.stride), list(c.dilation), c.groups, list(shape))

    def forward(self, x, outs):
        if self.packed is not None and _packable(x):
            return self._fused(x)
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
    lo, right, bottom = maxpool_pads(h, w, size, stride, padding, sx)
    if lo or right or bottom:
        # a window of padding only gives darknet's -FLT_MAX (the lowest finite value of other dtypes)
        x = F.pad(x, (lo, right, lo, bottom), value=-torch.finfo(x.dtype).max)
    if size <= 3 and x.dim() == 4 and not (x.requires_grad or _captured()):
        return _window_max(x, size, stride, sx, oh, ow)
    y = F.max_pool2d(x, size, stride if sx == stride else (stride, sx))
    return y if y.shape[-2:] == (oh, ow) else y[..., :oh, :ow]  # no Slice nodes in an ONNX export when exact


def _window_max(x, size, sy, sx, oh, ow):
    """A small pool as the maximum of its window's strided views: the same values, in eager runs without
    gradients (exports and compiles keep the MaxPool operator; gradients go to one maximum of a tie, as
    darknet's backward sends them, not shared). Torch's pooling kernel also computes the index of every maximum
    and, channels-last, walks a large low-channel map several times slower. The window's rows first, then its
    columns (a maximum is a maximum of maxima): 2 (size - 1) passes, not size^2 - 1."""
    if size == 1:
        return x[:, :, :sy * (oh - 1) + 1:sy, :sx * (ow - 1) + 1:sx].clone()
    rows = None
    for i in range(size):
        v = x[:, :, i:i + sy * (oh - 1) + 1:sy]
        rows = v if rows is None else torch.maximum(rows, v)
    y = None
    for j in range(size):
        v = rows[..., j:j + sx * (ow - 1) + 1:sx]
        y = v if y is None else torch.maximum(y, v)
    return y
