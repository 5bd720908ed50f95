"""[crnn]: convolutional RNN, three inner 3x3 convolutions (analytic only)."""
from .base import bn_weights

NAMES = ("crnn",)
KEYS = {"output_filters", "hidden_filters", "activation", "batch_normalize", "shortcut"}


def build(sec, ctx):
    out = sec.get_int("output_filters", 1, min=1)
    hidden = sec.get_int("hidden_filters", 1, min=1)
    ctx.activation(sec, "logistic")
    bn = sec.get_int("batch_normalize", 0)
    c, h, w = ctx.need_image(sec)
    h, w = w, h  # darknet's parse_crnn passes (w, h) into make_crnn_layer(h, w)
    weights, macs = [], 0
    for name, n_in, n_out in (("input_layer", c, hidden), ("self_layer", hidden, hidden),
                              ("output_layer", hidden, out)):
        weights += ([(f"{name}.biases", (n_out,))] + [(f"{name}.{k}", s) for k, s in bn_weights(n_out, bn)]
                    + [(f"{name}.weights", (n_out, n_in, 3, 3))])
        macs += n_out * n_in * 9 * h * w
    # numops() has no CRNN case: darknet's ops count is 0 here
    return ctx.layer(sec, "crnn", (out, h, w), weights=weights, macs=macs,
                     opts=dict(output_filters=out, hidden_filters=hidden, batch_normalize=bn),
                     desc=f"{hidden}/{out}")


def module(layer, net):
    from .recurrent import module as analytic_only
    return analytic_only(layer, net)
