"""[upsample]: nearest neighbour x stride, times scale; negative stride sums blocks down."""
from .traits import PER_OUTPUT, PER_WINDOW

NAMES = ("upsample",)
KEYS = {"stride", "scale"}
TORCH_OPS = {"aten::upsample_nearest2d": PER_OUTPUT, "aten::avg_pool2d": PER_WINDOW}


def build(sec, ctx):
    stride = sec.get_int("stride", 2)
    scale = sec.get_float("scale", 1.0)
    c, h, w = ctx.need_image(sec)
    if stride == 0:
        raise sec._err("stride", "stride=0 is not allowed")
    s = abs(stride)
    oh, ow = (h // s, w // s) if stride < 0 else (h * s, w * s)
    if oh == 0 or ow == 0:
        raise ctx.fail(sec, f"stride {stride} is larger than its {w}x{h} input")
    return ctx.layer(sec, "upsample", (c, oh, ow), opts=dict(stride=stride, scale=scale),
                     desc=f"x{stride}" if stride > 0 else f"/{s}")


def module(layer, net):
    import torch.nn.functional as F
    from ..nn import Elementwise
    s, scale = layer.opts["stride"], layer.opts["scale"]
    if s > 0:
        fn = lambda x: (F.interpolate(x, scale_factor=s, mode="nearest") if scale == 1
                        else scale * F.interpolate(x, scale_factor=s, mode="nearest"))
    else:  # darknet's reverse: each output is scale * the sum of its s x s block
        s = -s
        fn = lambda x: F.avg_pool2d(_as_read(x, layer, s), s, s) * (s * s * scale)
    return Elementwise(fn, f"stride={layer.opts['stride']}, scale={scale}")


def _as_read(x, layer, s):
    """darknet's reverse upsample reads its input buffer from the start as (c, out_h*s, out_w*s): the
    plain image when s divides its size, a reinterpreted buffer (not a crop) when not. (With batch > 1
    darknet also steps images by that smaller size; per image, as here, is its batch-1 output.)"""
    c, h, w = layer.in_shape
    _, oh, ow = layer.out_shape
    if (h, w) == (oh * s, ow * s):
        return x
    return x.reshape(x.shape[0], -1)[:, :c * oh * s * ow * s].reshape(-1, c, oh * s, ow * s)
