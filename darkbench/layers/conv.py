"""[convolutional] / [conv]: grouped 2-D convolution, optional batch norm.

In the fork's dialect also stride_x/stride_y, dilation (the output size ignores it: the padding is
scaled by it), antialiasing (the convolution at stride 1, then a fixed blur at the real stride that is
neither stored nor counted in its BF), share_index (another convolution's weights: nothing stored)
and cbn (batch norm as stored)."""
from ..carith import c_div, overhang
from ..errors import DarkbenchError
from .bflops import conv_bflops
from .loading import bn_weights
from .options import check_positive
from .traits import bn_darknet_floats

NAMES = ("convolutional", "conv")
KEYS = {"filters", "size", "stride", "pad", "padding", "groups", "activation", "batch_normalize",
        "binary", "xnor", "flipped", "dot"}
# the fork's own; the training-only ones (sway ... stream) are read and change nothing here
FORK_KEYS = frozenset({"stride_x", "stride_y", "dilation", "antialiasing", "share_index", "cbn", "bin_output",
                       "assisted_excitation", "sway", "rotate", "stretch", "stretch_sway", "angle", "grad_centr",
                       "reverse", "coordconv", "stream", "wait_stream", "deform"})
NUMLOAD = DONTLOADSCALES = FUSE = True
DARKNET_FLOATS = bn_darknet_floats  # footprint.py
COLOR = "tab:blue"
_NO_SHARE = -1000000000  # the fork's "share_index not given"
_BLUR = {1: (3, 1), 2: (2, 0)}  # antialiasing -> (blur size, blur padding)


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
    binary, xnor = sec.get_int("binary", 0), sec.get_int("xnor", 0)
    sx = sy = stride
    dilation, aa, share = 1, 0, None
    if ctx.fork:
        if sec.get_int("cbn", 0):  # batch norm across mini-batches, stored as batch norm
            bn = 2
        groups = 1 if xnor else max(1, groups)
        sx, sy = sec.get_int("stride_x", -1), sec.get_int("stride_y", -1)
        sx, sy = (sx if sx >= 1 else stride), (sy if sy >= 1 else stride)  # unset (< 1): stride
        dilation = 1 if size == 1 else sec.get_int("dilation", 1)
        aa = sec.get_int("antialiasing", 0)
        if aa not in (0, 1, 2):
            raise sec._err("antialiasing", f"antialiasing={aa}: the fork knows 0, 1 (3x3 blur) and 2 (2x2 blur)")
        share = _shared(sec, ctx)
    check_positive(sec, filters=n, size=size, stride=stride, groups=groups, stride_x=sx, stride_y=sy,
                   dilation=dilation)
    c, h, w = ctx.need_image(sec)
    if ctx.fork and c % groups and not n % groups:  # the fork reads c/groups channels per group, the rest unread
        sec.notes.append((sec.options["groups"][1], f"groups={groups} does not divide input channels {c}: the fork "
                          f"reads {c // groups} per group and leaves {c % groups} unread (counted so; not built)"))
    elif c % groups or n % groups:
        raise sec._err("groups", f"groups={groups} does not divide input channels {c} and filters {n}")
    hx, hy = (1, 1) if aa else (sx, sy)  # an antialiased convolution runs at stride 1 before its blur
    oh = c_div(h + 2 * padding - size, hy) + 1
    ow = c_div(w + 2 * padding - size, hx) + 1
    if oh <= 0 or ow <= 0:  # darknet's output would be empty
        raise ctx.fail(sec, f"kernel {size}x{size} with padding {padding} is larger than its {w}x{h} input "
                            f"(darknet's output would be {ow}x{oh}, empty)")
    if share is not None:
        want = (n, c // groups, size)
        got = (share.opts["filters"], share.in_shape[0] // share.opts["groups"], share.opts["size"])
        if want != got:
            raise sec._err("share_index", f"share_index points at layer {share.index}, whose filters/channels per "
                                          f"group/size {got} differ from this layer's {want}")
    macs = n * (c // groups) * size * size * oh * ow
    bflops = conv_bflops(c, n, groups, size, oh, ow) / (32 if xnor else 1)
    fh, fw = oh, ow
    if aa:
        bsize, bpad = _BLUR[aa]
        fh, fw = c_div(oh + 2 * bpad - bsize, sy) + 1, c_div(ow + 2 * bpad - bsize, sx) + 1
        macs += n * bsize * bsize * fh * fw  # the depthwise blur (not stored, not in the fork's BF)
    weights = [("biases", (n,))] + bn_weights(n, bn) + [("weights", (n, c // groups, size, size))]
    strides = f"{sx}" if sx == sy else f"{sx}x{sy}"
    return ctx.layer(
        sec, "convolutional", (n, fh, fw),
        opts=dict(filters=n, size=size, stride=stride, stride_x=sx, stride_y=sy, padding=padding, groups=groups,
                  activation=act, batch_normalize=bn, dilation=dilation, antialiasing=aa,
                  share_index=None if share is None else share.index, binary=binary, xnor=xnor,
                  host_shape=(n, oh, ow)),
        weights=[] if share is not None else weights,
        macs=macs, ops=2 * macs, bflops=bflops,
        desc=f"{n} {size}x{size}/{strides}" + (f" g{groups}" if groups > 1 else "")
        + (f" d{dilation}" if dilation > 1 else "") + (f" aa{aa}" if aa else "")
        + (f" shares {share.index}" if share is not None else "") + (" xnor" if xnor else ""))


def _shared(sec, ctx):
    """The convolution whose weights share_index names (absolute if >= 0, relative if negative), or None."""
    value = sec.get_int("share_index", _NO_SHARE)
    if value == _NO_SHARE:
        return None
    idx = value if value >= 0 else ctx.index + value
    if not 0 <= idx < ctx.index:
        raise sec._err("share_index", f"share_index={value} refers to layer {idx}, "
                                      f"{'not an earlier layer' if idx >= 0 else 'out of range'} "
                                      f"(this is layer {ctx.index})")
    other = ctx.layers[idx]
    if other.type != "convolutional":
        raise sec._err("share_index", f"share_index={value} refers to layer {idx}, a [{other.type}], not a "
                                      "convolution")
    while other.opts.get("share_index") is not None:  # a chain ends at the layer that holds the weights
        other = ctx.layers[other.opts["share_index"]]
    return other


def WORKSPACE(layer):
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
    for key, why in (("xnor", "binarised (XNOR) convolution"), ("binary", "binarised weights")):
        if o.get(key):
            raise DarkbenchError(f"[convolutional] {key}={o[key]}: {why} is counted but not built in PyTorch",
                                 net.path, layer.line, layer.index)
    c, h, w = layer.in_shape
    if c % o["groups"]:
        raise DarkbenchError(f"[convolutional] groups={o['groups']} with {c} input channels: counted as the fork "
                             "counts it, not built in PyTorch", net.path, layer.line, layer.index)
    _, oh, ow = o.get("host_shape", layer.out_shape)
    sx, sy = o.get("stride_x", o["stride"]), o.get("stride_y", o["stride"])
    if o.get("antialiasing"):
        sx = sy = 1
    d = o.get("dilation", 1)
    if o["size"] == 1:  # stride and padding do not apply: see _raw_1x1 (and no window can overhang)
        conv = nn.Conv2d(c, o["filters"], 1, groups=o["groups"], bias=not o["batch_normalize"])
        if layer.in_shape[1:] != (oh, ow):
            return _raw_1x1(layer, net, conv)
        return _blurred(Conv(conv, o["filters"], o["batch_normalize"], o["activation"]), layer)
    if d > 1 and 2 * o["padding"] != o["size"] - 1:
        raise DarkbenchError(f"[convolutional] dilation={d} with size={o['size']} padding={o['padding']}: the "
                             "fork's output size ignores the dilation; only padding=(size-1)/2 is built",
                             net.path, layer.line, layer.index)
    conv = nn.Conv2d(c, o["filters"], o["size"], (sy, sx), o["padding"] * d, dilation=d, groups=o["groups"],
                     bias=not o["batch_normalize"])
    extra = (overhang(w, o["padding"], o["size"], sx, ow), overhang(h, o["padding"], o["size"], sy, oh))
    return _blurred(Conv(conv, o["filters"], o["batch_normalize"], o["activation"], extra=extra), layer)


def TIE(layer, modules):
    """The fork's share_index: this layer's module takes the kernel, biases and batch norm of the convolution
    it names (its own window, stride and activation stay); called again after fusing, which folds the shared
    batch norm once, in the convolution that holds it."""
    source = layer.opts.get("share_index")
    if source is None:
        return False
    module, held = modules[layer.index], modules[source]
    module.conv.weight = held.conv.weight
    module.conv.bias = held.conv.bias
    module.bn = held.bn
    return True


def _blurred(conv, layer):
    """The fork's antialiasing: a fixed depthwise blur at the real stride after the convolution."""
    aa = layer.opts.get("antialiasing")
    if not aa:
        return conv
    import torch
    import torch.nn.functional as F
    size, pad = _BLUR[aa]
    k = torch.tensor([[1., 2., 1.], [2., 4., 2.], [1., 2., 1.]]) / 16 if aa == 1 else torch.full((2, 2), 0.25)
    n = layer.opts["filters"]
    stride = (layer.opts["stride_y"], layer.opts["stride_x"])

    class Blurred(type(conv)):
        def forward(self, x, outs):
            y = super().forward(x, outs)
            return F.conv2d(y, self.blur.to(y.dtype), stride=stride, padding=pad, groups=n)
    conv.__class__ = Blurred
    conv.register_buffer("blur", k.expand(n, 1, size, size).clone(), persistent=False)
    return conv


def _raw_1x1(layer, net, conv):
    """darknet skips im2col for a 1x1 kernel: each group's input buffer, from its start, is read as a
    (c/groups) x (out_h*out_w) matrix whatever the stride and padding, so the output is a plain 1x1
    convolution of that reinterpreted buffer, not a strided one."""
    from ..nn import Conv
    o = layer.opts
    c, h, w = layer.in_shape
    _, oh, ow = o.get("host_shape", layer.out_shape)
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
    return _blurred(Raw1x1(conv, o["filters"], o["batch_normalize"], o["activation"]), layer)
