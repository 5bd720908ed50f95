"""[sam] (AlexeyAB fork): act(previous * from), elementwise; both must have the same shape."""
from .fork_common import image_source
from .traits import FORK_ONLY

NAMES = ("sam",)
KEYS = {"from", "activation"}
DIALECTS = FORK_ONLY


def build(sec, ctx):
    act = ctx.activation(sec, "linear")
    src = image_source(sec, ctx)
    c, h, w = ctx.need_image(sec)
    sc, sh, sw = src.out_shape
    if (sc, sh, sw) != (c, h, w):  # the fork asserts this (abort)
        raise sec._err("from", f"layer {src.index} is {sw}x{sh}x{sc} but the previous layer is {w}x{h}x{c}: "
                               "[sam] multiplies two outputs of the same shape (the fork aborts)")
    return ctx.layer(sec, "sam", src.out_shape, opts=dict(source=src.index, activation=act),
                     sources=(src.index,), extra_read=src.outputs, desc=f"from {src.index}")


def module(layer, net):
    from ..nn import Activation, Layer
    src = layer.opts["source"]

    class Sam(Layer):
        def __init__(self):
            super().__init__()
            self.act = Activation(layer.opts["activation"])

        def forward(self, x, outs):
            return self.act(x * outs[src])

        def extra_repr(self):
            return f"from={src}"
    return Sam()
