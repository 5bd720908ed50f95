"""[normalization] / [lrn]: cross-channel LRN; darknet does not divide alpha by size."""
from .traits import PER_INPUT

NAMES = ("normalization", "lrn")
KEYS = {"alpha", "beta", "kappa", "size"}
TORCH_OPS = {"aten::cumsum": PER_INPUT}


def DARKNET_FLOATS(layer):
    """Output, delta and the squared and norms arrays its forward fills (footprint.py)."""
    return 4 * layer.outputs


def build(sec, ctx):
    size = sec.get_int("size", 5, min=1)
    c, h, w = ctx.need_image(sec)
    return ctx.layer(sec, "normalization", (c, h, w),
                     opts=dict(size=size, alpha=sec.get_float("alpha", 0.0001),
                               beta=sec.get_float("beta", 0.75), kappa=sec.get_float("kappa", 1.0)),
                     desc=f"{size}")


def module(layer, net):
    import torch
    import torch.nn.functional as F
    from ..nn import Elementwise
    o = layer.opts
    size, alpha, beta, kappa = o["size"], o["alpha"], o["beta"], o["kappa"]
    c = layer.out_shape[0]
    half, back = size // 2, (size - 1) // 2

    def fn(x):
        # darknet's running window over channels, exactly as its CPU loop adds and subtracts
        sq = x * x
        start = sq[:, :half].sum(1, keepdim=True)
        k = torch.arange(1, c, device=x.device)
        nxt, prev = k + half, k - back - 1
        padded = F.pad(sq, (0, 0, 0, 0, 0, 1))           # index c reads zeros
        add = padded[:, torch.where(nxt < c, nxt, c)]
        sub = padded[:, torch.where(prev >= 0, prev, c)]
        run = torch.cat([start, start + torch.cumsum(add - sub, 1)], 1)
        return x * (kappa + alpha * run) ** -beta
    return Elementwise(fn, f"size={size}, alpha={alpha}, beta={beta}, kappa={kappa}")
