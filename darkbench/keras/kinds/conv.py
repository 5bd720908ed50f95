"""Conv2D, DepthwiseConv2D, SeparableConv2D, Conv2DTranspose (channels-last, Keras' padding)."""
from ..base import (MAX_VALUES, Kind, bias, check_padded, conv_len, formula, is_int, pair, padding, positive, short,
                    window_desc)


def _window(c):
    """kernel, strides, dilation of a convolution."""
    return (pair(c["kernel_size"], "kernel_size"), pair(c.get("strides", 1), "strides"),
            pair(c.get("dilation_rate", 1), "dilation_rate"))


def _desc(c):
    (kh, kw), (sh, sw), _ = _window(c)
    return window_desc(kh, kw, sh, sw, c)


def conv2d(c, shapes):
    (h, w, cin), = shapes
    (kh, kw), (sh, sw), (dh, dw) = _window(c)
    f, g = positive(c, "filters"), c.get("groups", 1)
    if not is_int(g) or g <= 0 or cin % g or f % g:
        raise ValueError(f"groups={short(g)} does not divide {cin} input channels and {f} filters")
    pad = padding(c)
    check_padded(h, w, cin, kh, kw, sh, sw, dh, dw, pad)
    oh, ow = conv_len(h, kh, sh, dh, pad), conv_len(w, kw, sw, dw, pad)
    b = bias(c, f)
    p = kh * kw * (cin // g) * f + b
    terms = f"({kh}*{kw}*{cin // g}{'+1' if b else ''})*{f}"
    return (oh, ow, f), p, 0, oh * ow * f * kh * kw * (cin // g), formula(terms, p)


def depthwise(c, shapes):
    (h, w, cin), = shapes
    (kh, kw), (sh, sw), (dh, dw) = _window(c)
    m = positive(c, "depth_multiplier") if "depth_multiplier" in c else 1
    pad = padding(c)
    check_padded(h, w, cin, kh, kw, sh, sw, dh, dw, pad)
    oh, ow = conv_len(h, kh, sh, dh, pad), conv_len(w, kw, sw, dw, pad)
    b = bias(c, cin * m)
    p = kh * kw * cin * m + b
    terms = f"{kh}*{kw}*{cin}*{m}" + (f"+{cin}*{m}" if b else "")
    return (oh, ow, cin * m), p, 0, oh * ow * cin * m * kh * kw, formula(terms, p)


def separable(c, shapes):
    (h, w, cin), = shapes
    (kh, kw), (sh, sw), (dh, dw) = _window(c)
    m = positive(c, "depth_multiplier") if "depth_multiplier" in c else 1
    f = positive(c, "filters")
    pad = padding(c)
    check_padded(h, w, cin, kh, kw, sh, sw, dh, dw, pad)
    oh, ow = conv_len(h, kh, sh, dh, pad), conv_len(w, kw, sw, dw, pad)
    b = bias(c, f)
    p = kh * kw * cin * m + cin * m * f + b
    terms = f"{kh}*{kw}*{cin}*{m} + {cin}*{m}*{f}" + (f"+{f}" if b else "")
    macs = oh * ow * (cin * m * kh * kw + cin * m * f)
    return (oh, ow, f), p, 0, macs, formula(terms, p)


def _module(layer, where, depthwise=False, separable=False):
    import torch.nn.functional as F
    from torch import nn

    from ..nn import Op, activation_fn, as_pair, pads
    c, cin = layer.config, layer.in_keras_shapes[0][-1]
    k, s, d = as_pair(c["kernel_size"]), as_pair(c.get("strides", 1)), as_pair(c.get("dilation_rate", 1))
    explicit, same = pads(c, layer, k, s, d)
    use_bias = c.get("use_bias", True)
    m = c.get("depth_multiplier", 1)
    if depthwise:  # output channel c*m + j, as Keras orders them
        mods = [nn.Conv2d(cin, cin * m, k, s, same, d, groups=cin, bias=use_bias)]
    elif separable:
        mods = [nn.Conv2d(cin, cin * m, k, s, same, d, groups=cin, bias=False),
                nn.Conv2d(cin * m, c["filters"], 1, bias=use_bias)]
    else:
        mods = [nn.Conv2d(cin, c["filters"], k, s, same, d, groups=c.get("groups", 1), bias=use_bias)]
    act = activation_fn(c.get("activation"), where)

    def fn(x):
        if explicit:
            x = F.pad(x, explicit)
        for mod in mods:
            x = mod(x)
        return act(x) if act else x
    return Op(fn, mods)


def conv2d_module(layer, where):
    return _module(layer, where)


def depthwise_module(layer, where):
    return _module(layer, where, depthwise=True)


def separable_module(layer, where):
    return _module(layer, where, separable=True)


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
    p = (op, op) if is_int(op) else tuple(op) if isinstance(op, (list, tuple)) else ()
    if len(p) != 2 or not all(is_int(x) and 0 <= x < s for x, s in zip(p, (sh, sw))):
        raise ValueError(f"output_padding={short(op)} must be non-negative and below the strides {(sh, sw)}")
    return p


def conv2d_transpose(c, shapes):
    (h, w, cin), = shapes
    (kh, kw), (sh, sw), (dh, dw) = _window(c)
    oph, opw = _output_padding(c.get("output_padding"), sh, sw)
    f, pad = positive(c, "filters"), padding(c)
    full = ((h - 1) * sh + (kh - 1) * dh + 1) * ((w - 1) * sw + (kw - 1) * dw + 1) * f
    if full > MAX_VALUES:  # the module computes the whole transposed convolution, then crops
        raise ValueError(f"the uncropped output of {full} values is too large (a window of {kh}x{kw}, "
                         f"dilation {dh}x{dw})")
    oh, ow = _deconv_len(h, kh, sh, dh, pad, oph), _deconv_len(w, kw, sw, dw, pad, opw)
    b = bias(c, f)
    p = kh * kw * f * cin + b
    terms = f"({kh}*{kw}*{cin}{'+1' if b else ''})*{f}"
    return (oh, ow, f), p, 0, h * w * cin * kh * kw * f, formula(terms, p)


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


def conv2d_transpose_module(layer, where):
    import torch.nn.functional as F
    from torch import nn

    from ..nn import Op, activation_fn, as_pair
    c, cin = layer.config, layer.in_keras_shapes[0][-1]
    (kh, kw), (sh, sw), (dh, dw) = (as_pair(c["kernel_size"]), as_pair(c.get("strides", 1)),
                                    as_pair(c.get("dilation_rate", 1)))
    oh, ow = layer.keras_shape[:2]
    op = c.get("output_padding")
    oph, opw = (None, None) if op is None else as_pair(op)
    pad = c.get("padding", "valid")
    th, tw = _deconv_crop(kh, sh, dh, pad, oph), _deconv_crop(kw, sw, dw, pad, opw)
    conv = nn.ConvTranspose2d(cin, c["filters"], (kh, kw), (sh, sw), dilation=(dh, dw),
                              bias=c.get("use_bias", True))
    act = activation_fn(c.get("activation"), where)

    def fn(x):
        y = F.conv_transpose2d(x, conv.weight, None, conv.stride, dilation=conv.dilation)
        y = y[..., th:th + oh, tw:tw + ow]
        # past the full result only the bias reaches (Keras' output_padding rows)
        y = F.pad(y, (0, ow - y.shape[-1], 0, oh - y.shape[-2]))
        if conv.bias is not None:
            y = y + conv.bias.view(1, -1, 1, 1)
        return act(y) if act else y
    return Op(fn, [conv])


_CONV = dict(image=True, desc=_desc)
KINDS = {
    "Conv2D": Kind(conv2d, conv2d_module, **_CONV),
    "DepthwiseConv2D": Kind(depthwise, depthwise_module, **_CONV),
    "SeparableConv2D": Kind(separable, separable_module, **_CONV),
    "Conv2DTranspose": Kind(conv2d_transpose, conv2d_transpose_module, **_CONV),
}
