"""Keras models (JSON or .keras) counted the way Keras counts them; built in PyTorch on request."""
import math
import os
from dataclasses import dataclass

from ..errors import DarkbenchError
from ..layers.base import Traffic
from . import layers as rules
from .reader import read


@dataclass
class KerasLayer(Traffic):
    index: int
    name: str
    type: str
    keras_shape: tuple        # output shape without the batch axis, channels-last
    in_keras_shapes: list
    trainable: int
    non_trainable: int
    macs: int
    formula: str
    running_total: int
    inputs: int
    outputs: int
    line: int = None
    desc: str = ""

    opts = {}
    sources = ()
    saved = True

    @property
    def params(self):
        return self.trainable + self.non_trainable

    @property
    def weight_floats(self):
        return self.params

    @property
    def ops(self):
        return 2 * self.macs

    @property
    def in_shape(self):
        return _chw(self.in_keras_shapes[0]) if self.in_keras_shapes else (0, 0, 0)

    @property
    def out_shape(self):
        return _chw(self.keras_shape)



def _chw(s):
    return (s[2], s[0], s[1]) if len(s) == 3 else (math.prod(s), 1, 1)


@dataclass
class KerasNetwork:
    path: str
    layers: list
    input_keras_shape: tuple
    warnings: tuple = ()
    convention = "Keras count_params(): batch-norm moving statistics are non-trainable parameters"

    @property
    def name(self):
        return os.path.splitext(os.path.basename(self.path))[0]

    @property
    def height(self):
        return self.input_keras_shape[0] if len(self.input_keras_shape) == 3 else 1

    @property
    def width(self):
        return self.input_keras_shape[1] if len(self.input_keras_shape) == 3 else 1

    @property
    def channels(self):
        return self.input_keras_shape[-1]

    @property
    def inputs(self):
        return math.prod(self.input_keras_shape)

    ops = property(lambda self: sum(l.ops for l in self.layers))
    macs = property(lambda self: sum(l.macs for l in self.layers))
    params = property(lambda self: sum(l.params for l in self.layers))
    trainable = property(lambda self: sum(l.trainable for l in self.layers))
    non_trainable = property(lambda self: sum(l.non_trainable for l in self.layers))
    weight_floats = property(lambda self: self.params)
    weights_bytes = property(lambda self: 4 * self.params)  # fp32 bytes of every weight
    size_mib = property(lambda self: self.weights_bytes / 2 ** 20)
    output_index = property(lambda self: len(self.layers) - 1)

    def summary(self):
        return dict(cfg=self.path, width=self.width, height=self.height, channels=self.channels,
                    layers=len(self.layers), ops=self.ops, bn_ops=round(self.ops / 1e9, 2), macs=self.macs,
                    params=self.params, trainable=self.trainable, non_trainable=self.non_trainable,
                    weight_floats=self.weight_floats, weights_bytes=self.weights_bytes, size_mib=self.size_mib)


def analyse(path, width=None, height=None):
    path = os.fspath(path)
    nodes = read(path)
    inp = nodes[0].config
    shape = inp.get("batch_shape") or inp.get("batch_input_shape")
    if not shape or any(d is None for d in shape[1:]):
        raise DarkbenchError(f"input shape {shape} must be fully known (no None besides the batch)", path)
    shape = tuple(shape[1:])
    if width or height:
        if len(shape) != 3:
            raise DarkbenchError("--width/--height given but the model input is not an image", path)
        shape = (height or shape[0], width or shape[1], shape[2])
    shapes, out, total = {nodes[0].name: shape}, [], 0
    for i, n in enumerate(nodes[1:]):
        ins = [shapes[name] for name in n.inputs]
        if not ins:
            raise DarkbenchError(f"layer '{n.name}' has no input", path)
        s, tr, ntr, macs, formula = rules.evaluate(n, ins, path)
        shapes[n.name] = s
        total += tr + ntr
        out.append(KerasLayer(index=i, name=n.name, type=n.cls, keras_shape=s, in_keras_shapes=ins,
                              trainable=tr, non_trainable=ntr, macs=macs, formula=formula,
                              running_total=total, inputs=sum(math.prod(x) for x in ins),
                              outputs=math.prod(s), desc=n.config.get("activation", "") or ""))
    net = KerasNetwork(path=path, layers=out, input_keras_shape=shape)
    net.nodes = nodes
    return net


def load(path, width=None, height=None, fuse=False):
    from .torch import build
    return build(analyse(path, width, height))
