"""[reorg3d] (AlexeyAB fork; its [reorg] is 2018's): space-to-depth by `stride`, or back with reverse=1.
Forward: out[(dy*s + dx)*C + c, y, x] = in[c, y*s + dy, x*s + dx]. Reverse runs the fork's same index
map the other way over the (c/s^2, h*s, w*s) output, which is not the inverse permutation."""
from ..errors import DarkbenchError
from .traits import FORK_ONLY, MOVEMENT

NAMES = ("reorg3d",)
KEYS = {"stride", "reverse"}
DIALECTS = FORK_ONLY
TORCH_OPS = {"aten::index_select": MOVEMENT}


def build(sec, ctx):
    s = sec.get_int("stride", 1)
    reverse = sec.get_int("reverse", 0)
    if s <= 0:
        raise sec._err("stride", f"stride={s} must be > 0")
    c, h, w = ctx.need_image(sec)
    if reverse:
        if c % (s * s):
            raise sec._err("stride", f"reverse=1: {c} channels are not divisible by stride^2={s * s} "
                                     f"(the fork would output {c // (s * s)} channels and lose the rest)")
        shape = (c // (s * s), h * s, w * s)
    else:
        if h % s or w % s:
            raise sec._err("stride", f"stride {s} does not divide the {w}x{h} input (the fork would output "
                                     f"{w // s}x{h // s} and misread its input)")
        shape = (c * s * s, h // s, w // s)
    return ctx.layer(sec, "reorg3d", shape, opts=dict(stride=s, reverse=reverse),
                     desc=f"/{s}" + (" rev" if reverse else ""))


def _index(layer):
    """For each output float, the input float the fork's reorg_cpu copies there (None: not a permutation)."""
    import numpy as np
    s, reverse = layer.opts["stride"], layer.opts["reverse"]
    oc, oh, ow = layer.out_shape  # the fork passes l.out_w/out_h/out_c in both directions
    in_c = oc // (s * s)
    k, j, i = np.meshgrid(np.arange(oc), np.arange(oh), np.arange(ow), indexing="ij")
    a = (i + ow * (j + oh * k)).ravel()             # "in_index"
    c2, off = k % in_c if in_c else k, k // in_c if in_c else k
    b = ((i * s + off % s) + ow * s * ((j * s + off // s) + oh * s * c2)).ravel()  # "out_index"
    n = oc * oh * ow
    idx = np.full(n, -1)
    if reverse:   # out[b] = x[a]
        if b.max(initial=0) >= n:
            return None
        idx[b] = a
    else:         # out[a] = x[b]
        if b.max(initial=0) >= n:
            return None
        idx[a] = b
    return idx if (idx >= 0).all() and len(set(idx.tolist())) == n else None


def module(layer, net):
    import torch
    from ..nn import Elementwise
    idx = _index(layer)
    if idx is None:
        raise DarkbenchError(f"[reorg3d] stride={layer.opts['stride']} reverse={layer.opts['reverse']} on "
                             f"{layer.in_shape}: the fork's index map is not a permutation here (it reads "
                             "outside its input); not built", net.path, layer.line, layer.index)
    index = torch.as_tensor(idx)
    shape = layer.out_shape
    return Elementwise(lambda x: x.flatten(1).index_select(1, index.to(x.device)).reshape(-1, *shape),
                       f"stride={layer.opts['stride']}, reverse={layer.opts['reverse']}")
