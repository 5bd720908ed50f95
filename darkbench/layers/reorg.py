"""[reorg]: darknet's own space-to-depth (its index permutation, not pixel_unshuffle)."""
from .traits import MOVEMENT

NAMES = ("reorg",)
KEYS = {"stride", "reverse", "flatten", "extra"}
PJREDDIE_KEYS = frozenset({"flatten", "extra"})  # the fork's [reorg] (REORG_OLD) reads stride and reverse only
TORCH_OPS = {"aten::pixel_shuffle": MOVEMENT, "aten::pixel_unshuffle": MOVEMENT}


def build(sec, ctx):
    s = sec.get_int("stride", 1)
    reverse = sec.get_int("reverse", 0)
    flatten = 0 if ctx.fork else sec.get_int("flatten", 0)
    extra = 0 if ctx.fork else sec.get_int("extra", 0, min=0)
    if s <= 0:
        raise sec._err("stride", f"stride={s} must be > 0")
    c, h, w = ctx.need_image(sec)
    if reverse:
        if c % (s * s):
            raise sec._err("stride", f"reverse reorg: {c} channels not divisible by {s * s}")
        shape = (c // (s * s), h * s, w * s)
    else:
        if h % s or w % s:
            raise sec._err("stride", f"stride {s} does not divide the {w}x{h} input")
        shape = (c * s * s, h // s, w // s)
    if extra:  # darknet: a flat vector of the inputs plus `extra` zeros
        return ctx.layer(sec, "reorg", (0, 0, 0), outputs=ctx.inputs + extra,
                         opts=dict(stride=s, reverse=reverse, flatten=flatten, extra=extra))
    return ctx.layer(sec, "reorg", shape, opts=dict(stride=s, reverse=reverse, flatten=flatten, extra=0),
                     desc=f"/{s}")


def module(layer, net):
    import torch.nn.functional as F
    from ..errors import DarkbenchError
    from ..nn import Elementwise
    o = layer.opts
    s = o["stride"]
    c, h, w = layer.in_shape
    if o["flatten"] and o["extra"]:
        raise DarkbenchError("[reorg] flatten=1 with extra= reads past darknet's input buffer; not built",
                             net.path, layer.line, layer.index)
    if o["extra"]:  # darknet copies the input and leaves `extra` zeros after it
        extra = o["extra"]
        return Elementwise(lambda x: F.pad(x.flatten(1), (0, extra)), f"flat + {extra} zeros")
    if o["flatten"]:  # darknet's flatten(): CHW -> HWC, or back with reverse; the shape label still changes
        shape = (-1,) + tuple(layer.out_shape)
        if o["reverse"]:
            fn = lambda x: x.reshape(x.shape[0], h * w, c).transpose(1, 2).reshape(shape)
        else:
            fn = lambda x: x.reshape(x.shape[0], c, h * w).transpose(1, 2).reshape(shape)
        return Elementwise(fn, f"flatten, reverse={o['reverse']}")
    if c % (s * s):
        raise DarkbenchError(f"[reorg] {c} channels are not divisible by stride^2={s * s}: darknet's "
                             "permutation is undefined", net.path, layer.line, layer.index)
    oc = c // (s * s)

    if o["reverse"]:
        def fn(x):  # out[c2, j*s+dy, i*s+dx] = in[(dy*s+dx)*oc + c2, j, i]
            n = x.shape[0]
            y = x.reshape(n, s, s, oc, h, w).permute(0, 3, 4, 1, 5, 2)
            return y.reshape(n, oc, h * s, w * s)
    else:
        def fn(x):  # darknet reads its input as (c/s^2, h*s, w*s) and writes (c, h, w) in that order
            n = x.shape[0]
            y = x.reshape(n, oc, h, s, w, s).permute(0, 3, 5, 1, 2, 4)
            return y.reshape(n, c * s * s, h // s, w // s)
    return Elementwise(fn, f"stride={s}, reverse={o['reverse']}")
