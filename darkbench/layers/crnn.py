"""[crnn]: convolutional RNN, three inner convolutions (built in PyTorch in the fork's dialect, one time step).

2018 darknet: 3x3, stride 1, padded, sizes from output_filters/hidden_filters. The fork: output/hidden and
its own size (3), stride, dilation, pad (0!), padding and groups, each convolution reading the layer's input size."""
from ..carith import c_div
from ..errors import DarkbenchError
from .bflops import conv_bflops, f32
from .loading import bn_weights
from .options import check_positive

NAMES = ("crnn",)
KEYS = {"output_filters", "hidden_filters", "activation", "batch_normalize", "shortcut"}
PJREDDIE_KEYS = frozenset({"output_filters", "hidden_filters"})
FORK_KEYS = frozenset({"output", "hidden", "size", "stride", "dilation", "pad", "padding", "groups", "xnor"})


def build(sec, ctx):
    if ctx.fork:
        out = sec.get_int("output", 1, min=1)
        hidden = sec.get_int("hidden", 1, min=1)
        size = sec.get_int("size", 3)
        stride = sec.get_int("stride", 1)
        padding = sec.get_int("padding", 0, min=0)
        if sec.get_int("pad", 0):
            padding = size // 2
        groups = max(1, sec.get_int("groups", 1))
        dilation = sec.get_int("dilation", 1)
        xnor = sec.get_int("xnor", 0)
        check_positive(sec, size=size, stride=stride)
    else:
        out = sec.get_int("output_filters", 1, min=1)
        hidden = sec.get_int("hidden_filters", 1, min=1)
        size, stride, padding, groups, dilation, xnor = 3, 1, 1, 1, 1, 0
    act = ctx.activation(sec, "logistic")
    bn = sec.get_int("batch_normalize", 0)
    c, h, w = ctx.need_image(sec)
    if not ctx.fork:
        h, w = w, h  # darknet's parse_crnn passes (w, h) into make_crnn_layer(h, w)
    oh, ow = c_div(h + 2 * padding - size, stride) + 1, c_div(w + 2 * padding - size, stride) + 1
    if oh <= 0 or ow <= 0:
        raise ctx.fail(sec, f"kernel {size}x{size} with padding {padding} is larger than its {w}x{h} input")
    if ctx.fork and (oh, ow) != (h, w):  # its inner layers all read w x h: the fork asserts they match
        raise ctx.fail(sec, f"size={size} stride={stride} padding={padding} turns {w}x{h} into {ow}x{oh}: the "
                            "AlexeyAB fork aborts unless its convolutions keep the size (set pad=1)")
    weights, macs, bflops = [], 0, 0.0
    for name, n_in, n_out in (("input_layer", c, hidden), ("self_layer", hidden, hidden),
                              ("output_layer", hidden, out)):
        if n_in % groups or n_out % groups:
            raise sec._err("groups", f"groups={groups} does not divide {name}'s {n_in} inputs and {n_out} filters")
        weights += ([(f"{name}.biases", (n_out,))] + [(f"{name}.{k}", s) for k, s in bn_weights(n_out, bn)]
                    + [(f"{name}.weights", (n_out, n_in // groups, size, size))])
        macs += n_out * n_in // groups * size * size * oh * ow
        bflops = f32(bflops + conv_bflops(n_in, n_out, groups, size, oh, ow))
    # numops() has no CRNN case: darknet's ops count is 0 here
    return ctx.layer(sec, "crnn", (out, oh, ow), weights=weights, macs=macs, bflops=bflops,
                     opts=dict(output_filters=out, hidden_filters=hidden, batch_normalize=bn, size=size,
                               stride=stride, padding=padding, groups=groups, dilation=dilation, xnor=xnor,
                               activation=act, fork=ctx.fork, time_steps=ctx.net.get("time_steps", 1)),
                     desc=f"{hidden}/{out}")


def refusal(layer):
    """Why this layer is not built in PyTorch (None: it is)."""
    o = layer.opts
    if not o["fork"]:
        return "in the pjreddie dialect analytic only"
    if o["time_steps"] != 1:
        return f"time_steps={o['time_steps']}: the fork carries the state from step to step; built for time_steps=1 only"
    if o["dilation"] != 1:
        return f"dilation={o['dilation']}: its convolutions' output size ignores it, their im2col does not"
    if o["xnor"]:
        return f"xnor={o['xnor']} (binarised convolutions)"
    return None


def module(layer, net):
    """The fork's forward_crnn_layer for one time step from a zero state (a fresh network's): state =
    input_layer(x) + self_layer(0) (shortcut adds the old state: zero), output = output_layer(state). Each
    inner convolution applies `activation` after its bias/BN."""
    from torch import nn
    from ..nn import Conv, Layer
    why = refusal(layer)
    if why == "in the pjreddie dialect analytic only":
        from .recurrent import module as analytic_only
        return analytic_only(layer, net)
    if why:
        raise DarkbenchError(f"[crnn] {why}: counted, not built in PyTorch", net.path, layer.line, layer.index)
    o = layer.opts
    c, hidden, out = layer.in_shape[0], o["hidden_filters"], o["output_filters"]

    def inner(n_in, n_out):
        return Conv(nn.Conv2d(n_in, n_out, o["size"], o["stride"], o["padding"], groups=o["groups"],
                              bias=not o["batch_normalize"]), n_out, o["batch_normalize"], o["activation"])

    class CRNN(Layer):
        def __init__(self):
            super().__init__()
            self.convs = nn.ModuleDict(dict(input_layer=inner(c, hidden), self_layer=inner(hidden, hidden),
                                            output_layer=inner(hidden, out)))

        def tensors(self):
            return {f"{name}.{k}": t for name, m in self.convs.items() for k, t in m.tensors().items()}

        def forward(self, x, outs):
            zero = x.new_zeros(x.shape[0], hidden, *x.shape[2:])  # the state before the first step
            state = self.convs["input_layer"](x, None) + self.convs["self_layer"](zero, None)
            return self.convs["output_layer"](state, None)

    return CRNN()
