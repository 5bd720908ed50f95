"""[cost]: training only; the network output is the last layer that is not a cost layer."""
NAMES = ("cost",)
KEYS = {"type", "scale", "ratio", "noobject_scale", "thresh"}
PJREDDIE_KEYS = frozenset({"noobject_scale", "thresh"})
COST = True
_TYPES = ("seg", "sse", "masked", "smooth", "L1", "wgan")


def build(sec, ctx):
    kind = sec.get_str("type", "sse")
    if kind not in _TYPES:
        raise sec._err("type", f"unknown cost type '{kind}'")
    return ctx.layer(sec, "cost", (0, 0, 0), outputs=ctx.inputs)


def module(layer, net):
    from ..nn import Elementwise
    return Elementwise(lambda x: x, "training only")
