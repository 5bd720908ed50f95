"""Small rules shared by the section families only the AlexeyAB fork has (no NAMES: not a family)."""
from .. import dialect as dialects
from ..carith import c_div
from ..errors import DarkbenchError
from .bflops import f32
from .loading import bn_weights


def not_built(layer, net):
    """The torch module of a fork section darkbench counts but cannot build yet."""
    raise DarkbenchError(f"[{layer.type}] is counted but not built yet (AlexeyAB dialect PyTorch modules: "
                         "issue 15)", net.path, layer.line, layer.index)


def activation(sec, ctx, key, default):
    """An activation option other than `activation` (ctx.activation reads that one)."""
    name = sec.get_str(key, default)
    known = dialects.ACTIVATIONS[ctx.dialect]
    if name not in known:
        raise sec._err(key, f"unknown activation '{name}' in the {ctx.dialect} dialect "
                            f"(known: {', '.join(known)})")
    return name


def image_source(sec, ctx, key="from"):
    """The earlier layer a `from=` names (relative when negative, as the fork reads it), with an image output."""
    src = ctx.ref(sec, key, sec.get_int(key))
    if not all(src.out_shape):
        raise sec._err(key, f"{key}={sec.get_str(key)}: layer {src.index} ({src.type}) has no image output")
    return src


def conv(name, c, h, w, n, size, stride, padding, groups, bn, xnor):
    """One of the fork's inner convolutions (make_convolutional_layer): (weights, macs, bflops, (oh, ow))."""
    if xnor:  # the fork disables groups for XNOR convolutions
        groups = 1
    oh = c_div(h + 2 * padding - size, stride) + 1
    ow = c_div(w + 2 * padding - size, stride) + 1
    nweights = (c // groups) * n * size * size
    bflops = f32(2.0 * nweights * oh * ow / 1e9)
    if xnor:
        bflops = f32(bflops / 32)
    weights = ([(f"{name}.biases", (n,))] + [(f"{name}.{k}", s) for k, s in bn_weights(n, bn)]
               + [(f"{name}.weights", (n, c // groups, size, size))])
    return weights, nweights * oh * ow, bflops, (oh, ow)
