"""[history] (AlexeyAB fork): the last history_size inputs of a time sequence, stacked as channels."""
from .fork_common import not_built
from .traits import FORK_ONLY

NAMES = ("history",)
KEYS = {"history_size"}
DIALECTS = FORK_ONLY


def build(sec, ctx):
    n = sec.get_int("history_size", 4, min=1)
    c, h, w = ctx.need_image(sec)
    return ctx.layer(sec, "history", (c * n, h, w), opts=dict(history_size=n, time_steps=ctx.net["time_steps"]),
                     desc=f"x{n}")


def module(layer, net):
    """Without time steps the fork copies the input in front and leaves the other history_size-1 slots at
    the zeros they were allocated with; over a time sequence it is recurrent (issue 15)."""
    import torch.nn.functional as F
    from ..nn import Elementwise
    if layer.opts["time_steps"] != 1:
        not_built(layer, net)
    extra = layer.out_shape[0] - layer.in_shape[0]
    return Elementwise(lambda x: F.pad(x, (0, 0, 0, 0, 0, extra)), f"history_size={layer.opts['history_size']}")
