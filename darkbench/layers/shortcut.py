"""[shortcut]: out = act(alpha*previous + beta*from), shaped like the previous layer.

The fork's: several `from` layers added to the previous one (each its first min(C) channels; equal widths
and heights, else it aborts), optionally weighted (weights_type, stored)."""
from .bflops import f32

NAMES = ("shortcut",)
KEYS = {"from", "activation", "alpha", "beta"}
PJREDDIE_KEYS = frozenset({"alpha", "beta"})
FORK_KEYS = frozenset({"weights_type", "weights_normalization"})
_WEIGHTS_TYPES = {"none": 0, "per_feature": 1, "per_layer": 1, "per_channel": 2}
_NORMALIZATIONS = ("none", "relu", "avg_relu", "softmax")


def build(sec, ctx):
    act = ctx.activation(sec, "linear")
    if ctx.fork:
        return _fork(sec, ctx, act)
    src = ctx.ref(sec, "from", sec.get_int("from"))
    c, h, w = ctx.need_image(sec)
    sc, sh, sw = src.out_shape
    if not sc:
        raise sec._err("from", f"layer {src.index} ({src.type}) has no image output")
    # darknet samples or strides when sizes differ, asserting that both axes agree
    if sw // w != sh // h or w // sw != h // sh:
        raise sec._err("from", f"layer {src.index} is {sw}x{sh} and the previous layer {w}x{h}: "
                               "width and height ratios differ (darknet aborts on this)")
    return ctx.layer(sec, "shortcut", (c, h, w),
                     opts=dict(source=src.index, activation=act,
                               alpha=sec.get_float("alpha", 1.0), beta=sec.get_float("beta", 1.0)),
                     sources=(src.index,), extra_read=src.outputs, desc=f"from {src.index}",
                     bflops=f32(w * h * c / 1e9))


def _fork(sec, ctx, act):
    srcs = [ctx.ref(sec, "from", i) for i in sec.get_list("from")]
    c, h, w = ctx.need_image(sec)
    for src in srcs:
        if src.out_shape[1:] != (h, w):
            sh, sw = src.out_shape[1:]
            raise sec._err("from", f"layer {src.index} is {sw}x{sh} and the previous layer {w}x{h}: the "
                                   "AlexeyAB fork needs equal widths and heights (it aborts on this)")
    kind = sec.get_str("weights_type", "none")
    norm = sec.get_str("weights_normalization", "none")
    if kind not in _WEIGHTS_TYPES:
        raise sec._err("weights_type", f"weights_type={kind}: the fork knows {', '.join(_WEIGHTS_TYPES)}")
    if norm not in _NORMALIZATIONS:
        raise sec._err("weights_normalization", f"weights_normalization={norm}: the fork knows "
                                                f"{', '.join(_NORMALIZATIONS)}")
    if _WEIGHTS_TYPES[kind] and norm == "none":  # the fork's check refuses its own default
        raise sec._err("weights_type", f"weights_type={kind} with weights_normalization={norm}: the fork stops with "
                                       "'Incorrect weights_normalization = none'; set relu, avg_relu or softmax")
    n = len(srcs) + 1  # a weight for the previous layer and one per source
    weights = {0: [], 1: [("weights", (n,))], 2: [("weights", (n, c))]}[_WEIGHTS_TYPES[kind]]
    bf = f32(w * h * c * len(srcs) / 1e9) * (2 if weights else 1)
    return ctx.layer(sec, "shortcut", (c, h, w),
                     opts=dict(sources=[s.index for s in srcs], activation=act, weights_type=kind,
                               weights_normalization=norm),
                     weights=weights, sources=tuple(s.index for s in srcs),
                     extra_read=sum(s.outputs for s in srcs), bflops=f32(bf),
                     desc="from " + ",".join(str(s.index) for s in srcs) + (f" {kind}" if weights else ""))


def module(layer, net):
    from ..nn import Activation, Layer
    o = layer.opts
    if "sources" in o:
        return _fork_module(layer, net)
    src = o["source"]
    c1, h1, w1 = net.layers[src].out_shape   # the added layer
    c2, h2, w2 = layer.out_shape             # the previous layer, and the output
    alpha, beta = o["alpha"], o["beta"]
    same = (c1, h1, w1) == (c2, h2, w2)
    stride, sample = max(1, w1 // w2), max(1, w2 // w1)
    mc, mh, mw = min(c1, c2), min(h1, h2), min(w1, w2)

    class Shortcut(Layer):
        def __init__(self):
            super().__init__()
            self.act = Activation(o["activation"])

        def forward(self, x, outs):
            add = outs[src]
            if add.dim() == 2:  # a connected output: darknet's c x 1 x 1 image
                add = add.reshape(-1, c1, h1, w1)
            if same:
                y = x + add if alpha == 1 and beta == 1 else alpha * x + beta * add
            else:  # darknet adds the overlapping, strided/sampled part only
                y = x.clone()
                region = x[:, :mc, : mh * sample : sample, : mw * sample : sample]
                y[:, :mc, : mh * sample : sample, : mw * sample : sample] = (
                    alpha * region + beta * add[:, :mc, : mh * stride : stride, : mw * stride : stride])
            return self.act(y)

        def extra_repr(self):
            return f"from={src}, alpha={alpha}, beta={beta}"
    return Shortcut()


def _fork_module(layer, net):
    import torch
    from ..nn import Activation, Layer
    o = layer.opts
    srcs = o["sources"]
    c = layer.out_shape[0]
    norm = o["weights_normalization"]

    class Shortcut(Layer):
        def __init__(self):
            super().__init__()
            self.act = Activation(o["activation"])
            self.weights = torch.nn.Parameter(torch.ones(layer.weights[0][1])) if layer.weights else None

        def tensors(self):
            return {"weights": self.weights}

        def _w(self):
            """(sources + 1) x (c or 1) weights after the fork's normalisation (its sum starts at 0.0001)."""
            w = self.weights.reshape(len(srcs) + 1, -1)
            if norm in ("relu", "avg_relu"):
                w = torch.relu(w)
                w = w / (1e-4 + w.sum(0))
            elif norm == "softmax":
                w = torch.exp(w - w.max(0).values)
                w = w / (1e-4 + w.sum(0))
            return w.reshape(len(srcs) + 1, -1, 1, 1)

        def forward(self, x, outs):
            w = self._w() if self.weights is not None else None
            y = x if w is None else x * w[0]
            for k, i in enumerate(srcs):  # the fork adds each source's first min(C) channels
                add = outs[i]
                m = min(c, add.shape[1])
                if w is not None:
                    add = add[:, :m] * (w[k + 1] if w.shape[1] == 1 else w[k + 1, :m])
                y = y + add[:, :m] if m == c else torch.cat([y[:, :m] + add[:, :m], y[:, m:]], 1)
            return self.act(y)

        def extra_repr(self):
            return f"from={srcs}" + (f", weights_type={o['weights_type']}, {norm}" if layer.weights else "")
    return Shortcut()
