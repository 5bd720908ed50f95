"""[scale_channels] (AlexeyAB fork): act(from * previous), the previous layer being one factor per channel
(c x 1 x 1, squeeze-and-excitation) or, with scale_wh=1, one per position (1 x h x w). Shaped like `from`."""
from .fork_common import image_source
from .traits import FORK_ONLY

NAMES = ("scale_channels",)
KEYS = {"from", "scale_wh", "activation"}
DIALECTS = FORK_ONLY


def build(sec, ctx):
    act = ctx.activation(sec, "linear")
    scale_wh = sec.get_int("scale_wh", 0)
    src = image_source(sec, ctx)
    c, h, w = ctx.need_image(sec)
    sc, sh, sw = src.out_shape
    # the fork asserts these (abort)
    if not scale_wh and (w, h, c) != (1, 1, sc):
        raise sec._err("from", f"the previous layer is {w}x{h}x{c}, layer {src.index} is {sw}x{sh}x{sc}: "
                               f"[scale_channels] needs 1x1x{sc} factors, one per channel of layer {src.index} "
                               "(the fork aborts)")
    if scale_wh and (w, h, c) != (sw, sh, 1):
        raise sec._err("from", f"the previous layer is {w}x{h}x{c}, layer {src.index} is {sw}x{sh}x{sc}: "
                               f"scale_wh=1 needs {sw}x{sh}x1 factors, one per position (the fork aborts)")
    return ctx.layer(sec, "scale_channels", src.out_shape,
                     opts=dict(source=src.index, scale_wh=scale_wh, activation=act),
                     sources=(src.index,), extra_read=src.outputs,
                     desc=f"from {src.index}" + (" wh" if scale_wh else ""))


def module(layer, net):
    from ..nn import Activation, Layer
    src = layer.opts["source"]
    c, h, w = layer.in_shape

    class ScaleChannels(Layer):
        def __init__(self):
            super().__init__()
            self.act = Activation(layer.opts["activation"])

        def forward(self, x, outs):  # x: (N, c, 1, 1) or (N, 1, h, w), broadcast over `from`
            return self.act(outs[src] * x.reshape(x.shape[0], c, h, w))

        def extra_repr(self):
            return f"from={src}, scale_wh={layer.opts['scale_wh']}"
    return ScaleChannels()
