"""[shortcut]: out = act(alpha*previous + beta*from), shaped like the previous layer."""
NAMES = ("shortcut",)
KEYS = {"from", "activation", "alpha", "beta"}


def build(sec, ctx):
    act = ctx.activation(sec, "linear")
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
                     sources=(src.index,), extra_read=src.outputs, desc=f"from {src.index}")


def module(layer, net):
    from ..nn import Activation, Layer
    o = layer.opts
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
