"""The spec of one layer (what every family's build() returns) and the context build() reads."""
import math
from dataclasses import dataclass, field

from .. import dialect as dialects
from ..errors import DarkbenchError
from ..traffic import Traffic
from .loading import load_rules
from .registry import family
from .traits import trait

RUNNING_STATS = ("rolling_mean", "rolling_variance")  # stored, but not parameters


@dataclass
class Layer(Traffic):
    index: int
    type: str                  # canonical section name, e.g. "convolutional"
    line: int                  # line of the section header
    in_shape: tuple            # (c, h, w); (0, 0, 0) when the input is not an image
    out_shape: tuple           # darknet's (out_c, out_h, out_w); an image when none is 0 (connected: N x 1 x 1)
    inputs: int                # floats read from the previous layer (darknet l.inputs)
    outputs: int               # floats written (darknet l.outputs)
    opts: dict = field(default_factory=dict)     # typed options, for the torch builder
    weights: list = field(default_factory=list)  # [(name, shape)] in .weights file order
    macs: int = 0              # multiply-accumulates (conv/deconv/local/connected/recurrent)
    ops: int = 0               # darknet numops() contribution
    sources: tuple = ()        # other layers read (route, shortcut)
    extra_read: int = 0        # floats read from sources besides the previous layer
    saved: bool = True         # False when dontsave=1: darknet's save leaves it out (its loader does not)
    unloaded: tuple = ()       # weight names darknet's loader skips (dontload, dontloadscales)
    load_error: str = ""       # why darknet's loader cannot be reproduced for this layer (dontload, numload)
    desc: str = ""             # filters / size text for tables
    reads_image: bool = False  # reads its input as a (c, h, w) image (torch reshapes a flat one to it)
    bflops: float = 0.0        # the AlexeyAB fork's per-layer BF (billions, float32 as it prints them)
    warnings: tuple = ()       # said once the network is read (the analysis goes on): network.warnings

    @property
    def family(self):
        return family(self.type)

    def trait(self, name):
        return trait(self.family, name)

    @property
    def weight_floats(self):
        return sum(math.prod(s) for _, s in self.weights)

    @property
    def params(self):
        # recurrent layers name their inner layers' statistics "input_layer.rolling_mean" and so on
        return sum(math.prod(s) for n, s in self.weights if n.rpartition(".")[2] not in RUNNING_STATS)


@dataclass
class Context:
    """What a family's build() sees: the previous layer's output and the layers so far."""
    path: str
    index: int
    c: int
    h: int
    w: int
    inputs: int
    layers: list
    net: dict
    reads_image: bool = False  # set by need_image() while a layer is built
    dialect: str = dialects.PJREDDIE  # the darknet whose rules this cfg is read by

    @property
    def fork(self):
        return self.dialect == dialects.ALEXEYAB

    @property
    def image(self):
        return bool(self.c and self.h and self.w)

    def fail(self, sec, msg):
        return DarkbenchError(f"[{sec.name}] {msg}", self.path, sec.line, layer=self.index)

    def need_image(self, sec):
        if not self.image:
            prev = self.layers[-1] if self.layers else None
            what = f"layer {prev.index} ({prev.type})" if prev else "the input"
            why = prev.opts.get("flat_because", "") if prev else ""
            raise self.fail(sec, f"needs an image input, but {what} outputs a flat vector of {self.inputs}"
                                 + (f" ({why})" if why else ""))
        self.reads_image = True
        return self.c, self.h, self.w

    def activation(self, sec, default):
        name = sec.get_str("activation", default)
        known = dialects.ACTIVATIONS[self.dialect]
        if name not in known:
            raise sec._err("activation", f"unknown activation '{name}' in the {self.dialect} dialect "
                                         f"(known: {', '.join(known)})")
        return name

    def ref(self, sec, key, value):
        """Resolve a route/shortcut layer index: negative is relative, else absolute."""
        idx = self.index + value if value < 0 else value
        if idx < 0 or idx >= self.index:
            where = "in the future" if idx >= self.index else "out of range"
            raise sec._err(key, f"{key}={value} refers to layer {idx}, {where} (this is layer {self.index})")
        return self.layers[idx]

    def layer(self, sec, type, out_shape, outputs=None, **kw):
        c, h, w = out_shape
        layer = Layer(index=self.index, type=type, line=sec.line,
                      in_shape=(self.c, self.h, self.w) if self.image else (0, 0, 0),
                      out_shape=out_shape, inputs=self.inputs,
                      outputs=c * h * w if outputs is None else outputs,
                      saved=self.fork or not sec.get_int("dontsave", 0), reads_image=self.reads_image, **kw)
        layer.unloaded, layer.load_error = load_rules(sec, layer, self.dialect)
        return layer
