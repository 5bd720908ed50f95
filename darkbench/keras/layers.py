"""Keras layers: output shape and parameters exactly as Keras counts them (channels-last)."""
import math
from dataclasses import dataclass
from typing import Callable

from ..errors import DarkbenchError


MAX_VALUES = 1 << 34     # the most values in one tensor: the cfg reader's limit (network.py)
MAX_WINDOW = 2 ** 31 - 1  # kernel, stride, padding...: torch's pooling takes 32-bit ints


def _int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _pair(v, key="size"):
    """Keras' int-or-pair options (kernel_size, strides, ...): two positive integers."""
    p = (v, v) if _int(v) else tuple(v) if isinstance(v, (list, tuple)) else ()
    if len(p) != 2 or not all(_int(x) and 0 < x <= MAX_WINDOW for x in p):
        raise ValueError(f"{key}={short(v)} must be one or two positive integers (at most {MAX_WINDOW})")
    return p


def short(v, limit=60):
    """A config value for a one-line message, cut short."""
    text = " ".join(str(v).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _positive(c, key):
    v = c[key]
    if not _int(v) or v <= 0:
        raise ValueError(f"{key}={short(v)} must be a positive integer")
    return v


def _window(c):
    """kernel, strides, dilation of a convolution."""
    return (_pair(c["kernel_size"], "kernel_size"), _pair(c.get("strides", 1), "strides"),
            _pair(c.get("dilation_rate", 1), "dilation_rate"))


def _padding(c):
    pad = c.get("padding", "valid")
    if pad not in ("valid", "same"):
        raise ValueError(f"padding='{short(pad)}' must be 'valid' or 'same'")
    return pad


def _conv_len(n, k, s, d, padding):
    k = (k - 1) * d + 1
    return (n - k) // s + 1 if padding == "valid" else -(-n // s)


def _check_padded(h, w, c, kh, kw, sh, sw, dh, dw, padding):
    """'same' padding of a huge window makes a huge padded input (the builder pads explicitly)."""
    if padding != "same":
        return
    extent = [(-(-n // s) - 1) * s + (k - 1) * d + 1 for n, k, s, d in ((h, kh, sh, dh), (w, kw, sw, dw))]
    n = max(extent[0], h) * max(extent[1], w) * c
    if n > MAX_VALUES:
        raise ValueError(f"the padded input of {n} values is too large (a window of {kh}x{kw}, "
                         f"dilation {dh}x{dw})")


def _bias(c, units):
    return units if c.get("use_bias", True) else 0


def _formula(terms, total):
    return f"{terms} = {total:,}"


def conv2d(c, shapes):
    (h, w, cin), = shapes
    (kh, kw), (sh, sw), (dh, dw) = _window(c)
    f, g = _positive(c, "filters"), c.get("groups", 1)
    if not _int(g) or g <= 0 or cin % g or f % g:
        raise ValueError(f"groups={short(g)} does not divide {cin} input channels and {f} filters")
    pad = _padding(c)
    _check_padded(h, w, cin, kh, kw, sh, sw, dh, dw, pad)
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
    _check_padded(h, w, cin, kh, kw, sh, sw, dh, dw, pad)
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
    _check_padded(h, w, cin, kh, kw, sh, sw, dh, dw, pad)
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


def _output_padding(op, sh, sw):
    """Conv2DTranspose's output_padding: (None, None) when absent, else a pair below the strides."""
    if op is None:
        return None, None
    pair = (op, op) if _int(op) else tuple(op) if isinstance(op, (list, tuple)) else ()
    if len(pair) != 2 or not all(_int(x) and 0 <= x < s for x, s in zip(pair, (sh, sw))):
        raise ValueError(f"output_padding={short(op)} must be non-negative and below the strides {(sh, sw)}")
    return pair


def conv2d_transpose(c, shapes):
    (h, w, cin), = shapes
    (kh, kw), (sh, sw), (dh, dw) = _window(c)
    oph, opw = _output_padding(c.get("output_padding"), sh, sw)
    f, pad = _positive(c, "filters"), _padding(c)
    full = ((h - 1) * sh + (kh - 1) * dh + 1) * ((w - 1) * sw + (kw - 1) * dw + 1) * f
    if full > MAX_VALUES:  # the builder computes the whole transposed convolution, then crops
        raise ValueError(f"the uncropped output of {full} values is too large (a window of {kh}x{kw}, "
                         f"dilation {dh}x{dw})")
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
    _check_padded(h, w, ch, ph, pw, sh, sw, 1, 1, pad)
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
    bad = ValueError(f"{key}={short(p)} must be one, two or two pairs of non-negative integers "
                     f"(at most {MAX_WINDOW})")
    if _int(p):
        t = b = l = r = p
    elif not isinstance(p, (list, tuple)) or len(p) != 2:
        raise bad
    elif _int(p[0]):
        (t, l), (b, r) = p, p
    elif all(isinstance(x, (list, tuple)) and len(x) == 2 for x in p):
        (t, b), (l, r) = p
    else:
        raise bad
    if not all(_int(x) and 0 <= x <= MAX_WINDOW for x in (t, b, l, r)):
        raise bad
    return t, b, l, r


def concatenate(c, shapes):
    axis = c.get("axis", -1)
    rank = len(shapes[0])
    if not _int(axis) or not -rank <= axis <= rank or axis == 0:
        raise ValueError(f"axis={short(axis)} is not a feature axis of rank-{rank} inputs")
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
    shape = prelu_shape(c, s)
    p = math.prod(shape)
    return s, p, 0, 0, f"alpha {'*'.join(map(str, shape))} = {p:,}"


def prelu_shape(c, s):
    """PReLU's alpha shape: the input's, 1 on the shared axes (Keras takes one axis or a list)."""
    axes = c.get("shared_axes")
    axes = [] if axes is None else axes if isinstance(axes, (list, tuple)) else [axes]
    shape = list(s)
    for a in axes:
        if not _int(a) or not 1 <= a <= len(s):
            raise ValueError(f"shared_axes={short(c['shared_axes'])} must be axes 1..{len(s)}")
        shape[a - 1] = 1
    return shape


def flatten(c, shapes):
    (s,) = shapes
    return (math.prod(s),), 0, 0, 0, " * ".join(map(str, s)) + f" = {math.prod(s):,} units"


def reshape(c, shapes):
    (s,) = shapes
    if not isinstance(c["target_shape"], (list, tuple)):
        raise ValueError(f"target_shape={short(c['target_shape'])} must be a list of sizes")
    target = list(c["target_shape"])
    n = math.prod(s)
    if not all(_int(t) and (t > 0 or t == -1) for t in target) or target.count(-1) > 1:
        raise ValueError(f"target_shape={short(tuple(target))} must be positive integers and at most one -1")
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
            raise ValueError(f"axis={short(axis)}: only one normalised axis is supported")
        axis = axis[0]
    if not _int(axis) or not -rank <= axis <= rank or axis == 0:
        raise ValueError(f"axis={short(axis)} is not a feature axis of rank-{rank} inputs")
    return axis - 1 if axis > 0 else rank + axis


def feature_axes(axis, rank):
    """Keras axis option (counting the batch axis, maybe negative, maybe a list) as sorted indices
    into the shape without the batch axis."""
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    out = []
    for a in axes:
        if not _int(a) or not -rank <= a <= rank or a == 0:
            raise ValueError(f"axis={short(axis)} is not a feature axis of rank-{rank} inputs")
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


def groupnorm(c, shapes):
    """GroupNormalization over the last axis (Keras' default; darkbench's only)."""
    (s,) = shapes
    if c.get("axis", -1) not in (-1, len(s)):
        raise ValueError(f"axis={short(c.get('axis'))}: only the last axis is supported")
    n, g = s[-1], c.get("groups", 32)
    g = n if g == -1 else g
    if not _int(g) or g <= 0 or n % g:
        raise ValueError(f"groups={short(c.get('groups'))} does not divide {n} channels")
    k = int(bool(c.get("scale", True))) + int(bool(c.get("center", True)))
    return s, k * n, 0, 0, f"{k}*{n} = {k * n:,}" if k else ""


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


def softmax(c, shapes):
    (s,) = shapes
    feature_axes(c.get("axis", -1), len(s))  # Keras takes one axis or several
    return s, 0, 0, 0, ""


def resizing(c, shapes):
    """Resizing and CenterCrop: an image of height x width."""
    (h, w, ch), = shapes
    return (_positive(c, "height"), _positive(c, "width"), ch), 0, 0, 0, ""


def permute(c, shapes):
    (s,) = shapes
    dims = c["dims"]
    if not isinstance(dims, (list, tuple)) or sorted(dims) != list(range(1, len(s) + 1)):
        raise ValueError(f"dims={short(dims)} must order the axes 1..{len(s)}")
    return tuple(s[d - 1] for d in dims), 0, 0, 0, ""


def layer_scale(c, shapes):
    """ConvNeXt's LayerScale: x * gamma, gamma of projection_dim values on the last axis."""
    (s,) = shapes
    n = _positive(c, "projection_dim")
    if n != s[-1]:
        raise ValueError(f"projection_dim={n} does not match the {s[-1]} input channels")
    return s, n, 0, 0, f"gamma {n} = {n:,}"


def custom_scale(c, shapes):
    """InceptionResNetV2's CustomScaleLayer: inputs[0] + inputs[1] * scale."""
    if len(shapes) != 2:
        raise ValueError(f"takes exactly 2 inputs, got {len(shapes)}")
    return merge(c, shapes)


def passthrough(c, shapes):
    (s,) = shapes
    return s, 0, 0, 0, ""


@dataclass(frozen=True)
class Kind:
    """One Keras layer class: its counting rule, its PyTorch builder and its traits."""
    count: Callable          # (config, input shapes) -> (output shape, trainable, non-trainable, MACs, formula)
    build: str               # its builder's name in darkbench/keras/torch.py (torch loads only to build)
    image: bool = False      # needs (H, W, C) inputs
    window: str = ""         # "conv" or "pool": tables show its window, e.g. '3x3/2 same'
    op: bool = False         # Keras' operation of this name (x + y: keras.src.ops.numpy.Add) computes the same


_CONV, _POOL = dict(image=True, window="conv"), dict(image=True, window="pool")
KINDS = {
    "Conv2D": Kind(conv2d, "conv2d", **_CONV),
    "DepthwiseConv2D": Kind(depthwise, "depthwise", **_CONV),
    "SeparableConv2D": Kind(separable, "separable", **_CONV),
    "Conv2DTranspose": Kind(conv2d_transpose, "conv2d_transpose", **_CONV),
    "MaxPooling2D": Kind(pool, "max_pool", **_POOL),
    "MaxPool2D": Kind(pool, "max_pool", **_POOL),
    "AveragePooling2D": Kind(pool, "average_pool", **_POOL),
    "AvgPool2D": Kind(pool, "average_pool", **_POOL),
    "GlobalMaxPooling2D": Kind(global_pool, "global_max", image=True),
    "GlobalMaxPool2D": Kind(global_pool, "global_max", image=True),
    "GlobalAveragePooling2D": Kind(global_pool, "global_average", image=True),
    "GlobalAvgPool2D": Kind(global_pool, "global_average", image=True),
    "ZeroPadding2D": Kind(zero_padding, "zero_padding", image=True),
    "Cropping2D": Kind(cropping, "cropping", image=True),
    "UpSampling2D": Kind(upsampling, "upsampling", image=True),
    "Concatenate": Kind(concatenate, "concatenate"),
    "Add": Kind(merge, "add", op=True),
    "Subtract": Kind(subtract, "subtract", op=True),
    "Multiply": Kind(merge, "multiply", op=True),
    "Average": Kind(merge, "average"),
    "Maximum": Kind(merge, "maximum"),
    "Minimum": Kind(merge, "minimum"),
    "Flatten": Kind(flatten, "flatten"),
    "Reshape": Kind(reshape, "reshape"),
    "Dense": Kind(dense, "dense"),
    "BatchNormalization": Kind(batchnorm, "batch_norm"),
    "LayerNormalization": Kind(layernorm, "layer_norm"),
    "GroupNormalization": Kind(groupnorm, "group_norm"),
    "Normalization": Kind(normalization, "normalization"),
    "Rescaling": Kind(passthrough, "rescaling"),
    "Activation": Kind(passthrough, "activation_layer"),
    "ReLU": Kind(passthrough, "relu"),
    "LeakyReLU": Kind(passthrough, "leaky_relu"),
    "PReLU": Kind(prelu, "prelu"),
    "ELU": Kind(passthrough, "elu"),
    "Softmax": Kind(softmax, "softmax"),
    "Resizing": Kind(resizing, "resizing", image=True),
    "CenterCrop": Kind(resizing, "center_crop", image=True),
    "Permute": Kind(permute, "permute"),
    "Identity": Kind(passthrough, "identity"),
    # classes of keras.applications' own (keras/src/applications; Keras saves them as custom layers)
    "LayerScale": Kind(layer_scale, "layer_scale"),
    "CustomScaleLayer": Kind(custom_scale, "custom_scale"),
    "StochasticDepth": Kind(passthrough, "identity"),
    # inference: identity
    "Dropout": Kind(passthrough, "identity"),
    "SpatialDropout2D": Kind(passthrough, "identity", image=True),
    "GaussianNoise": Kind(passthrough, "identity"),
    "GaussianDropout": Kind(passthrough, "identity"),
    "AlphaDropout": Kind(passthrough, "identity"),
    # data augmentation: identity at inference
    "RandomBrightness": Kind(passthrough, "identity", image=True),
    "RandomColorDegeneration": Kind(passthrough, "identity", image=True),
    "RandomColorJitter": Kind(passthrough, "identity", image=True),
    "RandomContrast": Kind(passthrough, "identity", image=True),
    "RandomElasticTransform": Kind(passthrough, "identity", image=True),
    "RandomErasing": Kind(passthrough, "identity", image=True),
    "RandomFlip": Kind(passthrough, "identity", image=True),
    "RandomGaussianBlur": Kind(passthrough, "identity", image=True),
    "RandomGrayscale": Kind(passthrough, "identity", image=True),
    "RandomHue": Kind(passthrough, "identity", image=True),
    "RandomInvert": Kind(passthrough, "identity", image=True),
    "RandomPerspective": Kind(passthrough, "identity", image=True),
    "RandomPosterization": Kind(passthrough, "identity", image=True),
    "RandomRotation": Kind(passthrough, "identity", image=True),
    "RandomSaturation": Kind(passthrough, "identity", image=True),
    "RandomSharpness": Kind(passthrough, "identity", image=True),
    "RandomShear": Kind(passthrough, "identity", image=True),
    "RandomTranslation": Kind(passthrough, "identity", image=True),
    "RandomZoom": Kind(passthrough, "identity", image=True),
}
RULES = {name: kind.count for name, kind in KINDS.items()}


# Keras 3's built-in activations (keras.activations, aliases included)
ACTIVATIONS = {
    "celu", "elu", "exponential", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu", "hard_swish",
    "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish", "relu", "relu6", "selu",
    "sigmoid", "silu", "soft_shrink", "softmax", "softplus", "softsign", "sparse_plus", "sparse_sigmoid",
    "sparsemax", "squareplus", "swish", "tanh", "tanh_shrink", "threshold"}


def activation(v):
    """A layer's activation option as a built-in activation's name (None when absent).

    Keras writes a name, or a dict: Keras 3 {"module": "builtins", "class_name": "function",
    "config": NAME, ...}, tf.keras 2 {"class_name": NAME, "config": null}. A custom function
    (only its name is saved), a lambda (its bytecode) or a layer object is refused: its code is the
    user's, and darkbench never runs code from a model file."""
    if isinstance(v, dict):
        v = _activation_dict(v)
    if v is None:
        return None
    if not isinstance(v, str):
        raise ValueError(f"activation={short(v)} is not an activation name")
    if v not in ACTIVATIONS:
        raise ValueError(f"activation '{short(v)}' is not one of Keras' built-in activations (a custom "
                         "function: darkbench never runs code from a model file)")
    return v


def _activation_dict(v):
    cls, conf, module = v.get("class_name"), v.get("config"), v.get("module")
    if cls == "function" and isinstance(conf, str):
        if _builtin_module(module):
            return conf
        raise ValueError(f"activation '{short(conf)}' comes from module '{short(module)}' (a custom "
                         "function: darkbench never runs code from a model file)")
    if isinstance(cls, str) and cls in ACTIVATIONS and not conf:
        return cls
    if ("value" in v and cls is None) or cls == "__lambda__":  # Keras 3 writes a lambda's bytecode
        raise ValueError("activation is a serialised Python lambda (darkbench never runs code from a "
                         "model file)")
    if isinstance(cls, str) and cls != "function":
        raise ValueError(f"activation given as a {short(cls)} object is not supported (only Keras' "
                         "built-in activation functions)")
    raise ValueError(f"activation={short(v)} is not an activation name")


def _builtin_module(module):
    """Where Keras looks a function's name up among its own: "builtins" (Keras 3) or an activations
    module of Keras or tf.keras."""
    if module is None or module == "builtins":
        return True
    return (isinstance(module, str) and module.endswith("activations")
            and module.split(".")[0] in ("keras", "tf_keras", "tensorflow"))


def window_text(cls, c):
    """Window text for tables, e.g. '3x3/2 same' (conv and pooling layers; after evaluate())."""
    window = KINDS[cls].window if cls in KINDS else ""
    if window == "conv":
        (kh, kw), (sh, sw), _ = _window(c)
    elif window == "pool":
        (kh, kw) = _pair(c.get("pool_size", 2), "pool_size")
        st = c.get("strides")
        sh, sw = _pair(st, "strides") if st is not None else (kh, kw)
    else:
        return ""
    text = f"{kh}x{kw}/{sh if sh == sw else f'{sh}x{sw}'}"
    return f"{text} {_padding(c)}"


def _operation(node, kind, shapes, path):
    """The Kind counting a Keras operation (x + y, x * 0.5): two operands, tensors or numbers."""
    if kind is None or not kind.op:
        ops = ", ".join(sorted(k for k, v in KINDS.items() if v.op))
        raise DarkbenchError(f"layer '{node.name}': Keras operation {node.cls} ({short(node.op)}) is not "
                             f"supported (supported operations: {ops})", path)
    if len(node.operands or ()) != 2 or node.operands.count(None) != len(shapes):
        raise DarkbenchError(f"layer '{node.name}': Keras operation {node.cls} is supported on two operands, "
                             "tensors or numbers", path)
    return Kind(merge, kind.build)


def evaluate(node, shapes, path):
    kind = KINDS.get(node.cls)
    if node.op:
        kind = _operation(node, kind, shapes, path)
    if kind is None:
        raise DarkbenchError(unknown_class(node), path)
    c = node.config
    if c.get("data_format") not in (None, "channels_last"):  # None: Keras' default, channels_last
        raise DarkbenchError(f"layer '{node.name}' ({node.cls}): only channels_last is supported", path)
    if kind.image and any(len(s) != 3 for s in shapes):
        raise DarkbenchError(f"layer '{node.name}' ({node.cls}) needs an image input (H, W, C), "
                             f"got {shapes}", path)
    try:
        out, trainable, non_trainable, macs, formula = kind.count(c, shapes)
    except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError) as e:
        what = f"missing option {e}" if isinstance(e, KeyError) else " ".join(str(e).split())
        raise DarkbenchError(f"layer '{node.name}' ({node.cls}): {what}", path) from None
    if any(d <= 0 for d in out):
        raise DarkbenchError(f"layer '{node.name}' ({node.cls}): output shape {out} is empty", path)
    if math.prod(out) > MAX_VALUES:
        raise DarkbenchError(f"layer '{node.name}' ({node.cls}): output of {math.prod(out)} values "
                             f"{out} is too large", path)
    if not c.get("trainable", True):
        trainable, non_trainable = 0, trainable + non_trainable
    return out, trainable, non_trainable, macs, formula


def unknown_class(node):
    """The one-line refusal of a class darkbench does not count."""
    where = f"layer '{node.name}' of class {node.cls} is not supported"
    if node.custom:
        return (f"{where}: a custom layer ('{short(node.custom)}'); the file holds only its config, so even "
                "Keras needs the class's code to count it (darkbench never runs code from a model file)")
    return (f"{where} (supported: InputLayer, {', '.join(sorted(KINDS))}; a custom layer: even Keras "
            "needs the class's code to count it)")
