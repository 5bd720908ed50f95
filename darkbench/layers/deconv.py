"""[deconvolutional] / [deconv]: transposed convolution (weights [c][n][k][k])."""
from .loading import bn_weights
from .options import check_positive
from .traits import bn_darknet_floats

NAMES = ("deconvolutional", "deconv")
KEYS = {"filters", "size", "stride", "pad", "padding", "activation", "batch_normalize"}
DIALECTS = ("pjreddie",)  # the AlexeyAB fork has no such section
NUMLOAD = DONTLOADSCALES = FUSE = True
DARKNET_FLOATS = bn_darknet_floats  # footprint.py


def build(sec, ctx):
    n = sec.get_int("filters", 1)
    size = sec.get_int("size", 1)
    stride = sec.get_int("stride", 1)
    act = ctx.activation(sec, "logistic")
    c, h, w = ctx.need_image(sec)
    bn = sec.get_int("batch_normalize", 0)
    padding = sec.get_int("padding", 0, min=0)
    if sec.get_int("pad", 0):
        padding = size // 2
    check_positive(sec, filters=n, size=size, stride=stride)
    oh = (h - 1) * stride + size - 2 * padding
    ow = (w - 1) * stride + size - 2 * padding
    if oh <= 0 or ow <= 0:
        raise ctx.fail(sec, f"padding {padding} leaves no output from a {w}x{h} input")
    return ctx.layer(
        sec, "deconvolutional", (n, oh, ow),
        opts=dict(filters=n, size=size, stride=stride, padding=padding, activation=act,
                  batch_normalize=bn),
        weights=[("biases", (n,))] + bn_weights(n, bn) + [("weights", (c, n, size, size))],
        macs=c * n * size * size * h * w,  # darknet's gemm: every input pixel meets every tap
        desc=f"{n} {size}x{size}/{stride}")


def WORKSPACE(layer):
    """darknet's get_workspace_size for a deconvolution: the gemm's column matrix, input pixels x taps x filters."""
    _, h, w = layer.in_shape
    return 4 * h * w * layer.opts["size"] ** 2 * layer.opts["filters"]


def module(layer, net):
    from torch import nn
    from ..nn import Conv
    o = layer.opts
    conv = nn.ConvTranspose2d(layer.in_shape[0], o["filters"], o["size"], o["stride"], o["padding"],
                              bias=not o["batch_normalize"])
    return Conv(conv, o["filters"], o["batch_normalize"], o["activation"])
