"""[route]: channel concatenation of earlier layers' outputs."""
NAMES = ("route",)
KEYS = {"layers"}


def build(sec, ctx):
    idx = sec.get_list("layers")
    srcs = [ctx.ref(sec, "layers", i) for i in idx]
    first = srcs[0]
    if not all(s.out_shape[0] for s in srcs):
        flat = next(s for s in srcs if not s.out_shape[0])
        raise sec._err("layers", f"layer {flat.index} ({flat.type}) has no image output to route")
    for s in srcs[1:]:
        if s.out_shape[1:] != first.out_shape[1:]:
            raise sec._err("layers", f"layer {s.index} is {s.out_shape[2]}x{s.out_shape[1]} but layer "
                           f"{first.index} is {first.out_shape[2]}x{first.out_shape[1]}: route needs equal sizes")
    c = sum(s.out_shape[0] for s in srcs)
    layer = ctx.layer(sec, "route", (c, first.out_shape[1], first.out_shape[2]),
                      opts=dict(layers=[s.index for s in srcs]),
                      sources=tuple(s.index for s in srcs), desc=",".join(str(s.index) for s in srcs))
    layer.inputs = 0  # reads its sources, not the previous layer
    layer.extra_read = sum(s.outputs for s in srcs)
    return layer


def module(layer, net):
    import torch
    from ..nn import Layer
    idx = list(layer.sources)

    class Route(Layer):
        def forward(self, x, outs):
            return outs[idx[0]] if len(idx) == 1 else torch.cat([outs[i] for i in idx], 1)

        def extra_repr(self):
            return f"layers={idx}"
    return Route()
