"""A Keras architecture as a PyTorch module (NCHW, random weights): for timing and shapes."""
import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import DarkbenchError


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _same_pad(n, k, s, d=1):
    k = (k - 1) * d + 1
    total = max((-(-n // s) - 1) * s + k - n, 0)
    return total // 2, total - total // 2  # TensorFlow puts the extra row/column at the end


ACT = {"linear": None, None: None, "relu": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
       "elu": F.elu, "selu": F.selu, "softplus": F.softplus, "swish": F.silu, "silu": F.silu,
       "gelu": F.gelu, "relu6": F.relu6, "leaky_relu": lambda x: F.leaky_relu(x, 0.2),
       "hard_sigmoid": F.hardsigmoid, "softmax": "softmax"}


def _activation(name, where):
    if isinstance(name, dict):
        name = name.get("config", {}).get("name") or name.get("class_name")
    if name not in ACT:
        raise DarkbenchError(f"{where}: activation '{name}' is not supported in PyTorch")
    fn = ACT[name]
    if fn == "softmax":
        return lambda x: x.softmax(1)
    return fn


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


def _conv(c, cin, where, layer):
    kh, kw = _pair(c["kernel_size"])
    sh, sw = _pair(c.get("strides", 1))
    dh, dw = _pair(c.get("dilation_rate", 1))
    h, w = layer.in_keras_shapes[0][:2]
    cls = layer.type
    same = c.get("padding", "valid") == "same"
    pads = (*_same_pad(w, kw, sw, dw), *_same_pad(h, kh, sh, dh)) if same else (0, 0, 0, 0)
    bias = c.get("use_bias", True)
    mods = []
    if cls == "Conv2D":
        mods.append(nn.Conv2d(cin, c["filters"], (kh, kw), (sh, sw), dilation=(dh, dw),
                              groups=c.get("groups", 1), bias=bias))
    elif cls == "DepthwiseConv2D":
        m = c.get("depth_multiplier", 1)
        mods.append(nn.Conv2d(cin, cin * m, (kh, kw), (sh, sw), dilation=(dh, dw), groups=cin, bias=bias))
    else:  # SeparableConv2D
        m = c.get("depth_multiplier", 1)
        mods.append(nn.Conv2d(cin, cin * m, (kh, kw), (sh, sw), dilation=(dh, dw), groups=cin, bias=False))
        mods.append(nn.Conv2d(cin * m, c["filters"], 1, bias=bias))
    act = _activation(c.get("activation"), where)

    def fn(x):
        if any(pads):
            x = F.pad(x, pads)
        for m in mods:
            x = m(x)
        return act(x) if act else x
    return Op(fn, mods)


def _deconv(c, cin, where, layer):
    kh, kw = _pair(c["kernel_size"])
    sh, sw = _pair(c.get("strides", 1))
    dh, dw = _pair(c.get("dilation_rate", 1))
    oh, ow = layer.keras_shape[:2]
    conv = nn.ConvTranspose2d(cin, c["filters"], (kh, kw), (sh, sw), dilation=(dh, dw),
                              bias=c.get("use_bias", True))
    act = _activation(c.get("activation"), where)

    def fn(x):
        y = conv(x)
        fh, fw = y.shape[-2:]
        th, tw = (fh - oh) // 2 if fh > oh else 0, (fw - ow) // 2 if fw > ow else 0
        y = y[..., th:th + oh, tw:tw + ow]
        y = F.pad(y, (0, ow - y.shape[-1], 0, oh - y.shape[-2]))
        return act(y) if act else y
    return Op(fn, [conv])


def _pool(c, layer):
    ph, pw = _pair(c.get("pool_size", 2))
    st = c.get("strides")
    sh, sw = _pair(st) if st is not None else (ph, pw)
    h, w = layer.in_keras_shapes[0][:2]
    same = c.get("padding", "valid") == "same"
    pads = (*_same_pad(w, pw, sw), *_same_pad(h, ph, sh)) if same else (0, 0, 0, 0)
    if layer.type.startswith("Max"):
        return Op(lambda x: F.max_pool2d(F.pad(x, pads, value=float("-inf")) if any(pads) else x, (ph, pw), (sh, sw)))

    def avg(x):  # Keras averages over the valid cells only
        if not any(pads):
            return F.avg_pool2d(x, (ph, pw), (sh, sw))
        s = F.avg_pool2d(F.pad(x, pads), (ph, pw), (sh, sw))
        n = F.avg_pool2d(F.pad(torch.ones_like(x[:, :1]), pads), (ph, pw), (sh, sw))
        return s / n
    return Op(avg)


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
        p = c.get("padding", 1)
        if isinstance(p, int):
            pads = (p, p, p, p)
        elif isinstance(p[0], int):
            pads = (p[1], p[1], p[0], p[0])
        else:
            pads = (p[1][0], p[1][1], p[0][0], p[0][1])
        return Op(lambda x: F.pad(x, pads))
    if t == "Concatenate":
        axis = c.get("axis", -1)
        return Op(lambda *xs: torch.cat(xs, _to_keras_axis(xs[0], axis)))
    if t == "Add":
        return Op(lambda *xs: sum(xs[1:], xs[0]))
    if t == "Multiply":
        return Op(lambda *xs: math.prod(xs[1:], start=xs[0]))
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
        n = layer.keras_shape[-1]
        bn = nn.BatchNorm2d(n, eps=c.get("epsilon", 1e-3)) if len(layer.keras_shape) == 3 else \
            nn.BatchNorm1d(n, eps=c.get("epsilon", 1e-3))
        return Op(bn, [bn])
    if t == "Activation":
        act = _activation(c.get("activation"), where)
        return Op(lambda x: act(x) if act else x)
    if t == "ReLU":
        mx, slope, th = c.get("max_value"), c.get("negative_slope", 0.0) or 0.0, c.get("threshold", 0.0) or 0.0

        def relu(x):
            y = torch.where(x >= th, x, slope * (x - th))
            return y.clamp(max=mx) if mx is not None else y
        return Op(relu)
    if t == "LeakyReLU":
        slope = c.get("negative_slope", c.get("alpha", 0.3))
        return Op(lambda x: F.leaky_relu(x, slope))
    if t == "Softmax":
        axis = c.get("axis", -1)
        return Op(lambda x: x.softmax(_to_keras_axis(x, axis)))
    if t == "Dropout":
        return Op(lambda x: x)
    raise DarkbenchError(f"{where}: cannot be built in PyTorch")


class KerasModel(nn.Module):
    def __init__(self, knet):
        super().__init__()
        self.spec = knet
        self.path = knet.path
        s = knet.input_keras_shape
        self.input_shape = (s[2], s[0], s[1]) if len(s) == 3 else tuple(s)
        names = {n.name: n for n in knet.nodes}
        self.input_name = knet.nodes[0].name
        self.order, mods = [], []
        shapes = {self.input_name: s}
        for layer, node in zip(knet.layers, knet.nodes[1:]):
            layer.config = node.config
            cin = shapes[node.inputs[0]][-1]
            mods.append(_module(layer, cin, knet.path))
            self.order.append((node.name, node.inputs))
            shapes[node.name] = layer.keras_shape
        self.layers = nn.ModuleList(mods)
        del names

    def forward(self, x):
        if tuple(x.shape[1:]) != self.input_shape:
            raise DarkbenchError(f"{self.path}: input of shape {tuple(x.shape)}; expected (N, {', '.join(map(str, self.input_shape))})")
        vals = {self.input_name: x}
        for (name, inputs), m in zip(self.order, self.layers):
            vals[name] = m(*[vals[i] for i in inputs])
        return vals[self.order[-1][0]]


def build(knet):
    return KerasModel(knet).eval()
