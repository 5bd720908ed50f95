"""[route]: earlier layers' outputs, one after another (a channel concatenation for equal images)."""
NAMES = ("route",)
KEYS = {"layers"}
FORK_KEYS = frozenset({"groups", "group_id", "stream", "wait_stream"})


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
    groups, group_id = 1, 0
    if ctx.fork:  # each source's group_id-th of `groups` channel slices (yolov4-tiny's CSP split)
        if odd:
            raise sec._err("layers", f"layer {odd.index} is {_size(odd)} and layer {srcs[0].index} "
                                     f"{_size(srcs[0])}: the AlexeyAB fork refuses a route of unequal sizes")
        groups = sec.get_int("groups", 1, min=1)
        group_id = sec.get_int("group_id", 0, min=0)
        if group_id >= groups:
            raise sec._err("group_id", f"group_id={group_id} is out of range for groups={groups}")
        bad = next((s for s in srcs if s.out_shape[0] % groups or s.outputs % groups), None)
        if bad:
            raise sec._err("groups", f"groups={groups} does not divide the {bad.out_shape[0] or bad.outputs} "
                                     f"channels of layer {bad.index}")
        c //= groups
    opts = dict(layers=[s.index for s in srcs], groups=groups, group_id=group_id)
    if odd:  # for the error of an image layer that follows
        opts["flat_because"] = (f"route of unequal sizes: layer {odd.index} is {_size(odd)}, layer "
                                f"{srcs[0].index} is {_size(srcs[0])}")
    layer = ctx.layer(sec, "route", (c, h, w), outputs=sum(s.outputs for s in srcs) // groups, opts=opts,
                      sources=tuple(s.index for s in srcs), desc=",".join(str(s.index) for s in srcs)
                      + (f" group {group_id}/{groups}" if groups > 1 else ""))
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
    groups, gid = layer.opts.get("groups", 1), layer.opts.get("group_id", 0)

    def part(t):  # darknet's group_id-th slice of each source's buffer
        if groups == 1:
            return t
        n = t.shape[1] // groups
        return t[:, gid * n:(gid + 1) * n]

    class Route(Layer):
        def forward(self, x, outs):
            xs = [part(outs[i]) for i in idx]
            if len(xs) == 1:
                return xs[0]
            if image and all(t.dim() == 4 for t in xs):
                return torch.cat(xs, 1)
            # darknet copies each source's flat buffer after the previous one (per image)
            return torch.cat([t.flatten(1) for t in xs], 1)

        def extra_repr(self):
            return f"layers={idx}"
    return Route()
