"""[avgpool] / [avg]: global average over H and W."""
NAMES = ("avgpool", "avg")
KEYS = set()


def build(sec, ctx):
    c, h, w = ctx.need_image(sec)
    return ctx.layer(sec, "avgpool", (c, 1, 1))
