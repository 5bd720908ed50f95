"""[maxpool] / [max]: darknet pads with -FLT_MAX, `padding` is the TOTAL, extra goes right/bottom."""
from .base import PER_WINDOW, c_div, check_positive

NAMES = ("maxpool", "max")
KEYS = {"stride", "size", "padding"}
TORCH_OPS = {"aten::max_pool2d": PER_WINDOW}


def darknet_floats(layer):
    """Output, delta and the argmax indexes (ints) its forward writes even at inference (footprint.py)."""
    return 3 * layer.outputs


def build(sec, ctx):
    stride = sec.get_int("stride", 1)
    size = sec.get_int("size", stride)
    padding = sec.get_int("padding", size - 1, min=0)
    check_positive(sec, stride=stride, size=size)
    c, h, w = ctx.need_image(sec)
    oh = c_div(h + padding - size, stride) + 1
    ow = c_div(w + padding - size, stride) + 1
    if oh <= 0 or ow <= 0:  # darknet's output would be empty
        raise ctx.fail(sec, f"window {size}x{size} with padding {padding} is larger than its {w}x{h} input "
                            f"(darknet's output would be {ow}x{oh}, empty)")
    return ctx.layer(sec, "maxpool", (c, oh, ow),
                     opts=dict(size=size, stride=stride, padding=padding),
                     desc=f"{size}x{size}/{stride}")


def module(layer, net):
    from ..nn import Elementwise, maxpool
    o = layer.opts
    return Elementwise(lambda x: maxpool(x, o["size"], o["stride"], o["padding"]),
                       f"size={o['size']}, stride={o['stride']}, padding={o['padding']}")
