"""[local]: unshared convolution, one filter bank per output location."""
from ..carith import c_div, overhang
from ..errors import DarkbenchError
from .options import check_positive
from .traits import MOVEMENT, kernel_floats

NAMES = ("local",)
KEYS = {"filters", "size", "stride", "pad", "activation"}
TORCH_OPS = {"aten::im2col": MOVEMENT, "aten::unfold": MOVEMENT}


def FAN_IN(layer):
    """Kernel floats per output value: each location has its own filters."""
    return max(1, kernel_floats(layer) // max(1, layer.outputs))


def build(sec, ctx):
    n = sec.get_int("filters", 1)
    size = sec.get_int("size", 1)
    stride = sec.get_int("stride", 1)
    pad = sec.get_int("pad", 0, min=0)
    act = ctx.activation(sec, "logistic")
    check_positive(sec, filters=n, size=size, stride=stride)
    c, h, w = ctx.need_image(sec)
    # darknet: with pad the output is (in-1)/stride+1 and im2col pads by `pad` itself
    oh = c_div(h - (1 if pad else size), stride) + 1
    ow = c_div(w - (1 if pad else size), stride) + 1
    if oh <= 0 or ow <= 0:  # darknet's output would be empty
        raise ctx.fail(sec, f"kernel {size}x{size} is larger than its {w}x{h} input "
                            f"(darknet's output would be {ow}x{oh}, empty)")
    loc = oh * ow
    return ctx.layer(
        sec, "local", (n, oh, ow),
        opts=dict(filters=n, size=size, stride=stride, pad=pad, activation=act),
        weights=[("biases", (n, oh, ow)), ("weights", (loc, n, c, size, size))],
        macs=loc * n * c * size * size, desc=f"{n} {size}x{size}/{stride}")


def WORKSPACE(layer):
    """make_local_layer's workspace_size counts the im2col matrix's floats, which darknet then allocates as
    bytes (see tests/cfgs/local_deconv.cfg): the figure is what darknet asks for, a quarter of what it writes."""
    c, _, _ = layer.in_shape
    _, oh, ow = layer.out_shape
    return oh * ow * layer.opts["size"] ** 2 * c


def module(layer, net):
    import torch
    import torch.nn.functional as F
    from torch import nn
    from ..nn import Activation, Layer
    o = layer.opts
    c, h, w = layer.in_shape
    n, oh, ow = layer.out_shape
    k, s, pad = o["size"], o["stride"], o["pad"]
    # darknet's im2col sizes its columns itself (C division too); a different count leaves it reading
    # and writing past its buffers
    if c_div(h + 2 * pad - k, s) + 1 != oh or c_div(w + 2 * pad - k, s) + 1 != ow:
        raise DarkbenchError(f"[local] pad={pad} with size={k}: darknet's im2col and output size disagree "
                             "(darknet's result would be garbage)", net.path, layer.line, layer.index)
    extra = (0, overhang(w, pad, k, s, ow), 0, overhang(h, pad, k, s, oh))  # im2col reads those as 0

    class Local(Layer):
        def __init__(self):
            super().__init__()
            self.weights = nn.Parameter(torch.zeros(oh * ow, n, c * k * k))  # 3-D: (loc, n, c*k*k)
            self.biases = nn.Parameter(torch.zeros(n, oh, ow))
            self.act = Activation(o["activation"])

        def tensors(self):
            return {"weights": self.weights, "biases": self.biases}

        def forward(self, x, outs):
            if any(extra):
                x = F.pad(x, extra)
            cols = F.unfold(x, k, padding=pad, stride=s)             # (N, c*k*k, L)
            y = torch.bmm(self.weights, cols.permute(2, 1, 0))        # (L, n, N): one GEMM per location
            return self.act(y.permute(2, 1, 0).reshape(-1, n, oh, ow) + self.biases)
    return Local()
