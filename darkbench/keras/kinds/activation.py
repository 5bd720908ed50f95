"""Activation layers: Activation, ReLU, LeakyReLU, PReLU, ELU, Softmax."""
import math

from ..base import Kind, feature_axes, is_int, passthrough, short


def activation_module(layer, where):
    from ..nn import Op, activation_fn
    act = activation_fn(layer.config.get("activation"), where)
    return Op(lambda x: act(x) if act else x)


def relu_module(layer, where):
    import torch

    from ..nn import Op, number
    c = layer.config
    mx = number(c, "max_value", None, where, none=True)
    slope, th = (number(c, key, 0.0, where, none=True) or 0.0 for key in ("negative_slope", "threshold"))

    def fn(x):
        y = torch.where(x >= th, x, slope * (x - th))
        return y.clamp(max=mx) if mx is not None else y
    return Op(fn)


def leaky_relu_module(layer, where):
    import torch.nn.functional as F

    from ..nn import Op, number
    c = layer.config
    key = "negative_slope" if "negative_slope" in c else "alpha"  # tf.keras 2 wrote alpha
    slope = number(c, key, 0.3, where)
    return Op(lambda x: F.leaky_relu(x, slope))


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
        if not is_int(a) or not 1 <= a <= len(s):
            raise ValueError(f"shared_axes={short(c['shared_axes'])} must be axes 1..{len(s)}")
        shape[a - 1] = 1
    return shape


def prelu_module(layer, where):
    import torch
    import torch.nn.functional as F

    from ..nn import Op, holder, nchw, nhwc
    h = holder(alpha=torch.zeros(prelu_shape(layer.config, layer.keras_shape)))  # Keras' layout

    def fn(x):
        y = nhwc(x)
        return nchw(F.relu(y) - h.alpha * F.relu(-y))
    return Op(fn, [h])


def elu_module(layer, where):
    import torch.nn.functional as F

    from ..nn import Op, number
    alpha = number(layer.config, "alpha", 1.0, where)
    return Op(lambda x: F.elu(x, alpha))


def softmax(c, shapes):
    (s,) = shapes
    feature_axes(c.get("axis", -1), len(s))  # Keras takes one axis or several
    return s, 0, 0, 0, ""


def softmax_module(layer, where):
    """Keras' Softmax over one axis or several (validated by the count)."""
    import torch

    from ..nn import Op, to_keras_axis
    axes = [a + 1 for a in feature_axes(layer.config.get("axis", -1), len(layer.keras_shape))]
    if len(axes) == 1:
        return Op(lambda x: x.softmax(to_keras_axis(x, axes[0])))

    def fn(x):
        dims = [to_keras_axis(x, a) for a in axes]
        return torch.exp(x - x.logsumexp(dims, keepdim=True))
    return Op(fn)


KINDS = {
    "Activation": Kind(passthrough, activation_module),
    "ReLU": Kind(passthrough, relu_module),
    "LeakyReLU": Kind(passthrough, leaky_relu_module),
    "PReLU": Kind(prelu, prelu_module),
    "ELU": Kind(passthrough, elu_module),
    "Softmax": Kind(softmax, softmax_module),
}
