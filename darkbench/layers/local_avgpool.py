"""[local_avgpool] / [local_avg] (AlexeyAB fork): maxpool's windows (`padding` is the total, extra goes
right/bottom), averaged over the cells inside the input (padding is not counted)."""
from ..carith import c_div
from .bflops import f32
from .options import check_positive
from .traits import FORK_ONLY, MOVEMENT, PER_WINDOW

NAMES = ("local_avgpool", "local_avg")
KEYS = {"stride", "stride_x", "stride_y", "size", "padding"}
DIALECTS = FORK_ONLY
TORCH_OPS = {"aten::avg_pool2d": PER_WINDOW, "aten::ones": MOVEMENT}


def build(sec, ctx):
    stride = sec.get_int("stride", 1)
    sx = sec.get_int("stride_x", stride)
    sy = sec.get_int("stride_y", stride)
    size = sec.get_int("size", stride)
    padding = sec.get_int("padding", size - 1, min=0)
    check_positive(sec, stride=stride, stride_x=sx, stride_y=sy, size=size)
    c, h, w = ctx.need_image(sec)
    oh = c_div(h + padding - size, sy) + 1
    ow = c_div(w + padding - size, sx) + 1
    if oh <= 0 or ow <= 0:
        raise ctx.fail(sec, f"window {size}x{size} with padding {padding} is larger than its {w}x{h} input "
                            f"(the fork's output would be {ow}x{oh}, empty)")
    strides = f"{sx}" if sx == sy else f"{sx}x{sy}"
    return ctx.layer(sec, "local_avgpool", (c, oh, ow),
                     opts=dict(size=size, stride_x=sx, stride_y=sy, padding=padding),
                     bflops=f32(size * size * c * oh * ow / 1e9), desc=f"{size}x{size}/{strides}")


def module(layer, net):
    import torch
    import torch.nn.functional as F
    from ..nn import Elementwise
    o = layer.opts
    size, sx, sy, pad = o["size"], o["stride_x"], o["stride_y"], o["padding"]
    c, h, w = layer.in_shape
    _, oh, ow = layer.out_shape
    lo = pad // 2
    right = max(0, (ow - 1) * sx + size - w - lo)
    bottom = max(0, (oh - 1) * sy + size - h - lo)

    def fn(x):  # sum of the cells inside the input / how many there are (the fork's counter)
        inside = torch.ones(1, 1, h, w, dtype=x.dtype, device=x.device)
        pads = (lo, right, lo, bottom)
        total = F.avg_pool2d(F.pad(x, pads), size, (sy, sx), divisor_override=1)
        count = F.avg_pool2d(F.pad(inside, pads), size, (sy, sx), divisor_override=1)
        return (total / count)[..., :oh, :ow]
    return Elementwise(fn, f"size={size}, stride=({sx}, {sy}), padding={pad}")
