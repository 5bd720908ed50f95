"""Keras models (JSON or .keras) counted the way Keras counts them; built in PyTorch on request.

`analyse(path)` gives a KerasNetwork shaped like darkbench.network.Network, so the CLI treats both
alike. Conventions: params as Keras' count_params() (batch-norm moving statistics included, as
non-trainable); MACs of Conv*/Dense layers only (no bias, batch norm, activation or pooling);
ops = 2 * MACs; weights_bytes = fp32 bytes of every weight, without any file header.

Models used as layers are read into one graph: their layers named 'model/layer', a later call of a shared
layer or model 'layer:1' with its weights counted once (at the first call), as Keras counts them."""
import math
import os
from dataclasses import dataclass, field

from ..errors import DarkbenchError
from ..traffic import Traffic
from ..tables import shape_text
from .base import MAX_VALUES, activation, short
from .layers import evaluate, window_text
from .reader import read


INDENT = ". "  # a nesting level in tables (leading spaces would be trimmed)


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
    scope: tuple = ()        # the nested models (calls) it is in, outermost first
    shares: str = None       # a shared layer's later call: the layer holding the weights
    operands: tuple = None   # a Keras operation's arguments: None for each input tensor, numbers

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
    nested: list = field(default_factory=list)  # reader.Nested: models used as layers

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

    def producers(self):
        """Per layer, the indices of the layers it reads (-1: the input): the graph's edges, for footprint.py."""
        index = {n.name: i - 1 for i, n in enumerate(self.nodes)}
        return [sorted({index[name] for name in n.inputs}) for n in self.nodes[1:]]

    def output_indices(self):
        names = {l.name: l.index for l in self.layers}
        return [names[o] for o in self.outputs if o in names] or [len(self.layers) - 1]

    def summary(self):
        return dict(cfg=self.path, width=self.width, height=self.height, channels=self.channels,
                    layers=len(self.layers), ops=self.ops, bn_ops=round(self.ops / 1e9, 2), macs=self.macs,
                    params=self.params, trainable=self.trainable, non_trainable=self.non_trainable,
                    weight_floats=self.weight_floats, weights_bytes=self.weights_bytes, size_mib=self.size_mib)

    def nest_rows(self, rows):
        """Table rows (one per layer) with the layers of nested models indented under a row for the model
        giving its output and its subtotals, as Keras' summary(expand_nested=True) shows them."""
        if not self.nested:
            return rows
        models = {m.name: m for m in self.nested}
        shapes = {l.name: l.out_shape for l in self.layers}
        out, shown = [], set()
        for l, row in zip(self.layers, rows):
            for depth, key in enumerate(l.scope):
                if key in shown:
                    continue
                shown.add(key)
                m, inside = models[key], [x for x in self.layers if key in x.scope]
                shape = shapes.get(m.outputs[0]) if m.outputs else None
                out.append(dict(name=INDENT * depth + m.label, type=m.cls,
                                output=shape_text(shape) if shape else "",
                                formula=f"shares the weights of '{m.shares}'" if m.shares else "subtotal",
                                params=sum(x.params for x in inside), macs=sum(x.macs for x in inside),
                                bflops=sum(x.ops for x in inside) / 1e9))
            out.append(dict(row, name=INDENT * len(l.scope) + l.name.rsplit("/", 1)[-1]))
        return out


def analyse(path, width=None, height=None):
    """Every layer's output shape, parameters (Keras' count) and MACs. Raises DarkbenchError only."""
    path = os.fspath(path)
    graph = read(path)
    nodes = graph.nodes
    shape = _input_shape(nodes[0].config, width, height, path)
    if math.prod(shape) > MAX_VALUES:
        raise DarkbenchError(f"input {'x'.join(map(str, shape))} is too large", path)
    shapes, out, total = {nodes[0].name: shape}, [], 0
    for i, n in enumerate(nodes[1:]):
        ins = [shapes[name] for name in n.inputs]
        if not ins:
            raise DarkbenchError(f"layer '{n.name}' ({n.cls}) has no input", path)
        s, tr, ntr, macs, formula = evaluate(n, ins, path)
        if n.frozen:  # in a frozen model: Keras counts every weight as non-trainable
            tr, ntr = 0, tr + ntr
        if n.shares:  # a shared layer's later call: its weights are counted once, at the first call
            tr, ntr, formula = 0, 0, f"shares the weights of '{n.shares}'" if tr + ntr else ""
        shapes[n.name] = s
        total += tr + ntr
        out.append(KerasLayer(index=i, name=n.name, type=n.cls, keras_shape=s, in_keras_shapes=ins,
                              trainable=tr, non_trainable=ntr, macs=macs, formula=formula,
                              running_total=total, inputs=sum(math.prod(x) for x in ins),
                              outputs=math.prod(s), desc=window_text(n.cls, n.config),
                              opts=_opts(n.config), config=n.config, scope=n.scope, shares=n.shares,
                              operands=n.operands))
    return KerasNetwork(path=path, layers=out, input_keras_shape=shape, nodes=nodes,
                        outputs=graph.outputs, model_name=graph.name, nested=graph.nested)


def _size(d):
    return isinstance(d, int) and not isinstance(d, bool) and d > 0


def _input_shape(conf, width, height, path):
    """The input shape without the batch axis; width/height replace an image's (open or not)."""
    shape = conf.get("batch_shape") or conf.get("batch_input_shape")
    image = isinstance(shape, list) and len(shape) == 4 and _size(shape[3])
    if (not isinstance(shape, list) or len(shape) < 2
            or not all(_size(d) or (image and i < 2 and d is None) for i, d in enumerate(shape[1:]))):
        raise DarkbenchError(f"input shape {short(shape)} must be fully known (positive sizes; "
                             "only the batch, or an image's height and width, may be null)", path)
    shape = tuple(shape[1:])
    for key, v in (("width", width), ("height", height)):
        if v is not None and v <= 0:
            raise DarkbenchError(f"--{key} {v} must be > 0", path)
    if width or height:
        if len(shape) != 3:
            raise DarkbenchError("--width/--height given but the model input is not an image", path)
        shape = (height or shape[0], width or shape[1], shape[2])
    if None in shape:
        h, w, c = ("?" if d is None else d for d in shape)
        need = " and ".join(f"--{k}" for k, d in (("width", shape[1]), ("height", shape[0])) if d is None)
        raise DarkbenchError(f"the model takes images of any size (input {w}x{h}x{c}): give the size with "
                             f"{need} (width=/height= in Python)", path)
    return shape


def _opts(c):
    o = {"filters": c["filters"]} if isinstance(c.get("filters"), int) else {}
    try:  # only a name: a custom activation is counted here and refused by the builder
        act = activation(c.get("activation"))
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
