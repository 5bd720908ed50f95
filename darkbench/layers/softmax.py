"""[softmax] / [soft]: softmax over `groups` equal contiguous chunks of the flat input."""
NAMES = ("softmax", "soft")
KEYS = {"groups", "temperature", "tree", "spatial", "noloss"}


def build(sec, ctx):
    groups = sec.get_int("groups", 1)
    temp = sec.get_float("temperature", 1.0, positive=True)
    if groups <= 0 or ctx.inputs % groups:
        raise sec._err("groups", f"groups={groups} does not divide the {ctx.inputs} inputs")
    # darknet leaves out_w/h/c at 0: what follows sees a flat vector
    layer = ctx.layer(sec, "softmax", (0, 0, 0), outputs=ctx.inputs,
                      opts=dict(groups=groups, temperature=temp, tree=sec.get_str("tree"),
                                spatial=sec.get_float("spatial", 0.0)))
    layer.image = False
    return layer


def module(layer, net):
    from ..errors import DarkbenchError
    from ..nn import Elementwise
    o = layer.opts
    if o["tree"] or o["spatial"]:
        raise DarkbenchError("[softmax] tree= and spatial= softmax cannot be built in PyTorch",
                             net.path, layer.line, layer.index)
    g, t = o["groups"], o["temperature"]

    def softmax(x):
        n = x.shape[0]
        return (x.reshape(n, g, -1) / t).softmax(-1).reshape(n, -1)
    return Elementwise(softmax, f"groups={g}, temperature={t}")
