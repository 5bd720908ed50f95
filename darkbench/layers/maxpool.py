"""[maxpool] / [max]: darknet pads with -FLT_MAX, `padding` is the TOTAL, extra goes right/bottom.

In the fork's dialect also stride_x/stride_y, maxpool_depth (a max over channels g, g+out_channels, ... at
every pixel) and antialiasing (the pool at stride 1, then the fixed blur at the real stride)."""
from ..carith import c_div, maxpool_pads
from .bflops import f32
from .options import check_positive
from .traits import PER_WINDOW

NAMES = ("maxpool", "max")
KEYS = {"stride", "size", "padding"}
FORK_KEYS = frozenset({"stride_x", "stride_y", "maxpool_depth", "out_channels", "antialiasing",
                       "maxpool_zero_nonmax"})
TORCH_OPS = {"aten::max_pool2d": PER_WINDOW}
_BLUR = {1: (3, 1), 2: (2, 0)}  # antialiasing -> (blur size, blur padding), as the fork's convolution


def _int32(x):
    """The fork's bflops product is a C int: it wraps past 2**31."""
    return (x + 2 ** 31) % 2 ** 32 - 2 ** 31


def UNCOUNTED_MACS(layer):
    """The antialiasing blur its module runs, one fixed k x k filter per output channel, which the fork's BF and
    the analytic MACs leave out (crosscheck)."""
    aa = layer.opts.get("antialiasing")
    if not aa:
        return 0, ""
    macs = _BLUR[aa][0] ** 2 * layer.outputs
    return macs, (f"the fork's antialiasing blur ({macs:,} MACs, a fixed depthwise convolution), which its BF "
                  "and the analytic MACs leave out")


def DARKNET_FLOATS(layer):
    """Output, delta and the argmax indexes (ints) its forward writes even at inference (footprint.py)."""
    return 3 * layer.outputs


_FILL = ("darknet's -FLT_MAX padding: calibrated, the fill takes the activation range to -3.4e38 and every real "
         "value quantizes to one step")


def KEEP_FP32(layer):
    """A pool that pads exports as a Pad of -FLT_MAX before the pooling (for maxpool_depth channels padded, then
    a Reshape and a ReduceMax over them): none of them may be quantized. The pool stays too, as the fill's
    reader: NNCF, told to leave the Pad alone, would put the quantizer on the Pad's output instead."""
    o = layer.opts
    c, h, w = layer.in_shape
    if o.get("maxpool_depth"):
        oc = layer.out_shape[0]
        return {"Pad": _FILL, "Reshape": _FILL, "ReduceMax": _FILL} if -(-c // oc) * oc != c else {}
    sx, sy = (1, 1) if o.get("antialiasing") else (o["stride_x"], o["stride_y"])
    return {"Pad": _FILL, "MaxPool": _FILL} if any(maxpool_pads(h, w, o["size"], sy, o["padding"], sx)) else {}


def build(sec, ctx):
    stride = sec.get_int("stride", 1)
    sx = sy = stride
    depth, out_c, aa = 0, None, 0
    if ctx.fork:
        sx, sy = sec.get_int("stride_x", stride), sec.get_int("stride_y", stride)
        depth = sec.get_int("maxpool_depth", 0)
        out_c = sec.get_int("out_channels", 1)
        aa = sec.get_int("antialiasing", 0)
        if aa not in (0, 1, 2):
            raise sec._err("antialiasing", f"antialiasing={aa}: the fork knows 0, 1 (3x3 blur) and 2 (2x2 blur)")
        if depth:
            check_positive(sec, out_channels=out_c)
    size = sec.get_int("size", stride)
    padding = sec.get_int("padding", size - 1, min=0)
    check_positive(sec, stride=stride, size=size, stride_x=sx, stride_y=sy)
    c, h, w = ctx.need_image(sec)
    hx, hy = (1, 1) if aa else (sx, sy)
    if depth:
        oc, oh, ow = out_c, h, w
    else:
        oc, oh, ow = c, c_div(h + padding - size, hy) + 1, c_div(w + padding - size, hx) + 1
    if oh <= 0 or ow <= 0:  # darknet's output would be empty
        raise ctx.fail(sec, f"window {size}x{size} with padding {padding} is larger than its {w}x{h} input "
                            f"(darknet's output would be {ow}x{oh}, empty)")
    bflops = f32(_int32(size * size * c * oh * ow) / 1e9)
    fh, fw = oh, ow
    if aa:
        bsize, bpad = _BLUR[aa]
        fh, fw = c_div(oh + 2 * bpad - bsize, sy) + 1, c_div(ow + 2 * bpad - bsize, sx) + 1
    strides = f"{sx}" if sx == sy else f"{sx}x{sy}"
    return ctx.layer(sec, "maxpool", (oc, fh, fw), bflops=bflops,
                     opts=dict(size=size, stride=stride, stride_x=sx, stride_y=sy, padding=padding,
                               maxpool_depth=depth, antialiasing=aa, host_shape=(oc, oh, ow)),
                     desc=f"{size}x{size}/{strides}" + (f" depth->{oc}" if depth else "")
                     + (f" aa{aa}" if aa else ""))


def module(layer, net):
    from ..nn import Elementwise, maxpool
    o = layer.opts
    if o.get("maxpool_depth"):
        oc = layer.out_shape[0]
        return Elementwise(_depth(layer.in_shape[0], oc), f"maxpool_depth out_channels={oc}")
    sx, sy = o.get("stride_x", o["stride"]), o.get("stride_y", o["stride"])
    if o.get("antialiasing"):
        sx = sy = 1
    pool = Elementwise(lambda x: maxpool(x, o["size"], sy, o["padding"], stride_x=sx),
                       f"size={o['size']}, stride={o['stride']}, padding={o['padding']}")
    if not o.get("antialiasing"):
        return pool
    return _blur(pool, layer)


def _depth(c, oc):
    """Output channel g is the max of input channels g, g+oc, g+2*oc, ..."""
    import torch
    import torch.nn.functional as F
    k = -(-c // oc)

    def fn(x):
        if k * oc != c:
            x = F.pad(x, (0, 0, 0, 0, 0, k * oc - c), value=-torch.finfo(x.dtype).max)
        return x.reshape(x.shape[0], k, oc, *x.shape[2:]).amax(1)
    return fn


def _blur(pool, layer):
    import torch
    import torch.nn.functional as F
    aa = layer.opts["antialiasing"]
    size, pad = _BLUR[aa]
    n = layer.out_shape[0]
    k = torch.tensor([[1., 2., 1.], [2., 4., 2.], [1., 2., 1.]]) / 16 if aa == 1 else torch.full((2, 2), 0.25)
    kernel = k.expand(n, 1, size, size).clone()
    stride = (layer.opts["stride_y"], layer.opts["stride_x"])
    from ..nn import Elementwise
    return Elementwise(lambda x: F.conv2d(pool.fn(x), kernel.to(x.device, x.dtype), stride=stride, padding=pad,
                                          groups=n),
                       f"size={layer.opts['size']}, antialiasing={aa}")
