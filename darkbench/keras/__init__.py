"""Keras models (JSON or .keras) counted the way Keras counts them; built in PyTorch on request.

`analyse(path)` gives a KerasNetwork shaped like darkbench.network.Network, so the CLI treats both
alike. Conventions: params as Keras' count_params() (batch-norm moving statistics included, as
non-trainable); MACs of Conv*/Dense layers only (no bias, batch norm, activation or pooling);
ops = 2 * MACs; weights_bytes = fp32 bytes of every weight, without any file header."""
import math
import os
from dataclasses import dataclass, field

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
    config: dict = field(default_factory=dict, repr=False)  # the layer's Keras config, for the builder

    opts: dict = field(default_factory=dict)  # filters/output and activation, as for darknet layers

    sources = ()
    saved = True
    weights = ()

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
    warnings: list = field(default_factory=list)
    nodes: list = field(default_factory=list, repr=False)   # reader Nodes: [input] + one per layer
    outputs: list = field(default_factory=list)             # names of the output layers
    model_name: str = ""
    # what a Keras model supports (see darkbench.models): its architecture only, not darknet's layers
    kind = "keras"
    has_darknet_layers = False
    supports_weights = False
    supports_darknet_backend = False
    conventions = ("Conventions (Keras): params = Keras' count_params(), batch-norm moving mean and "
                   "variance included as non-trainable; MACs = multiply-accumulates of Conv2D, "
                   "DepthwiseConv2D, SeparableConv2D, Conv2DTranspose and Dense (no bias, batch norm, "
                   "activation or pooling); BFLOPs = 2*MACs / 1e9; fp32 weights = 4 bytes per parameter, "
                   "no header; bytes = fp32 reads (inputs + weights) + writes (outputs); "
                   "intensity = 2*MACs / bytes.")

    @property
    def name(self):
        return os.path.splitext(os.path.basename(self.path))[0]

    @property
    def net(self):
        return {}

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
    weights_bytes = property(lambda self: 4 * self.params)  # fp32 bytes of every weight, no header
    size_mib = property(lambda self: self.weights_bytes / 2 ** 20)

    @property
    def output_index(self):
        names = [l.name for l in self.layers]
        return names.index(self.outputs[-1]) if self.outputs and self.outputs[-1] in names else len(names) - 1

    def summary(self):
        return dict(cfg=self.path, width=self.width, height=self.height, channels=self.channels,
                    layers=len(self.layers), ops=self.ops, bn_ops=round(self.ops / 1e9, 2), macs=self.macs,
                    params=self.params, trainable=self.trainable, non_trainable=self.non_trainable,
                    weight_floats=self.weight_floats, weights_bytes=self.weights_bytes, size_mib=self.size_mib)


def analyse(path, width=None, height=None):
    """Every layer's output shape, parameters (Keras' count) and MACs. Raises DarkbenchError only."""
    path = os.fspath(path)
    graph = read(path)
    nodes = graph.nodes
    inp = nodes[0].config
    shape = inp.get("batch_shape") or inp.get("batch_input_shape")
    if (not isinstance(shape, list) or len(shape) < 2
            or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape[1:])):
        raise DarkbenchError(f"input shape {rules.short(shape)} must be fully known (positive sizes; "
                             "only the batch may be null)", path)
    shape = tuple(shape[1:])
    for key, v in (("width", width), ("height", height)):
        if v is not None and v <= 0:
            raise DarkbenchError(f"--{key} {v} must be > 0", path)
    if width or height:
        if len(shape) != 3:
            raise DarkbenchError("--width/--height given but the model input is not an image", path)
        shape = (height or shape[0], width or shape[1], shape[2])
    if math.prod(shape) > rules.MAX_VALUES:
        raise DarkbenchError(f"input {'x'.join(map(str, shape))} is too large", path)
    shapes, out, total = {nodes[0].name: shape}, [], 0
    for i, n in enumerate(nodes[1:]):
        ins = [shapes[name] for name in n.inputs]
        if not ins:
            raise DarkbenchError(f"layer '{n.name}' ({n.cls}) has no input", path)
        s, tr, ntr, macs, formula = rules.evaluate(n, ins, path)
        if not graph.trainable:  # a frozen model: Keras counts every weight as non-trainable
            tr, ntr = 0, tr + ntr
        shapes[n.name] = s
        total += tr + ntr
        out.append(KerasLayer(index=i, name=n.name, type=n.cls, keras_shape=s, in_keras_shapes=ins,
                              trainable=tr, non_trainable=ntr, macs=macs, formula=formula,
                              running_total=total, inputs=sum(math.prod(x) for x in ins),
                              outputs=math.prod(s), desc=rules.window_text(n.cls, n.config),
                              opts=_opts(n.config), config=n.config))
    return KerasNetwork(path=path, layers=out, input_keras_shape=shape, nodes=nodes,
                        outputs=graph.outputs, model_name=graph.name)


def _opts(c):
    o = {"filters": c["filters"]} if isinstance(c.get("filters"), int) else {}
    try:  # only a name: a custom activation is counted here and refused by the builder
        act = rules.activation(c.get("activation"))
    except ValueError:
        act = None
    if act:
        o["activation"] = act
    if isinstance(c.get("units"), int):
        o["output"] = c["units"]
    return o


def load(path, width=None, height=None, **kw):
    """The model as an eval-mode torch module with random weights (NCHW input, see .input_shape).

    Only fuse= is accepted besides the size (there is nothing to fuse); Keras weights are never read."""
    unknown = sorted(k for k in kw if k != "fuse")
    if unknown:
        raise DarkbenchError(f"Keras models take no {', '.join(unknown)} option here (weights are not "
                             "loaded from Keras files)", path)
    from .torch import build
    return build(analyse(path, width, height))
