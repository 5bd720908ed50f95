"""Keras layers: output shape and parameters exactly as Keras counts them (channels-last)."""
import math

from ..errors import DarkbenchError


def _int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _pair(v, key="size"):
    """Keras' int-or-pair options (kernel_size, strides, ...): two positive integers."""
    p = (v, v) if _int(v) else tuple(v)
    if len(p) != 2 or not all(_int(x) and x > 0 for x in p):
        raise ValueError(f"{key}={v} must be one or two positive integers")
    return p


def _positive(c, key):
    v = c[key]
    if not _int(v) or v <= 0:
        raise ValueError(f"{key}={v} must be a positive integer")
    return v


def _window(c):
    """kernel, strides, dilation of a convolution."""
    return (_pair(c["kernel_size"], "kernel_size"), _pair(c.get("strides", 1), "strides"),
            _pair(c.get("dilation_rate", 1), "dilation_rate"))


def _padding(c):
    pad = c.get("padding", "valid")
    if pad not in ("valid", "same"):
        raise ValueError(f"padding='{pad}' must be 'valid' or 'same'")
    return pad


def _conv_len(n, k, s, d, padding):
    k = (k - 1) * d + 1
    return (n - k) // s + 1 if padding == "valid" else -(-n // s)


def _bias(c, units):
    return units if c.get("use_bias", True) else 0


def _formula(terms, total):
    return f"{terms} = {total:,}"


def conv2d(c, shapes):
    (h, w, cin), = shapes
    (kh, kw), (sh, sw), (dh, dw) = _window(c)
    f, g = _positive(c, "filters"), c.get("groups", 1)
    if not _int(g) or g <= 0 or cin % g or f % g:
        raise ValueError(f"groups={g} does not divide {cin} input channels and {f} filters")
    pad = _padding(c)
    oh, ow = _conv_len(h, kh, sh, dh, pad), _conv_len(w, kw, sw, dw, pad)
    b = _bias(c, f)
    p = kh * kw * (cin // g) * f + b
    terms = f"({kh}*{kw}*{cin // g}{'+1' if b else ''})*{f}"
    return (oh, ow, f), p, 0, oh * ow * f * kh * kw * (cin // g), _formula(terms, p)


def depthwise(c, shapes):
    (h, w, cin), = shapes
    (kh, kw), (sh, sw), (dh, dw) = _window(c)
    m = _positive(c, "depth_multiplier") if "depth_multiplier" in c else 1
    pad = _padding(c)
    oh, ow = _conv_len(h, kh, sh, dh, pad), _conv_len(w, kw, sw, dw, pad)
    b = _bias(c, cin * m)
    p = kh * kw * cin * m + b
    terms = f"{kh}*{kw}*{cin}*{m}" + (f"+{cin}*{m}" if b else "")
    return (oh, ow, cin * m), p, 0, oh * ow * cin * m * kh * kw, _formula(terms, p)


def separable(c, shapes):
    (h, w, cin), = shapes
    (kh, kw), (sh, sw), (dh, dw) = _window(c)
    m = _positive(c, "depth_multiplier") if "depth_multiplier" in c else 1
    f = _positive(c, "filters")
    pad = _padding(c)
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
    (kh, kw), (sh, sw), (dh, dw) = _window(c)
    op = c.get("output_padding")
    if op is None:
        oph = opw = None
    else:
        oph, opw = (op, op) if _int(op) else tuple(op)
        if not all(_int(x) and 0 <= x < s for x, s in ((oph, sh), (opw, sw))):
            raise ValueError(f"output_padding={op} must be non-negative and below the strides {(sh, sw)}")
    f, pad = _positive(c, "filters"), _padding(c)
    oh, ow = _deconv_len(h, kh, sh, dh, pad, oph), _deconv_len(w, kw, sw, dw, pad, opw)
    b = _bias(c, f)
    p = kh * kw * f * cin + b
    terms = f"({kh}*{kw}*{cin}{'+1' if b else ''})*{f}"
    return (oh, ow, f), p, 0, h * w * cin * kh * kw * f, _formula(terms, p)


def pool(c, shapes):
    (h, w, ch), = shapes
    ph, pw = _pair(c.get("pool_size", 2), "pool_size")
    st = c.get("strides")
    sh, sw = _pair(st, "strides") if st is not None else (ph, pw)
    pad = _padding(c)
    oh, ow = _conv_len(h, ph, sh, 1, pad), _conv_len(w, pw, sw, 1, pad)
    return (oh, ow, ch), 0, 0, 0, ""


def global_pool(c, shapes):
    (h, w, ch), = shapes
    return ((1, 1, ch) if c.get("keepdims") else (ch,)), 0, 0, 0, ""


def zero_padding(c, shapes):
    (h, w, ch), = shapes
    t, b, l, r = zero_pads(c.get("padding", 1))
    return (h + t + b, w + l + r, ch), 0, 0, 0, ""


def zero_pads(p, key="padding"):
    """ZeroPadding2D's padding (or Cropping2D's cropping) as (top, bottom, left, right)."""
    if _int(p):
        t = b = l = r = p
    elif _int(p[0]):
        (t, l), (b, r) = p, p
    else:
        (t, b), (l, r) = p
    if not all(_int(x) and x >= 0 for x in (t, b, l, r)):
        raise ValueError(f"{key}={p} must be non-negative integers")
    return t, b, l, r


def concatenate(c, shapes):
    axis = c.get("axis", -1)
    rank = len(shapes[0])
    if not _int(axis) or not -rank <= axis <= rank or axis == 0:
        raise ValueError(f"axis={axis} is not a feature axis of rank-{rank} inputs")
    ax = axis - 1 if axis > 0 else rank + axis
    for s in shapes[1:]:
        if len(s) != rank or any(a != b for i, (a, b) in enumerate(zip(s, shapes[0])) if i != ax):
            raise ValueError(f"cannot concatenate shapes {shapes} on axis {axis}")
    out = list(shapes[0])
    out[ax] = sum(s[ax] for s in shapes)
    return tuple(out), 0, 0, 0, ""


def broadcast(a, b):
    """Keras' merge-layer shape rule: numpy broadcasting of the shapes without the batch axis."""
    if len(a) < len(b):
        a, b = b, a
    out = list(a[:len(a) - len(b)])
    for i, j in zip(a[len(a) - len(b):], b):
        if i != j and 1 not in (i, j):
            raise ValueError(f"inputs of shapes {a} and {b} do not broadcast")
        out.append(j if i == 1 else i)
    return tuple(out)


def merge(c, shapes):
    out = shapes[0]
    for s in shapes[1:]:
        out = broadcast(out, s)
    return out, 0, 0, 0, ""


def subtract(c, shapes):
    if len(shapes) != 2:
        raise ValueError(f"Subtract takes exactly 2 inputs, got {len(shapes)}")
    return merge(c, shapes)


def upsampling(c, shapes):
    (h, w, ch), = shapes
    sh, sw = _pair(c.get("size", 2), "size")
    return (h * sh, w * sw, ch), 0, 0, 0, ""


def cropping(c, shapes):
    (h, w, ch), = shapes
    t, b, l, r = zero_pads(c.get("cropping", 0), "cropping")
    return (h - t - b, w - l - r, ch), 0, 0, 0, ""


def prelu(c, shapes):
    (s,) = shapes
    shape = list(s)
    for a in c.get("shared_axes") or []:
        if not _int(a) or not 1 <= a <= len(s):
            raise ValueError(f"shared_axes={c['shared_axes']} must be axes 1..{len(s)}")
        shape[a - 1] = 1
    p = math.prod(shape)
    return s, p, 0, 0, f"alpha {'*'.join(map(str, shape))} = {p:,}"


def flatten(c, shapes):
    (s,) = shapes
    return (math.prod(s),), 0, 0, 0, " * ".join(map(str, s)) + f" = {math.prod(s):,} units"


def reshape(c, shapes):
    (s,) = shapes
    target = list(c["target_shape"])
    n = math.prod(s)
    if not all(_int(t) and (t > 0 or t == -1) for t in target) or target.count(-1) > 1:
        raise ValueError(f"target_shape={tuple(target)} must be positive integers and at most one -1")
    if -1 in target:
        known = math.prod(t for t in target if t != -1)
        target[target.index(-1)] = n // known
    if math.prod(target) != n:
        raise ValueError(f"cannot reshape {s} into {tuple(c['target_shape'])}")
    return tuple(target), 0, 0, 0, ""


def dense(c, shapes):
    (s,) = shapes
    units, n_in = _positive(c, "units"), s[-1]
    b = _bias(c, units)
    p = n_in * units + b
    terms = f"({n_in}{'+1' if b else ''})*{units}"
    return tuple(s[:-1]) + (units,), p, 0, math.prod(s) * units, _formula(terms, p)


def batchnorm(c, shapes):
    (s,) = shapes
    n = s[bn_axis(c, len(s))]
    k = int(bool(c.get("scale", True))) + int(bool(c.get("center", True)))
    what = "+".join(w for w, on in (("gamma", c.get("scale", True)), ("beta", c.get("center", True))) if on)
    text = (f"{k}*{n} ({what}) + " if k else "") + f"2*{n} (moving mean, variance) = {(k + 2) * n:,}"
    return s, k * n, 2 * n, 0, text


def bn_axis(c, rank):
    """BatchNormalization's feature axis as an index into the shape without the batch axis."""
    axis = c.get("axis", -1)
    if isinstance(axis, list):  # tf.keras 2 writes [3]
        if len(axis) != 1:
            raise ValueError(f"axis={axis}: only one normalised axis is supported")
        axis = axis[0]
    if not _int(axis) or not -rank <= axis <= rank or axis == 0:
        raise ValueError(f"axis={axis} is not a feature axis of rank-{rank} inputs")
    return axis - 1 if axis > 0 else rank + axis


def feature_axes(axis, rank):
    """Keras axis option (counting the batch axis, maybe negative, maybe a list) as sorted indices
    into the shape without the batch axis."""
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    out = []
    for a in axes:
        if not _int(a) or not -rank <= a <= rank or a == 0:
            raise ValueError(f"axis={axis} is not a feature axis of rank-{rank} inputs")
        out.append(a - 1 if a > 0 else rank + a)
    return sorted(set(out))


def layernorm(c, shapes):
    (s,) = shapes
    n = math.prod(s[a] for a in feature_axes(c.get("axis", -1), len(s)))
    rms = c.get("rms_scaling", False)
    gamma, beta = bool(c.get("scale", True) or rms), bool(c.get("center", True) and not rms)
    what = "+".join(w for w, on in (("gamma", gamma), ("beta", beta)) if on)
    k = gamma + beta
    return s, k * n, 0, 0, f"{k}*{n} ({what}) = {k * n:,}" if k else ""


def normalization(c, shapes):
    """Keras' Normalization: mean and variance given in the config are constants; otherwise
    adapted mean, variance and a count are non-trainable weights."""
    (s,) = shapes
    axis = c.get("axis", -1)
    axes = feature_axes(axis, len(s)) if axis not in (None, [], ()) else []
    if c.get("mean") is not None:
        return s, 0, 0, 0, ""
    n = math.prod(s[a] for a in axes)
    return s, 0, 2 * n + 1, 0, f"2*{n} (mean, variance) + 1 (count) = {2 * n + 1:,}"


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
    # beyond the list darkbench set out to support, common in small Keras models
    "Subtract": subtract, "Average": merge, "Maximum": merge, "Minimum": merge,
    "UpSampling2D": upsampling, "Cropping2D": cropping, "PReLU": prelu, "ELU": passthrough,
    "Rescaling": passthrough, "SpatialDropout2D": passthrough, "GaussianNoise": passthrough,
    "GaussianDropout": passthrough, "AlphaDropout": passthrough, "LayerNormalization": layernorm,
    "Normalization": normalization,
}
# layers that need an (H, W, C) input
IMAGE = {"Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Conv2DTranspose", "MaxPooling2D",
         "AveragePooling2D", "MaxPool2D", "AvgPool2D", "GlobalMaxPooling2D", "GlobalAveragePooling2D",
         "GlobalMaxPool2D", "GlobalAvgPool2D", "ZeroPadding2D", "UpSampling2D", "Cropping2D",
         "SpatialDropout2D"}


def evaluate(node, shapes, path):
    rule = RULES.get(node.cls)
    if rule is None:
        raise DarkbenchError(f"layer '{node.name}' of class {node.cls} is not supported "
                             f"(supported: InputLayer, {', '.join(sorted(RULES))})", path)
    c = node.config
    if c.get("data_format") not in (None, "channels_last"):  # None: Keras' default, channels_last
        raise DarkbenchError(f"layer '{node.name}' ({node.cls}): only channels_last is supported", path)
    if node.cls in IMAGE and any(len(s) != 3 for s in shapes):
        raise DarkbenchError(f"layer '{node.name}' ({node.cls}) needs an image input (H, W, C), "
                             f"got {shapes}", path)
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
