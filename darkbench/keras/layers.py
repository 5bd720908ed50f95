"""Keras layers: output shape and parameters exactly as Keras counts them (channels-last)."""
import math

from ..errors import DarkbenchError


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _conv_len(n, k, s, d, padding):
    k = (k - 1) * d + 1
    return (n - k) // s + 1 if padding == "valid" else -(-n // s)


def _bias(c, units):
    return units if c.get("use_bias", True) else 0


def _formula(terms, total):
    return f"{terms} = {total:,}"


def conv2d(c, shapes):
    (h, w, cin), = shapes
    kh, kw = _pair(c["kernel_size"])
    sh, sw = _pair(c.get("strides", 1))
    dh, dw = _pair(c.get("dilation_rate", 1))
    f, g = c["filters"], c.get("groups", 1)
    if cin % g or f % g:
        raise ValueError(f"groups={g} does not divide {cin} input channels and {f} filters")
    pad = c.get("padding", "valid")
    oh, ow = _conv_len(h, kh, sh, dh, pad), _conv_len(w, kw, sw, dw, pad)
    b = _bias(c, f)
    p = kh * kw * (cin // g) * f + b
    terms = f"({kh}*{kw}*{cin // g}{'+1' if b else ''})*{f}"
    return (oh, ow, f), p, 0, oh * ow * f * kh * kw * (cin // g), _formula(terms, p)


def depthwise(c, shapes):
    (h, w, cin), = shapes
    kh, kw = _pair(c["kernel_size"])
    sh, sw = _pair(c.get("strides", 1))
    dh, dw = _pair(c.get("dilation_rate", 1))
    m = c.get("depth_multiplier", 1)
    pad = c.get("padding", "valid")
    oh, ow = _conv_len(h, kh, sh, dh, pad), _conv_len(w, kw, sw, dw, pad)
    b = _bias(c, cin * m)
    p = kh * kw * cin * m + b
    terms = f"{kh}*{kw}*{cin}*{m}" + (f"+{cin}*{m}" if b else "")
    return (oh, ow, cin * m), p, 0, oh * ow * cin * m * kh * kw, _formula(terms, p)


def separable(c, shapes):
    (h, w, cin), = shapes
    kh, kw = _pair(c["kernel_size"])
    sh, sw = _pair(c.get("strides", 1))
    dh, dw = _pair(c.get("dilation_rate", 1))
    m, f = c.get("depth_multiplier", 1), c["filters"]
    pad = c.get("padding", "valid")
    oh, ow = _conv_len(h, kh, sh, dh, pad), _conv_len(w, kw, sw, dw, pad)
    b = _bias(c, f)
    p = kh * kw * cin * m + cin * m * f + b
    terms = f"{kh}*{kw}*{cin}*{m} + {cin}*{m}*{f}" + (f"+{f}" if b else "")
    macs = oh * ow * (cin * m * kh * kw + cin * m * f)
    return (oh, ow, f), p, 0, macs, _formula(terms, p)


def _deconv_len(n, k, s, d, padding, out_pad):
    k = k + (k - 1) * (d - 1)
    if out_pad is None:
        return n * s + max(k - s, 0) if padding == "valid" else n * s
    pad = k // 2 if padding == "same" else 0
    return (n - 1) * s + k - 2 * pad + out_pad


def conv2d_transpose(c, shapes):
    (h, w, cin), = shapes
    kh, kw = _pair(c["kernel_size"])
    sh, sw = _pair(c.get("strides", 1))
    dh, dw = _pair(c.get("dilation_rate", 1))
    op = c.get("output_padding")
    oph, opw = _pair(op) if op is not None else (None, None)
    f, pad = c["filters"], c.get("padding", "valid")
    oh, ow = _deconv_len(h, kh, sh, dh, pad, oph), _deconv_len(w, kw, sw, dw, pad, opw)
    b = _bias(c, f)
    p = kh * kw * f * cin + b
    terms = f"({kh}*{kw}*{cin}{'+1' if b else ''})*{f}" if b else f"{kh}*{kw}*{cin}*{f}"
    if b:
        terms = f"{kh}*{kw}*{cin}*{f}+{f}"
    return (oh, ow, f), p, 0, h * w * cin * kh * kw * f, _formula(terms, p)


def pool(c, shapes):
    (h, w, ch), = shapes
    ph, pw = _pair(c.get("pool_size", 2))
    st = c.get("strides")
    sh, sw = _pair(st) if st is not None else (ph, pw)
    pad = c.get("padding", "valid")
    oh, ow = _conv_len(h, ph, sh, 1, pad), _conv_len(w, pw, sw, 1, pad)
    return (oh, ow, ch), 0, 0, 0, ""


def global_pool(c, shapes):
    (h, w, ch), = shapes
    return ((1, 1, ch) if c.get("keepdims") else (ch,)), 0, 0, 0, ""


def zero_padding(c, shapes):
    (h, w, ch), = shapes
    p = c.get("padding", 1)
    if isinstance(p, int):
        t = b = l = r = p
    elif isinstance(p[0], int):
        t = b = p[0]
        l = r = p[1]
    else:
        (t, b), (l, r) = p
    return (h + t + b, w + l + r, ch), 0, 0, 0, ""


def concatenate(c, shapes):
    axis = c.get("axis", -1)
    rank = len(shapes[0])
    ax = axis % (rank + 1) - 1 if axis >= 0 else rank + axis
    for s in shapes[1:]:
        if len(s) != rank or any(a != b for i, (a, b) in enumerate(zip(s, shapes[0])) if i != ax):
            raise ValueError(f"cannot concatenate shapes {shapes} on axis {axis}")
    out = list(shapes[0])
    out[ax] = sum(s[ax] for s in shapes)
    return tuple(out), 0, 0, 0, ""


def merge(c, shapes):
    if any(s != shapes[0] for s in shapes):
        raise ValueError(f"inputs of different shapes {shapes}")
    return shapes[0], 0, 0, 0, ""


def flatten(c, shapes):
    (s,) = shapes
    return (math.prod(s),), 0, 0, 0, " * ".join(map(str, s)) + f" = {math.prod(s):,} units"


def reshape(c, shapes):
    (s,) = shapes
    target = list(c["target_shape"])
    n = math.prod(s)
    if -1 in target:
        known = math.prod(t for t in target if t != -1)
        target[target.index(-1)] = n // known
    if math.prod(target) != n:
        raise ValueError(f"cannot reshape {s} into {tuple(c['target_shape'])}")
    return tuple(target), 0, 0, 0, ""


def dense(c, shapes):
    (s,) = shapes
    units, n_in = c["units"], s[-1]
    b = _bias(c, units)
    p = n_in * units + b
    return tuple(s[:-1]) + (units,), p, 0, math.prod(s) * units, _formula(f"({n_in}{'+1' if b else ''})*{units}", p)


def batchnorm(c, shapes):
    (s,) = shapes
    axis = c.get("axis", -1)
    axis = axis[0] if isinstance(axis, list) else axis
    n = s[axis - 1 if axis > 0 else axis]
    trainable = n * (int(c.get("scale", True)) + int(c.get("center", True)))
    return s, trainable, 2 * n, 0, f"{trainable // n or 0}*{n} trainable + 2*{n} moving statistics = {trainable + 2 * n:,}"


def passthrough(c, shapes):
    (s,) = shapes
    return s, 0, 0, 0, ""


RULES = {
    "Conv2D": conv2d, "DepthwiseConv2D": depthwise, "SeparableConv2D": separable,
    "Conv2DTranspose": conv2d_transpose, "MaxPooling2D": pool, "AveragePooling2D": pool,
    "MaxPool2D": pool, "AvgPool2D": pool,
    "GlobalMaxPooling2D": global_pool, "GlobalAveragePooling2D": global_pool,
    "GlobalMaxPool2D": global_pool, "GlobalAvgPool2D": global_pool,
    "ZeroPadding2D": zero_padding, "Concatenate": concatenate, "Add": merge, "Multiply": merge,
    "Flatten": flatten, "Reshape": reshape, "Dense": dense, "BatchNormalization": batchnorm,
    "Activation": passthrough, "ReLU": passthrough, "LeakyReLU": passthrough, "Softmax": passthrough,
    "Dropout": passthrough,
}


def evaluate(node, shapes, path):
    rule = RULES.get(node.cls)
    if rule is None:
        raise DarkbenchError(f"layer '{node.name}' of class {node.cls} is not supported "
                             f"(supported: InputLayer, {', '.join(sorted(RULES))})", path)
    c = node.config
    if c.get("data_format", "channels_last") != "channels_last":
        raise DarkbenchError(f"layer '{node.name}' ({node.cls}): only channels_last is supported", path)
    needs_image = node.cls not in ("Dense", "Flatten", "Reshape", "Concatenate", "Add", "Multiply",
                                   "BatchNormalization", "Activation", "ReLU", "LeakyReLU", "Softmax", "Dropout")
    if needs_image and any(len(s) != 3 for s in shapes):
        raise DarkbenchError(f"layer '{node.name}' ({node.cls}) needs an image input (H, W, C), got {shapes}", path)
    try:
        out, trainable, non_trainable, macs, formula = rule(c, shapes)
    except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError) as e:
        what = f"missing option {e}" if isinstance(e, KeyError) else str(e)
        raise DarkbenchError(f"layer '{node.name}' ({node.cls}): {what}", path) from None
    if any(d <= 0 for d in out):
        raise DarkbenchError(f"layer '{node.name}' ({node.cls}): output shape {out} is empty", path)
    if not c.get("trainable", True):
        trainable, non_trainable = 0, trainable + non_trainable
    return out, trainable, non_trainable, macs, formula
