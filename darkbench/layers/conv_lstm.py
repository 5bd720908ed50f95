"""[conv_lstm] (AlexeyAB fork): a convolutional LSTM. Inner convolutions, in the fork's file order:
peephole=1 adds vf, vi, vo; wf, wi, wg, wo read the state (bottleneck=1: wf alone, over 2*output
channels); uf, ui, ug, uo read the input. All share size/stride/padding/groups/batch_normalize."""
from ..carith import c_div
from ..cfg import parse_int
from ..errors import DarkbenchError
from .bflops import f32
from .fork_common import activation, conv
from .options import check_positive
from .traits import FORK_ONLY

NAMES = ("conv_lstm",)
KEYS = {"size", "stride", "dilation", "pad", "padding", "output", "groups", "activation", "batch_normalize",
        "xnor", "peephole", "bottleneck", "state_constrain", "shortcut", "lstm_activation", "time_normalizer"}
DIALECTS = FORK_ONLY
COLOR = "tab:purple"


def build(sec, ctx):
    size = sec.get_int("size", 3)
    stride = sec.get_int("stride", 1)
    dilation = sec.get_int("dilation", 1)  # the fork's output size ignores it
    padding = sec.get_int("padding", 0, min=0)
    if sec.get_int("pad", 0):
        padding = size // 2
    n = sec.get_int("output", 1)
    groups = sec.get_int("groups", 1)
    act = ctx.activation(sec, "linear")
    lstm_act = activation(sec, ctx, "lstm_activation", "tanh")
    bn = sec.get_int("batch_normalize", 0)
    xnor = sec.get_int("xnor", 0)
    peephole = sec.get_int("peephole", 0)
    bottleneck = sec.get_int("bottleneck", 0)
    sec.get_int("state_constrain", 32)
    sec.get_int("shortcut", 0)
    sec.get_float("time_normalizer", 1.0)
    check_positive(sec, output=n, size=size, stride=stride)
    if xnor or groups < 1:
        groups = 1  # the fork's make_convolutional_layer
    c, h, w = ctx.need_image(sec)
    for what, ch in (("input channels", c), ("output", n), ("2*output", 2 * n if bottleneck else n)):
        if ch % groups:
            raise sec._err("groups", f"groups={groups} does not divide its {what} {ch}")
    inner = [(name, n) for name in ("vf", "vi", "vo") if peephole]
    inner += [("wf", 2 * n if bottleneck else n)] + [(name, n) for name in ("wi", "wg", "wo") if not bottleneck]
    inner += [(name, c) for name in ("uf", "ui", "ug", "uo")]
    weights, macs, parts = [], 0, {}
    for name, ch in inner:
        wts, m, bf, (oh, ow) = conv(name, ch, h, w, n, size, stride, padding, groups, bn, xnor)
        weights += wts
        macs += m
        parts[name] = bf
    if oh <= 0 or ow <= 0:
        raise ctx.fail(sec, f"kernel {size}x{size} with padding {padding} is larger than its {w}x{h} input "
                            f"(the fork's output would be {ow}x{oh}, empty)")
    outputs = n * oh * ow
    # the fork adds its convolutions' float32 BF and the gate arithmetic per output and image of its
    # batch (that of `darknet ops`: batch/subdivisions). Built with -Ofast, GCC regroups its float32 sum
    # uf+ui+...+vo; this grouping reproduces the program's BF on 40 random conv_lstm layers (a plain
    # left-to-right sum, or one rounding of the exact sum, is an ulp off on some)
    p = {name: parts.get(name, 0.0) for name in ("uf", "ui", "ug", "uo", "wf", "wi", "wg", "wo", "vf", "vi", "vo")}
    u = f32(f32(f32(p["uf"] + p["ui"]) + p["ug"]) + p["uo"])
    wa = f32(f32(p["wf"] + p["wi"]) + p["wg"])
    wb = f32(f32(p["wo"] + p["vf"]) + p["vi"])
    convs = f32(f32(f32(u + wa) + wb) + p["vo"])
    gates = (12 if peephole else 9) * outputs * fork_batch(ctx) / 1e9
    total = f32(convs + gates)
    return ctx.layer(sec, "conv_lstm", (n, oh, ow), weights=weights, macs=macs, ops=2 * macs, bflops=total,
                     opts=dict(output=n, size=size, stride=stride, padding=padding, groups=groups,
                               batch_normalize=bn, activation=act, lstm_activation=lstm_act,
                               peephole=peephole, bottleneck=bottleneck, xnor=xnor,
                               shortcut=sec.get_int("shortcut", 0), dilation=dilation, time_steps=ctx.net.get("time_steps", 1)),
                     desc=f"{n} {size}x{size}/{stride}" + (" peep" if peephole else "")
                          + (" bneck" if bottleneck else ""))


def fork_batch(ctx):
    """The batch the fork's `ops` gives a conv_lstm: [net] batch/subdivisions*time_steps (at least
    time_steps), divided again by time_steps in make_conv_lstm_layer."""
    steps = ctx.net.get("time_steps", 1)
    batch = ctx.net.get("batch", 1)
    text = str(ctx.net.get("subdivisions", "1"))  # [net] keeps it as written
    subdivisions = parse_int(text)
    if not subdivisions:
        raise DarkbenchError(f"[net] subdivisions={text} must be a nonzero integer: the fork divides the "
                             "batch by it (a [conv_lstm] BF depends on it)", ctx.path)
    total = max(c_div(batch, subdivisions) * steps, 1, steps)
    return total // steps


def refusal(layer):
    """Why the fork's forward of this layer is not built (None: it is)."""
    o = layer.opts
    if o["time_steps"] != 1:
        return (f"time_steps={o['time_steps']}: the fork runs the batch as a sequence, carrying the state "
                "from step to step; built for time_steps=1 only")
    if layer.in_shape[1:] != layer.out_shape[1:]:
        return ("an output size other than its input's: the fork's state convolutions read the state as an "
                "input-sized image, past the end of its buffer")
    if o["dilation"] != 1:
        return f"dilation={o['dilation']}: its inner convolutions' output size ignores it, their im2col does not"
    for key, why in (("bottleneck", "the fork's CPU forward aborts on it: wf reads 2*output channels, it "
                                    "asserts output"), ("xnor", "binarised convolutions")):
        if o[key]:
            return f"{key}={o[key]} ({why})"
    return None


def module(layer, net):
    """The fork's forward_conv_lstm_layer for one time step from a zero state (a fresh network's):
    f, i, o = logistic(W h + U x [+ V c]), g = tanh(W h + U x), c = f c + i g (vo reads the new c),
    output h = o * tanh(c). Each inner convolution applies `activation` after its bias/BN. The fork's CPU
    forward uses tanh whatever lstm_activation says (logistic and relu give tanh's output there); shortcut=1
    carries state between steps only, so one step gives the same output (checked against the program)."""
    import torch
    from torch import nn
    from ..nn import Conv, Layer
    why = refusal(layer)
    if why:
        raise DarkbenchError(f"[conv_lstm] {why}: counted, not built in PyTorch", net.path, layer.line, layer.index)
    o = layer.opts
    n, c = o["output"], layer.in_shape[0]
    names = [w.split(".")[0] for w, _ in layer.weights]
    names = list(dict.fromkeys(names))

    def inner(name):
        ch = c if name[0] == "u" else n
        return Conv(nn.Conv2d(ch, n, o["size"], o["stride"], o["padding"], groups=o["groups"],
                              bias=not o["batch_normalize"]), n, o["batch_normalize"], o["activation"])

    class ConvLSTM(Layer):
        def __init__(self):
            super().__init__()
            self.convs = nn.ModuleDict({name: inner(name) for name in names})
            self.gate = nn.Tanh()
            self.peephole = bool(o["peephole"])

        def tensors(self):
            return {f"{name}.{k}": t for name, m in self.convs.items() for k, t in m.tensors().items()}

        def forward(self, x, outs):
            conv = self.convs
            zero = x.new_zeros(x.shape[0], n, *x.shape[2:])  # h and c before the first step
            f = conv["wf"](zero, None) + conv["uf"](x, None)
            i = conv["wi"](zero, None) + conv["ui"](x, None)
            g = conv["wg"](zero, None) + conv["ug"](x, None)
            out = conv["wo"](zero, None) + conv["uo"](x, None)
            if self.peephole:
                f = f + conv["vf"](zero, None)
                i = i + conv["vi"](zero, None)
            cell = torch.sigmoid(f) * zero + torch.sigmoid(i) * self.gate(g)
            if self.peephole:
                out = out + conv["vo"](cell, None)
            return torch.sigmoid(out) * self.gate(cell)

    return ConvLSTM()
