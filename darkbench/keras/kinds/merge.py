"""Layers of several inputs: Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum, and
InceptionResNetV2's CustomScaleLayer. Add, Subtract and Multiply are also Keras operations (x + y, x * 0.5)."""
import math

from ..base import Kind, is_int, short


def concatenate(c, shapes):
    axis = c.get("axis", -1)
    rank = len(shapes[0])
    if not is_int(axis) or not -rank <= axis <= rank or axis == 0:
        raise ValueError(f"axis={short(axis)} is not a feature axis of rank-{rank} inputs")
    ax = axis - 1 if axis > 0 else rank + axis
    for s in shapes[1:]:
        if len(s) != rank or any(a != b for i, (a, b) in enumerate(zip(s, shapes[0])) if i != ax):
            raise ValueError(f"cannot concatenate shapes {shapes} on axis {axis}")
    out = list(shapes[0])
    out[ax] = sum(s[ax] for s in shapes)
    return tuple(out), 0, 0, 0, ""


def concatenate_module(layer, where):
    import torch

    from ..nn import Op, to_keras_axis
    axis = layer.config.get("axis", -1)
    return Op(lambda *xs: torch.cat(xs, to_keras_axis(xs[0], axis)))


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


def custom_scale(c, shapes):
    """InceptionResNetV2's CustomScaleLayer: inputs[0] + inputs[1] * scale."""
    if len(shapes) != 2:
        raise ValueError(f"takes exactly 2 inputs, got {len(shapes)}")
    return merge(c, shapes)


def _fold(fn, xs):
    y = xs[0]
    for x in xs[1:]:
        y = fn(y, x)
    return y


def add_module(layer, where):
    from ..nn import merge_op
    return merge_op(lambda xs: sum(xs[1:], xs[0]), layer)


def subtract_module(layer, where):
    from ..nn import merge_op
    return merge_op(lambda xs: xs[0] - xs[1], layer)


def multiply_module(layer, where):
    from ..nn import merge_op
    return merge_op(lambda xs: math.prod(xs[1:], start=xs[0]), layer)


def average_module(layer, where):
    from ..nn import merge_op
    return merge_op(lambda xs: sum(xs[1:], xs[0]) / len(xs), layer)


def maximum_module(layer, where):
    import torch

    from ..nn import merge_op
    return merge_op(lambda xs: _fold(torch.maximum, xs), layer)


def minimum_module(layer, where):
    import torch

    from ..nn import merge_op
    return merge_op(lambda xs: _fold(torch.minimum, xs), layer)


def custom_scale_module(layer, where):
    from ..nn import merge_op, number
    scale = number(layer.config, "scale", None, where)
    return merge_op(lambda xs: xs[0] + xs[1] * scale, layer)


KINDS = {
    "Concatenate": Kind(concatenate, concatenate_module),
    "Add": Kind(merge, add_module, op=merge),
    "Subtract": Kind(subtract, subtract_module, op=merge),
    "Multiply": Kind(merge, multiply_module, op=merge),
    "Average": Kind(merge, average_module),
    "Maximum": Kind(merge, maximum_module),
    "Minimum": Kind(merge, minimum_module),
    "CustomScaleLayer": Kind(custom_scale, custom_scale_module),  # keras.applications' own class
}
