"""[batchnorm]: stand-alone batch norm. 2018 darknet stores scales, rolling mean and rolling variance (its
biases stay zero, never saved); the AlexeyAB fork stores the biases first (its save_batchnorm_weights) and
its forward adds them."""
from .loading import bn_weights

NAMES = ("batchnorm",)
KEYS = set()


def build(sec, ctx):
    c, h, w = ctx.need_image(sec)
    return ctx.layer(sec, "batchnorm", (c, h, w),
                     weights=([("biases", (c,))] if ctx.fork else []) + bn_weights(c, True))


def module(layer, net):
    from ..nn import DarknetBN, Layer
    c = layer.out_shape[0]
    stored = [name for name, _ in layer.weights]

    class BatchNorm(Layer):
        def __init__(self):
            super().__init__()
            self.bn = DarknetBN(c)
            self.bn.biases.requires_grad_("biases" in stored)  # 2018's: zero, not in the file

        def tensors(self):
            return {name: getattr(self.bn, name) for name in stored}

        def forward(self, x, outs):
            return self.bn(x)
    return BatchNorm()
