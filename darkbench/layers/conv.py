"""[convolutional] / [conv]: grouped 2-D convolution, optional batch norm."""
from .base import bn_darknet_floats, bn_weights, c_div, check_positive, overhang

NAMES = ("convolutional", "conv")
KEYS = {"filters", "size", "stride", "pad", "padding", "groups", "activation", "batch_normalize",
        "binary", "xnor", "flipped", "dot"}
NUMLOAD = DONTLOADSCALES = FUSE = True
darknet_floats = bn_darknet_floats  # footprint.py
COLOR = "tab:blue"


def build(sec, ctx):
    n = sec.get_int("filters", 1)
    size = sec.get_int("size", 1)
    stride = sec.get_int("stride", 1)
    padding = sec.get_int("padding", 0, min=0)
    if sec.get_int("pad", 0):
        padding = size // 2
    groups = sec.get_int("groups", 1)
    act = ctx.activation(sec, "logistic")
    bn = sec.get_int("batch_normalize", 0)
    check_positive(sec, filters=n, size=size, stride=stride, groups=groups)
    for key in ("binary", "xnor"):
        if sec.get_int(key, 0):
            raise sec._err(key, f"{key}=1 (binarised convolution) is not supported")
    c, h, w = ctx.need_image(sec)
    if c % groups or n % groups:
        raise sec._err("groups", f"groups={groups} does not divide input channels {c} and filters {n}")
    oh = c_div(h + 2 * padding - size, stride) + 1
    ow = c_div(w + 2 * padding - size, stride) + 1
    if oh <= 0 or ow <= 0:  # darknet's output would be empty
        raise ctx.fail(sec, f"kernel {size}x{size} with padding {padding} is larger than its {w}x{h} input "
                            f"(darknet's output would be {ow}x{oh}, empty)")
    macs = n * (c // groups) * size * size * oh * ow
    return ctx.layer(
        sec, "convolutional", (n, oh, ow),
        opts=dict(filters=n, size=size, stride=stride, padding=padding, groups=groups,
                  activation=act, batch_normalize=bn),
        weights=[("biases", (n,))] + bn_weights(n, bn) + [("weights", (n, c // groups, size, size))],
        macs=macs, ops=2 * n * size * size * c // groups * oh * ow,
        desc=f"{n} {size}x{size}/{stride}" + (f" g{groups}" if groups > 1 else ""))


def workspace(layer):
    """darknet's get_workspace_size: one group's im2col matrix of one image (asked for even for 1x1 kernels,
    which never use it)."""
    c, _, _ = layer.in_shape
    _, oh, ow = layer.out_shape
    o = layer.opts
    return 4 * oh * ow * o["size"] * o["size"] * (c // o["groups"])


def module(layer, net):
    from torch import nn
    from ..nn import Conv
    o = layer.opts
    c, h, w = layer.in_shape
    _, oh, ow = layer.out_shape
    if o["size"] == 1:  # stride and padding do not apply: see _raw_1x1 (and no window can overhang)
        conv = nn.Conv2d(c, o["filters"], 1, groups=o["groups"], bias=not o["batch_normalize"])
        if layer.in_shape[1:] != layer.out_shape[1:]:
            return _raw_1x1(layer, net, conv)
        return Conv(conv, o["filters"], o["batch_normalize"], o["activation"])
    conv = nn.Conv2d(c, o["filters"], o["size"], o["stride"], o["padding"], groups=o["groups"],
                     bias=not o["batch_normalize"])
    extra = (overhang(w, o["padding"], o["size"], o["stride"], ow),
             overhang(h, o["padding"], o["size"], o["stride"], oh))
    return Conv(conv, o["filters"], o["batch_normalize"], o["activation"], extra=extra)


def _raw_1x1(layer, net, conv):
    """darknet skips im2col for a 1x1 kernel: each group's input buffer, from its start, is read as a
    (c/groups) x (out_h*out_w) matrix whatever the stride and padding, so the output is a plain 1x1
    convolution of that reinterpreted buffer, not a strided one."""
    from ..errors import DarkbenchError
    from ..nn import Conv
    o = layer.opts
    c, h, w = layer.in_shape
    _, oh, ow = layer.out_shape
    if oh * ow > h * w:
        raise DarkbenchError(f"[convolutional] size=1 stride={o['stride']} padding={o['padding']}: darknet "
                             f"skips im2col for 1x1 kernels and reads its {w}x{h} input as {ow}x{oh}, past the "
                             "end of the input; not built", net.path, layer.line, layer.index)
    g = o["groups"]
    used = c // g * oh * ow

    class Raw1x1(Conv):
        def forward(self, x, outs):
            x = x.reshape(x.shape[0], g, -1)[:, :, :used].reshape(-1, c, oh, ow)
            return super().forward(x, outs)
    return Raw1x1(conv, o["filters"], o["batch_normalize"], o["activation"])
