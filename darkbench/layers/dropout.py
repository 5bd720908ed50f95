"""[dropout]: identity at inference."""
NAMES = ("dropout",)
KEYS = {"probability"}
FORK_KEYS = frozenset({"dropblock", "dropblock_size_rel", "dropblock_size_abs"})  # training only


def DARKNET_FLOATS(layer):
    """darknet's dropout reuses the previous layer's output and delta (parse_dropout); its random mask is
    drawn only when training: it holds nothing of its own at inference (footprint.py)."""
    return 0


def build(sec, ctx):
    p = sec.get_float("probability", 0.5)
    if not 0 <= p < 1:
        raise sec._err("probability", f"probability={p} must be in [0, 1)")
    return ctx.layer(sec, "dropout", (ctx.c, ctx.h, ctx.w), outputs=ctx.inputs,
                     opts=dict(probability=p))


def module(layer, net):
    from ..nn import Elementwise
    return Elementwise(lambda x: x, "identity at inference")
