"""Shared arithmetic of darknet's recurrent layers: stacks of inner connected layers."""
from .loading import bn_weights


def inner(name, n_in, n_out, bn):
    """Weights of one inner connected layer, prefixed by its name, in file order."""
    return ([(f"{name}.biases", (n_out,)), (f"{name}.weights", (n_out, n_in))] +
            [(f"{name}.{k}", s) for k, s in bn_weights(n_out, bn)])


def build(sec, ctx, type, order, keys_in, sizes=None, image=False):
    """order: inner layers in file order; keys_in: those fed by the layer input; sizes: {name: (n_in, n_out)}
    where they are not (input or output) -> output; image: its output is an output x 1 x 1 image (the fork's
    rnn and lstm)."""
    out = sec.get_int("output", 1, min=1)
    bn = sec.get_int("batch_normalize", 0)
    if ctx.inputs <= 0:
        raise ctx.fail(sec, "has no input")
    weights, macs = [], 0
    for name in order:
        n_in, n_out = (sizes or {}).get(name, (ctx.inputs if name in keys_in else out, out))
        weights += inner(name, n_in, n_out, bn)
        macs += n_in * n_out
    return ctx.layer(sec, type, (out, 1, 1) if image else (0, 0, 0), outputs=out, weights=weights, macs=macs,
                     ops=2 * macs,
                     opts=dict(output=out, batch_normalize=bn), desc=f"{out}")


def module(layer, net):
    from ..errors import DarkbenchError
    raise DarkbenchError(f"[{layer.type}] layers are analytic only: darkbench counts them but cannot "
                         "build them in PyTorch", net.path, layer.line, layer.index)
