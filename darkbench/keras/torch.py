"""A Keras architecture as a PyTorch module (NCHW, random weights): for timing and shapes."""
import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import DarkbenchError
from ..memory import check_memory
from . import layers as rules
from .layers import bn_axis, feature_axes, prelu_shape, short, zero_pads


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _same_pad(n, k, s, d=1):
    k = (k - 1) * d + 1
    total = max((-(-n // s) - 1) * s + k - n, 0)
    return total // 2, total - total // 2  # TensorFlow puts the extra row/column at the end


def _pads(c, layer, k, s, d=(1, 1)):
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
       "softmax": lambda x: x.softmax(_channel_dim(x)),
       "log_softmax": lambda x: x.log_softmax(_channel_dim(x))}


def _channel_dim(x):
    """torch dim of Keras' last (feature) axis: 1 for NCHW images, else the last."""
    return 1 if x.dim() == 4 else -1


def _activation(v, where):
    try:
        name = rules.activation(v)
    except ValueError as e:
        raise DarkbenchError(f"{where}: {e}") from None
    if name not in ACT:
        raise DarkbenchError(f"{where}: activation '{name}' is not supported in PyTorch")
    return ACT[name]


def _number(c, key, default, where, none=False):
    """A numeric option (a finite JSON number; None only where Keras means 'no limit')."""
    v = c.get(key, default)
    if v is None and none:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise DarkbenchError(f"{where}: {key}={short(v)} must be a number")
    return float(v)


def _constant(c, key, default, shape, where):
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


def _to_keras_axis(x, axis):
    """torch dim for a Keras (channels-last) axis of this tensor."""
    rank = x.dim() - 1
    a = axis % (rank + 1) if axis < 0 else axis
    if x.dim() == 4:
        return {1: 2, 2: 3, 3: 1}[a]
    return a


class Op(nn.Module):
    def __init__(self, fn, mods=()):
        super().__init__()
        self.fn = fn
        self.mods = nn.ModuleList(mods)

    def forward(self, *xs):
        return self.fn(*xs)


def _deconv_crop(k, s, d, padding, out_pad):
    """Rows to drop before a Keras Conv2DTranspose output, taken from torch's full (unpadded) result.

    Keras (TF/JAX) pads the stride-dilated input by `left` before correlating; the full transposed
    convolution corresponds to left = k - 1."""
    k = (k - 1) * d + 1
    if padding == "valid":
        left = k - 1
    else:
        pad_len = s + k - 2 if out_pad is None else k + k % 2 - 2 + out_pad
        left = min(pad_len // 2 + pad_len % 2, k - 1)
    return k - 1 - left


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


BUILDERS = {}  # builder name (a Kind's build) -> fn(layer, where) -> Op


def builder(fn):
    BUILDERS[fn.__name__] = fn
    return fn


def _conv(layer, where, depthwise=False, separable=False):
    c, cin = layer.config, layer.in_keras_shapes[0][-1]
    k, s, d = _pair(c["kernel_size"]), _pair(c.get("strides", 1)), _pair(c.get("dilation_rate", 1))
    pads, padding = _pads(c, layer, k, s, d)
    bias = c.get("use_bias", True)
    m = c.get("depth_multiplier", 1)
    if depthwise:  # output channel c*m + j, as Keras orders them
        mods = [nn.Conv2d(cin, cin * m, k, s, padding, d, groups=cin, bias=bias)]
    elif separable:
        mods = [nn.Conv2d(cin, cin * m, k, s, padding, d, groups=cin, bias=False),
                nn.Conv2d(cin * m, c["filters"], 1, bias=bias)]
    else:
        mods = [nn.Conv2d(cin, c["filters"], k, s, padding, d, groups=c.get("groups", 1), bias=bias)]
    act = _activation(c.get("activation"), where)

    def fn(x):
        if pads:
            x = F.pad(x, pads)
        for m in mods:
            x = m(x)
        return act(x) if act else x
    return Op(fn, mods)


@builder
def conv2d(layer, where):
    return _conv(layer, where)


@builder
def depthwise(layer, where):
    return _conv(layer, where, depthwise=True)


@builder
def separable(layer, where):
    return _conv(layer, where, separable=True)


@builder
def conv2d_transpose(layer, where):
    c, cin = layer.config, layer.in_keras_shapes[0][-1]
    (kh, kw), (sh, sw), (dh, dw) = (_pair(c["kernel_size"]), _pair(c.get("strides", 1)),
                                    _pair(c.get("dilation_rate", 1)))
    oh, ow = layer.keras_shape[:2]
    op = c.get("output_padding")
    oph, opw = (None, None) if op is None else _pair(op)
    pad = c.get("padding", "valid")
    th, tw = _deconv_crop(kh, sh, dh, pad, oph), _deconv_crop(kw, sw, dw, pad, opw)
    conv = nn.ConvTranspose2d(cin, c["filters"], (kh, kw), (sh, sw), dilation=(dh, dw),
                              bias=c.get("use_bias", True))
    act = _activation(c.get("activation"), where)

    def fn(x):
        y = F.conv_transpose2d(x, conv.weight, None, conv.stride, dilation=conv.dilation)
        y = y[..., th:th + oh, tw:tw + ow]
        # past the full result only the bias reaches (Keras' output_padding rows)
        y = F.pad(y, (0, ow - y.shape[-1], 0, oh - y.shape[-2]))
        if conv.bias is not None:
            y = y + conv.bias.view(1, -1, 1, 1)
        return act(y) if act else y
    return Op(fn, [conv])


def _pool_window(layer):
    c = layer.config
    k = _pair(c.get("pool_size", 2))
    st = c.get("strides")
    s = _pair(st) if st is not None else k
    pads, padding = _pads(c, layer, k, s)
    return k, s, pads, padding


@builder
def max_pool(layer, where):  # padding never wins a max: -inf (torch's own padding does the same)
    k, s, pads, padding = _pool_window(layer)
    return Op(lambda x: F.max_pool2d(F.pad(x, pads, value=float("-inf")) if pads else x, k, s, padding))


@builder
def average_pool(layer, where):
    k, s, pads, padding = _pool_window(layer)

    def avg(x):  # TensorFlow and JAX average over the cells inside the image only
        if not pads:
            return F.avg_pool2d(x, k, s, padding, count_include_pad=False)
        inside = F.avg_pool2d(F.pad(torch.ones_like(x[:, :1]), pads), k, s)  # share of real cells
        return F.avg_pool2d(F.pad(x, pads), k, s) / inside
    return Op(avg)


@builder
def global_max(layer, where):
    keep = bool(layer.config.get("keepdims"))
    return Op(lambda x: x.amax((2, 3), keepdim=keep))


@builder
def global_average(layer, where):
    keep = bool(layer.config.get("keepdims"))
    return Op(lambda x: x.mean((2, 3), keepdim=keep))


@builder
def zero_padding(layer, where):
    top, bottom, left, right = zero_pads(layer.config.get("padding", 1))
    return Op(lambda x: F.pad(x, (left, right, top, bottom)))


@builder
def cropping(layer, where):
    top, bottom, left, right = zero_pads(layer.config.get("cropping", 0))
    h, w = layer.in_keras_shapes[0][:2]
    return Op(lambda x: x[..., top:h - bottom, left:w - right])


@builder
def upsampling(layer, where):
    c = layer.config
    mode = c.get("interpolation", "nearest")
    if mode not in ("nearest", "bilinear"):
        raise DarkbenchError(f"{where}: interpolation '{short(mode)}' is not supported in PyTorch")
    size = _pair(c.get("size", 2))
    opts = dict(align_corners=False) if mode == "bilinear" else {}
    return Op(lambda x: F.interpolate(x, scale_factor=size, mode=mode, **opts))


@builder
def concatenate(layer, where):
    axis = layer.config.get("axis", -1)
    return Op(lambda *xs: torch.cat(xs, _to_keras_axis(xs[0], axis)))


def _fold(fn, xs):
    y = xs[0]
    for x in xs[1:]:
        y = fn(y, x)
    return y


def _merge(fn, layer):
    if any(v is not None for v in layer.operands or ()):  # a Keras operation on a number: x * 0.5
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
        ys = [_nhwc(x) for x in xs]
        ys = [y.reshape(y.shape[0], *[1] * (rank - (y.dim() - 1)), *y.shape[1:]) for y in ys]
        return _nchw(fn(ys))
    return Op(broadcast)


@builder
def add(layer, where):
    return _merge(lambda xs: sum(xs[1:], xs[0]), layer)


@builder
def subtract(layer, where):
    return _merge(lambda xs: xs[0] - xs[1], layer)


@builder
def multiply(layer, where):
    return _merge(lambda xs: math.prod(xs[1:], start=xs[0]), layer)


@builder
def average(layer, where):
    return _merge(lambda xs: sum(xs[1:], xs[0]) / len(xs), layer)


@builder
def maximum(layer, where):
    return _merge(lambda xs: _fold(torch.maximum, xs), layer)


@builder
def minimum(layer, where):
    return _merge(lambda xs: _fold(torch.minimum, xs), layer)


@builder
def flatten(layer, where):  # Keras flattens in H, W, C order
    return Op(lambda x: _nhwc(x).flatten(1))


@builder
def reshape(layer, where):
    target = tuple(layer.keras_shape)
    return Op(lambda x: _nchw(_nhwc(x).reshape(x.shape[0], *target)))


@builder
def dense(layer, where):
    c = layer.config
    lin = nn.Linear(layer.in_keras_shapes[0][-1], c["units"], bias=c.get("use_bias", True))
    act = _activation(c.get("activation"), where)

    def fn(x):
        y = _nchw(lin(_nhwc(x)))
        return act(y) if act else y
    return Op(fn, [lin])


@builder
def batch_norm(layer, where):
    c = layer.config
    axis = bn_axis(c, len(layer.keras_shape))
    bn = KerasBatchNorm(layer.keras_shape[axis], axis, _number(c, "epsilon", 1e-3, where),
                        c.get("scale", True), c.get("center", True))
    return Op(bn, [bn])


def _norm_shape(layer):
    """The normalised axes' shape broadcasting against one sample (Keras' layout)."""
    s = layer.keras_shape
    axis = layer.config.get("axis", -1)
    axes = feature_axes(axis, len(s)) if axis not in (None, [], ()) else []
    return axes, [s[a] if a in axes else 1 for a in range(len(s))]


@builder
def layer_norm(layer, where):  # computed in Keras' layout (channels last)
    c = layer.config
    axes, shape = _norm_shape(layer)
    if c.get("rms_scaling"):
        raise DarkbenchError(f"{where}: rms_scaling is not supported in PyTorch")
    holder = nn.Module()
    holder.weight = nn.Parameter(torch.ones(shape)) if c.get("scale", True) else None
    holder.bias = nn.Parameter(torch.zeros(shape)) if c.get("center", True) else None
    dims, eps = [a + 1 for a in axes], _number(c, "epsilon", 1e-3, where)

    def fn(x):
        y = _nhwc(x)
        y = (y - y.mean(dims, keepdim=True)) * torch.rsqrt(y.var(dims, keepdim=True, unbiased=False) + eps)
        if holder.weight is not None:
            y = y * holder.weight
        return _nchw(y + holder.bias if holder.bias is not None else y)
    return Op(fn, [holder])


@builder
def group_norm(layer, where):
    c = layer.config
    n = layer.keras_shape[-1]
    g = n if c.get("groups", 32) == -1 else c.get("groups", 32)
    holder = nn.Module()
    holder.weight = nn.Parameter(torch.ones(n)) if c.get("scale", True) else None
    holder.bias = nn.Parameter(torch.zeros(n)) if c.get("center", True) else None
    eps = _number(c, "epsilon", 1e-3, where)

    def fn(x):  # torch's channels are dim 1: images already are, other tensors move theirs there
        y = x if x.dim() == 4 else x.movedim(-1, 1)
        y = F.group_norm(y, g, holder.weight, holder.bias, eps)
        return y if x.dim() == 4 else y.movedim(1, -1)
    return Op(fn, [holder])


@builder
def normalization(layer, where):
    c = layer.config
    _, shape = _norm_shape(layer)
    holder = nn.Module()
    for key, default in (("mean", 0.0), ("variance", 1.0)):
        holder.register_buffer(key, _constant(c, key, default, shape, where).expand(shape).clone())
    invert = bool(c.get("invert"))

    def fn(x):
        y, d = _nhwc(x), holder.variance.sqrt().clamp(min=1e-7)  # Keras' backend epsilon
        return _nchw(holder.mean + y * d if invert else (y - holder.mean) / d)
    return Op(fn, [holder])


@builder
def rescaling(layer, where):
    c = layer.config
    scale, offset = (_constant(c, key, default, layer.keras_shape, where)
                     for key, default in (("scale", 1.0), ("offset", 0.0)))
    return Op(lambda x: _nchw(_nhwc(x) * scale.to(x) + offset.to(x)))


@builder
def activation_layer(layer, where):
    act = _activation(layer.config.get("activation"), where)
    return Op(lambda x: act(x) if act else x)


@builder
def relu(layer, where):
    c = layer.config
    mx = _number(c, "max_value", None, where, none=True)
    slope, th = (_number(c, key, 0.0, where, none=True) or 0.0 for key in ("negative_slope", "threshold"))

    def fn(x):
        y = torch.where(x >= th, x, slope * (x - th))
        return y.clamp(max=mx) if mx is not None else y
    return Op(fn)


@builder
def leaky_relu(layer, where):
    c = layer.config
    key = "negative_slope" if "negative_slope" in c else "alpha"  # tf.keras 2 wrote alpha
    slope = _number(c, key, 0.3, where)
    return Op(lambda x: F.leaky_relu(x, slope))


@builder
def prelu(layer, where):
    holder = nn.Module()
    holder.alpha = nn.Parameter(torch.zeros(prelu_shape(layer.config, layer.keras_shape)))  # Keras' layout

    def fn(x):
        y = _nhwc(x)
        return _nchw(F.relu(y) - holder.alpha * F.relu(-y))
    return Op(fn, [holder])


@builder
def elu(layer, where):
    alpha = _number(layer.config, "alpha", 1.0, where)
    return Op(lambda x: F.elu(x, alpha))


@builder
def softmax(layer, where):
    """Keras' Softmax over one axis or several (validated by the analysis)."""
    axes = [a + 1 for a in feature_axes(layer.config.get("axis", -1), len(layer.keras_shape))]
    if len(axes) == 1:
        return Op(lambda x: x.softmax(_to_keras_axis(x, axes[0])))

    def fn(x):
        dims = [_to_keras_axis(x, a) for a in axes]
        return torch.exp(x - x.logsumexp(dims, keepdim=True))
    return Op(fn)


@builder
def resizing(layer, where):
    """As Keras' torch backend resizes (bilinear and bicubic without corner alignment)."""
    c = layer.config
    (H, W), (h, w) = layer.in_keras_shapes[0][:2], layer.keras_shape[:2]
    mode = c.get("interpolation", "bilinear")
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise DarkbenchError(f"{where}: interpolation '{short(mode)}' is not supported in PyTorch")
    if c.get("pad_to_aspect_ratio"):
        raise DarkbenchError(f"{where}: pad_to_aspect_ratio is not supported in PyTorch")
    ch, cw = H, W
    if c.get("crop_to_aspect_ratio"):  # Keras' own arithmetic
        ch, cw = max(min(H, int(float(W * h) / w)), 1), max(min(W, int(float(H * w) / h)), 1)
    top, left = int(float(H - ch) / 2), int(float(W - cw) / 2)
    opts = dict(mode="nearest-exact") if mode == "nearest" else dict(
        mode=mode, align_corners=False, antialias=bool(c.get("antialias")))
    return Op(lambda x: F.interpolate(x[..., top:top + ch, left:left + cw], size=(h, w), **opts))


@builder
def center_crop(layer, where):
    (H, W), (h, w) = layer.in_keras_shapes[0][:2], layer.keras_shape[:2]
    if h > H or w > W:  # Keras then crops to the aspect ratio and resizes
        raise DarkbenchError(f"{where}: a crop larger than its {H}x{W} input is not supported in PyTorch")
    top, left = (H - h) // 2, (W - w) // 2
    return Op(lambda x: x[..., top:top + h, left:left + w])


@builder
def permute(layer, where):
    dims = (0, *layer.config["dims"])
    return Op(lambda x: _nchw(_nhwc(x).permute(dims)))


@builder
def layer_scale(layer, where):
    holder = nn.Module()
    holder.gamma = nn.Parameter(torch.ones(layer.config["projection_dim"]))
    return Op(lambda x: _nchw(_nhwc(x) * holder.gamma), [holder])


@builder
def custom_scale(layer, where):
    scale = _number(layer.config, "scale", None, where)
    return _merge(lambda xs: xs[0] + xs[1] * scale, layer)


@builder
def identity(layer, where):
    return Op(lambda x: x)


def _nhwc(x):
    return x.permute(0, 2, 3, 1) if x.dim() == 4 else x


def _nchw(x):
    return x.permute(0, 3, 1, 2) if x.dim() == 4 else x


def _module(layer, path):
    where = f"{path}: layer '{layer.name}' ({layer.type})"
    return BUILDERS[rules.KINDS[layer.type].build](layer, where)


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
