"""Normalising and scaling layers: BatchNormalization, LayerNormalization, GroupNormalization, Normalization,
Rescaling, and ConvNeXt's LayerScale."""
import math

from ..base import Kind, feature_axes, is_int, passthrough, positive, short


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
    if not is_int(axis) or not -rank <= axis <= rank or axis == 0:
        raise ValueError(f"axis={short(axis)} is not a feature axis of rank-{rank} inputs")
    return axis - 1 if axis > 0 else rank + axis


def batchnorm_module(layer, where):
    from ..nn import KerasBatchNorm, Op, number
    c = layer.config
    axis = bn_axis(c, len(layer.keras_shape))
    bn = KerasBatchNorm(layer.keras_shape[axis], axis, number(c, "epsilon", 1e-3, where),
                        c.get("scale", True), c.get("center", True))
    return Op(bn, [bn])


def layernorm(c, shapes):
    (s,) = shapes
    n = math.prod(s[a] for a in feature_axes(c.get("axis", -1), len(s)))
    rms = c.get("rms_scaling", False)
    gamma, beta = bool(c.get("scale", True) or rms), bool(c.get("center", True) and not rms)
    what = "+".join(w for w, on in (("gamma", gamma), ("beta", beta)) if on)
    k = gamma + beta
    return s, k * n, 0, 0, f"{k}*{n} ({what}) = {k * n:,}" if k else ""


def _norm_shape(layer):
    """The normalised axes' shape broadcasting against one sample (Keras' layout)."""
    s = layer.keras_shape
    axis = layer.config.get("axis", -1)
    axes = feature_axes(axis, len(s)) if axis not in (None, [], ()) else []
    return axes, [s[a] if a in axes else 1 for a in range(len(s))]


def _gamma_beta(c, shape):
    """Keras' optional gamma (scale) and beta (center) as a module's weight and bias."""
    import torch

    from ..nn import holder
    return holder(weight=torch.ones(shape) if c.get("scale", True) else None,
                  bias=torch.zeros(shape) if c.get("center", True) else None)


def layernorm_module(layer, where):  # computed in Keras' layout (channels last)
    import torch

    from ...errors import DarkbenchError
    from ..nn import Op, nchw, nhwc, number
    c = layer.config
    axes, shape = _norm_shape(layer)
    if c.get("rms_scaling"):
        raise DarkbenchError(f"{where}: rms_scaling is not supported in PyTorch")
    h = _gamma_beta(c, shape)
    dims, eps = [a + 1 for a in axes], number(c, "epsilon", 1e-3, where)

    def fn(x):
        y = nhwc(x)
        y = (y - y.mean(dims, keepdim=True)) * torch.rsqrt(y.var(dims, keepdim=True, unbiased=False) + eps)
        if h.weight is not None:
            y = y * h.weight
        return nchw(y + h.bias if h.bias is not None else y)
    return Op(fn, [h])


def groupnorm(c, shapes):
    """GroupNormalization over the last axis (Keras' default; darkbench's only)."""
    (s,) = shapes
    if c.get("axis", -1) not in (-1, len(s)):
        raise ValueError(f"axis={short(c.get('axis'))}: only the last axis is supported")
    n, g = s[-1], c.get("groups", 32)
    g = n if g == -1 else g
    if not is_int(g) or g <= 0 or n % g:
        raise ValueError(f"groups={short(c.get('groups'))} does not divide {n} channels")
    k = int(bool(c.get("scale", True))) + int(bool(c.get("center", True)))
    return s, k * n, 0, 0, f"{k}*{n} = {k * n:,}" if k else ""


def groupnorm_module(layer, where):
    import torch.nn.functional as F

    from ..nn import Op, number
    c = layer.config
    n = layer.keras_shape[-1]
    g = n if c.get("groups", 32) == -1 else c.get("groups", 32)
    h = _gamma_beta(c, n)
    eps = number(c, "epsilon", 1e-3, where)

    def fn(x):  # torch's channels are dim 1: images already are, other tensors move theirs there
        y = x if x.dim() == 4 else x.movedim(-1, 1)
        y = F.group_norm(y, g, h.weight, h.bias, eps)
        return y if x.dim() == 4 else y.movedim(1, -1)
    return Op(fn, [h])


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


def normalization_module(layer, where):
    from torch import nn

    from ..nn import Op, constant, nchw, nhwc
    c = layer.config
    _, shape = _norm_shape(layer)
    h = nn.Module()
    for key, default in (("mean", 0.0), ("variance", 1.0)):
        h.register_buffer(key, constant(c, key, default, shape, where).expand(shape).clone())
    invert = bool(c.get("invert"))

    def fn(x):
        y, d = nhwc(x), h.variance.sqrt().clamp(min=1e-7)  # Keras' backend epsilon
        return nchw(h.mean + y * d if invert else (y - h.mean) / d)
    return Op(fn, [h])


def rescaling_module(layer, where):
    from ..nn import Op, constant, nchw, nhwc
    c = layer.config
    scale, offset = (constant(c, key, default, layer.keras_shape, where)
                     for key, default in (("scale", 1.0), ("offset", 0.0)))
    return Op(lambda x: nchw(nhwc(x) * scale.to(x) + offset.to(x)))


def layer_scale(c, shapes):
    """ConvNeXt's LayerScale: x * gamma, gamma of projection_dim values on the last axis."""
    (s,) = shapes
    n = positive(c, "projection_dim")
    if n != s[-1]:
        raise ValueError(f"projection_dim={n} does not match the {s[-1]} input channels")
    return s, n, 0, 0, f"gamma {n} = {n:,}"


def layer_scale_module(layer, where):
    import torch

    from ..nn import Op, holder, nchw, nhwc
    h = holder(gamma=torch.ones(layer.config["projection_dim"]))
    return Op(lambda x: nchw(nhwc(x) * h.gamma), [h])


KINDS = {
    "BatchNormalization": Kind(batchnorm, batchnorm_module),
    "LayerNormalization": Kind(layernorm, layernorm_module),
    "GroupNormalization": Kind(groupnorm, groupnorm_module),
    "Normalization": Kind(normalization, normalization_module),
    "Rescaling": Kind(passthrough, rescaling_module),
    "LayerScale": Kind(layer_scale, layer_scale_module),  # keras.applications' own class (ConvNeXt)
}
