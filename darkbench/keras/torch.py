"""A Keras architecture as a PyTorch module (NCHW, random weights): for timing and shapes."""
import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import DarkbenchError
from ..memory import check_memory
from .layers import activation, bn_axis, feature_axes, prelu_shape, short, zero_pads


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
        name = activation(v)
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


def _softmax(c, layer):
    """Keras' Softmax over one axis or several (validated by the analysis)."""
    axes = [a + 1 for a in feature_axes(c.get("axis", -1), len(layer.keras_shape))]
    if len(axes) == 1:
        return Op(lambda x: x.softmax(_to_keras_axis(x, axes[0])))

    def softmax(x):
        dims = [_to_keras_axis(x, a) for a in axes]
        return torch.exp(x - x.logsumexp(dims, keepdim=True))
    return Op(softmax)


class Op(nn.Module):
    def __init__(self, fn, mods=()):
        super().__init__()
        self.fn = fn
        self.mods = nn.ModuleList(mods)

    def forward(self, *xs):
        return self.fn(*xs)


def _conv(c, cin, where, layer):
    k, s, d = _pair(c["kernel_size"]), _pair(c.get("strides", 1)), _pair(c.get("dilation_rate", 1))
    pads, padding = _pads(c, layer, k, s, d)
    cls = layer.type
    bias = c.get("use_bias", True)
    mods = []
    if cls == "Conv2D":
        mods.append(nn.Conv2d(cin, c["filters"], k, s, padding, d, groups=c.get("groups", 1), bias=bias))
    elif cls == "DepthwiseConv2D":  # output channel c*m + j, as Keras orders them
        m = c.get("depth_multiplier", 1)
        mods.append(nn.Conv2d(cin, cin * m, k, s, padding, d, groups=cin, bias=bias))
    else:  # SeparableConv2D
        m = c.get("depth_multiplier", 1)
        mods.append(nn.Conv2d(cin, cin * m, k, s, padding, d, groups=cin, bias=False))
        mods.append(nn.Conv2d(cin * m, c["filters"], 1, bias=bias))
    act = _activation(c.get("activation"), where)

    def fn(x):
        if pads:
            x = F.pad(x, pads)
        for m in mods:
            x = m(x)
        return act(x) if act else x
    return Op(fn, mods)


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


def _deconv(c, cin, where, layer):
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


def _pool(c, layer):
    k = _pair(c.get("pool_size", 2))
    st = c.get("strides")
    s = _pair(st) if st is not None else k
    pads, padding = _pads(c, layer, k, s)
    if layer.type.startswith("Max"):  # padding never wins a max: -inf (torch's own padding does the same)
        return Op(lambda x: F.max_pool2d(F.pad(x, pads, value=float("-inf")) if pads else x, k, s, padding))

    def avg(x):  # TensorFlow and JAX average over the cells inside the image only
        if not pads:
            return F.avg_pool2d(x, k, s, padding, count_include_pad=False)
        inside = F.avg_pool2d(F.pad(torch.ones_like(x[:, :1]), pads), k, s)  # share of real cells
        return F.avg_pool2d(F.pad(x, pads), k, s) / inside
    return Op(avg)


MERGE = {"Add": lambda xs: sum(xs[1:], xs[0]), "Multiply": lambda xs: math.prod(xs[1:], start=xs[0]),
         "Subtract": lambda xs: xs[0] - xs[1], "Average": lambda xs: sum(xs[1:], xs[0]) / len(xs),
         "Maximum": lambda xs: _fold(torch.maximum, xs), "Minimum": lambda xs: _fold(torch.minimum, xs)}


def _fold(fn, xs):
    y = xs[0]
    for x in xs[1:]:
        y = fn(y, x)
    return y


def _merge(fn, layer):
    shapes = layer.in_keras_shapes
    if all(s == shapes[0] for s in shapes):
        return Op(lambda *xs: fn(xs))
    rank = len(layer.keras_shape)

    def broadcast(*xs):  # Keras aligns the shapes without the batch axis from the right
        ys = [_nhwc(x) for x in xs]
        ys = [y.reshape(y.shape[0], *[1] * (rank - (y.dim() - 1)), *y.shape[1:]) for y in ys]
        return _nchw(fn(ys))
    return Op(broadcast)


def _norm(c, layer, where):
    """LayerNormalization and Normalization, computed in Keras' layout (channels last)."""
    s = layer.keras_shape
    axis = c.get("axis", -1)
    axes = feature_axes(axis, len(s)) if axis not in (None, [], ()) else []
    shape = [s[a] if a in axes else 1 for a in range(len(s))]  # broadcasts against one sample
    holder = nn.Module()
    if layer.type == "Normalization":
        for key, default in (("mean", 0.0), ("variance", 1.0)):
            holder.register_buffer(key, _constant(c, key, default, shape, where).expand(shape).clone())
        invert = bool(c.get("invert"))

        def norm(x):
            y, d = _nhwc(x), holder.variance.sqrt().clamp(min=1e-7)  # Keras' backend epsilon
            return _nchw(holder.mean + y * d if invert else (y - holder.mean) / d)
        return Op(norm, [holder])
    if c.get("rms_scaling"):
        raise DarkbenchError(f"{where}: rms_scaling is not supported in PyTorch")
    holder.weight = nn.Parameter(torch.ones(shape)) if c.get("scale", True) else None
    holder.bias = nn.Parameter(torch.zeros(shape)) if c.get("center", True) else None
    dims, eps = [a + 1 for a in axes], _number(c, "epsilon", 1e-3, where)

    def layernorm(x):
        y = _nhwc(x)
        y = (y - y.mean(dims, keepdim=True)) * torch.rsqrt(y.var(dims, keepdim=True, unbiased=False) + eps)
        if holder.weight is not None:
            y = y * holder.weight
        return _nchw(y + holder.bias if holder.bias is not None else y)
    return Op(layernorm, [holder])


def _nhwc(x):
    return x.permute(0, 2, 3, 1) if x.dim() == 4 else x


def _nchw(x):
    return x.permute(0, 3, 1, 2) if x.dim() == 4 else x


def _module(layer, cin, path):
    c = layer.config
    where = f"{path}: layer '{layer.name}' ({layer.type})"
    t = layer.type
    if t in ("Conv2D", "DepthwiseConv2D", "SeparableConv2D"):
        return _conv(c, cin, where, layer)
    if t == "Conv2DTranspose":
        return _deconv(c, cin, where, layer)
    if t in ("MaxPooling2D", "AveragePooling2D", "MaxPool2D", "AvgPool2D"):
        return _pool(c, layer)
    if t.startswith("Global"):
        mx = "Max" in t
        keep = bool(c.get("keepdims"))
        return Op(lambda x: (x.amax((2, 3), keepdim=keep) if mx else x.mean((2, 3), keepdim=keep)))
    if t == "ZeroPadding2D":
        top, bottom, left, right = zero_pads(c.get("padding", 1))
        return Op(lambda x: F.pad(x, (left, right, top, bottom)))
    if t == "Concatenate":
        axis = c.get("axis", -1)
        return Op(lambda *xs: torch.cat(xs, _to_keras_axis(xs[0], axis)))
    if t in MERGE:
        return _merge(MERGE[t], layer)
    if t == "UpSampling2D":
        mode = c.get("interpolation", "nearest")
        if mode not in ("nearest", "bilinear"):
            raise DarkbenchError(f"{where}: interpolation '{short(mode)}' is not supported in PyTorch")
        size = _pair(c.get("size", 2))
        opts = dict(align_corners=False) if mode == "bilinear" else {}
        return Op(lambda x: F.interpolate(x, scale_factor=size, mode=mode, **opts))
    if t == "Cropping2D":
        top, bottom, left, right = zero_pads(c.get("cropping", 0))
        h, w = layer.in_keras_shapes[0][:2]
        return Op(lambda x: x[..., top:h - bottom, left:w - right])
    if t == "PReLU":
        alpha = nn.Parameter(torch.zeros(prelu_shape(c, layer.keras_shape)))
        holder = nn.Module()
        holder.alpha = alpha  # Keras' layout (channels last), as Keras stores it

        def prelu(x):
            y = _nhwc(x)
            return _nchw(F.relu(y) - holder.alpha * F.relu(-y))
        return Op(prelu, [holder])
    if t in ("LayerNormalization", "Normalization"):
        return _norm(c, layer, where)
    if t == "ELU":
        alpha = _number(c, "alpha", 1.0, where)
        return Op(lambda x: F.elu(x, alpha))
    if t == "Rescaling":
        scale, offset = (_constant(c, key, default, layer.keras_shape, where)
                         for key, default in (("scale", 1.0), ("offset", 0.0)))
        return Op(lambda x: _nchw(_nhwc(x) * scale.to(x) + offset.to(x)))
    if t == "Flatten":  # Keras flattens in H, W, C order
        return Op(lambda x: _nhwc(x).flatten(1))
    if t == "Reshape":
        target = tuple(layer.keras_shape)
        return Op(lambda x: _nchw(_nhwc(x).reshape(x.shape[0], *target)))
    if t == "Dense":
        lin = nn.Linear(layer.in_keras_shapes[0][-1], c["units"], bias=c.get("use_bias", True))
        act = _activation(c.get("activation"), where)

        def dense(x):
            y = _nchw(lin(_nhwc(x)))
            return act(y) if act else y
        return Op(dense, [lin])
    if t == "BatchNormalization":
        axis = bn_axis(c, len(layer.keras_shape))
        bn = KerasBatchNorm(layer.keras_shape[axis], axis, _number(c, "epsilon", 1e-3, where),
                            c.get("scale", True), c.get("center", True))
        return Op(bn, [bn])
    if t == "Activation":
        act = _activation(c.get("activation"), where)
        return Op(lambda x: act(x) if act else x)
    if t == "ReLU":
        mx = _number(c, "max_value", None, where, none=True)
        slope, th = (_number(c, key, 0.0, where, none=True) or 0.0 for key in ("negative_slope", "threshold"))

        def relu(x):
            y = torch.where(x >= th, x, slope * (x - th))
            return y.clamp(max=mx) if mx is not None else y
        return Op(relu)
    if t == "LeakyReLU":
        key = "negative_slope" if "negative_slope" in c else "alpha"  # tf.keras 2 wrote alpha
        slope = _number(c, key, 0.3, where)
        return Op(lambda x: F.leaky_relu(x, slope))
    if t == "Softmax":
        return _softmax(c, layer)
    if t in ("Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout"):
        return Op(lambda x: x)  # inference: identity
    raise DarkbenchError(f"{where}: cannot be built in PyTorch")


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
        shapes = {self.input_name: s}
        for layer, node in zip(knet.layers, knet.nodes[1:]):
            cin = shapes[node.inputs[0]][-1]
            mods.append(_module(layer, cin, knet.path))
            self.names.append(node.name)
            self.order.append((node.name, node.inputs))
            shapes[node.name] = layer.keras_shape
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


def build(knet):
    """An eval-mode torch module for a KerasNetwork: random weights, NCHW input of .input_shape."""
    check_memory(knet)  # the cfg builder's check: refuse what would not fit, before allocating
    with torch.no_grad():
        return KerasModel(knet).eval()
