"""[history] (AlexeyAB fork): the last history_size inputs of a time sequence, stacked as channels."""
from .fork_common import FORK_ONLY, not_built

NAMES = ("history",)
KEYS = {"history_size"}
DIALECTS = FORK_ONLY


def build(sec, ctx):
    n = sec.get_int("history_size", 4, min=1)
    c, h, w = ctx.need_image(sec)
    return ctx.layer(sec, "history", (c * n, h, w), opts=dict(history_size=n), desc=f"x{n}")


module = not_built
