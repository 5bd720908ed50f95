"""[route]: earlier layers' outputs, one after another (a channel concatenation for equal images)."""
NAMES = ("route",)
KEYS = {"layers"}


def build(sec, ctx):
    idx = sec.get_list("layers")
    srcs = [ctx.ref(sec, "layers", i) for i in idx]
    c, h, w = first = srcs[0].out_shape
    # darknet's parse_route: channels add up while a source matches the FIRST one's size; a mismatch
    # zeroes the shape (the output is then a flat vector), a later match adds its channels again
    for s in srcs[1:]:
        if s.out_shape[1:] == first[1:]:
            c += s.out_shape[0]
        else:
            c = h = w = 0
    odd = next((s for s in srcs[1:] if s.out_shape[1:] != first[1:]), None)
    opts = dict(layers=[s.index for s in srcs])
    if odd:  # for the error of an image layer that follows
        opts["flat_because"] = (f"route of unequal sizes: layer {odd.index} is {_size(odd)}, layer "
                                f"{srcs[0].index} is {_size(srcs[0])}")
    layer = ctx.layer(sec, "route", (c, h, w), outputs=sum(s.outputs for s in srcs), opts=opts,
                      sources=tuple(s.index for s in srcs), desc=",".join(str(s.index) for s in srcs))
    layer.inputs = 0  # reads its sources, not the previous layer
    layer.extra_read = layer.outputs
    return layer


def _size(layer):
    c, h, w = layer.out_shape
    return f"{w}x{h}" if c else "flat"


def module(layer, net):
    import torch
    from ..nn import Layer
    idx = list(layer.sources)
    image = all(layer.out_shape)

    class Route(Layer):
        def forward(self, x, outs):
            xs = [outs[i] for i in idx]
            if len(xs) == 1:
                return xs[0]
            if image and all(t.dim() == 4 for t in xs):
                return torch.cat(xs, 1)
            # darknet copies each source's flat buffer after the previous one (per image)
            return torch.cat([t.flatten(1) for t in xs], 1)

        def extra_repr(self):
            return f"layers={idx}"
    return Route()
