"""[batchnorm]: stand-alone batch norm (scales, rolling mean, rolling variance stored)."""
NAMES = ("batchnorm",)
KEYS = set()


def build(sec, ctx):
    c, h, w = ctx.need_image(sec)
    return ctx.layer(sec, "batchnorm", (c, h, w),
                     weights=[("scales", (c,)), ("rolling_mean", (c,)), ("rolling_variance", (c,))])


def module(layer, net):
    from ..nn import DarknetBN, Layer
    c = layer.out_shape[0]

    class BatchNorm(Layer):
        def __init__(self):
            super().__init__()
            self.bn = DarknetBN(c)  # darknet's biases here are zero and never saved
            self.bn.biases.requires_grad_(False)

        def tensors(self):
            return {"scales": self.bn.scales, "rolling_mean": self.bn.rolling_mean,
                    "rolling_variance": self.bn.rolling_variance}

        def forward(self, x, outs):
            return self.bn(x)
    return BatchNorm()
