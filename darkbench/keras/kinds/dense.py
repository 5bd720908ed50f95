"""Dense: a matrix over the last axis."""
import math

from ..base import Kind, bias, formula, positive


def dense(c, shapes):
    (s,) = shapes
    units, n_in = positive(c, "units"), s[-1]
    b = bias(c, units)
    p = n_in * units + b
    terms = f"({n_in}{'+1' if b else ''})*{units}"
    return tuple(s[:-1]) + (units,), p, 0, math.prod(s) * units, formula(terms, p)


def dense_module(layer, where):
    from torch import nn

    from ..nn import Op, activation_fn, nchw, nhwc
    c = layer.config
    lin = nn.Linear(layer.in_keras_shapes[0][-1], c["units"], bias=c.get("use_bias", True))
    act = activation_fn(c.get("activation"), where)

    def fn(x):
        y = nchw(lin(nhwc(x)))
        return act(y) if act else y
    return Op(fn, [lin])


KINDS = {"Dense": Kind(dense, dense_module)}
