"""What every layer family returns, and the small rules they share."""
import struct
from dataclasses import dataclass, field

from .. import dialect as dialects
from ..errors import DarkbenchError
from .registry import family

ACTIVATIONS = dialects.ACTIVATIONS[dialects.PJREDDIE]

# Keys darknet reads for every layer (parse_network_cfg), used or not at inference, per dialect.
COMMON_KEYS = {"clip", "truncation", "onlyforward", "stopbackward", "dontsave", "dontload",
               "numload", "dontloadscales", "learning_rate", "smooth"}
FORK_COMMON_KEYS = {"clip", "onlyforward", "dont_update", "burnin_update", "stopbackward", "train_only_bn",
                    "dontload", "dontloadscales", "learning_rate"}


def common_keys(dialect):
    return FORK_COMMON_KEYS if dialect == dialects.ALEXEYAB else COMMON_KEYS


def f32(x):
    """x rounded to float32, as the fork stores l.bflops."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def conv_bflops(c, n, groups, size, oh, ow):
    """The fork's convolution BF: 2 * (c/groups)*n*size*size * out_h*out_w / 1e9 (C int division)."""
    return f32(2.0 * (c // groups) * n * size * size * oh * ow / 1e9)

RUNNING_STATS = ("rolling_mean", "rolling_variance")

# What a darknet layer holds before its weights are read (make_*_layer): a vector darknet's loader skips
# keeps this. Kernels ("weights") start random there, so skipping them cannot be reproduced.
INITIAL = {"biases": 0.0, "scales": 1.0, "rolling_mean": 0.0, "rolling_variance": 0.0}
BN_VECTORS = ("scales", "rolling_mean", "rolling_variance")

# How crosscheck's fvcore handles count an aten op that fvcore itself skips (a family's TORCH_OPS values).
PER_OUTPUT = "1 per output element"
PER_INPUT = "1 per input element read"
PER_WINDOW = "kernel window per output element"
MOVEMENT = "0 (data movement)"


def kernel_floats(layer):
    """Floats in its "weights" arrays (inner layers' too), not biases or batch-norm vectors."""
    return sum(_count(s) for n, s in layer.weights if n.rsplit(".", 1)[-1] == "weights")


def fan_in(layer):
    """Kernel floats per filter (per output channel, or per output when there are no channels):
    random weights are scaled by it."""
    return max(1, kernel_floats(layer) // max(1, layer.out_shape[0] or layer.outputs))


# What a family module may declare besides NAMES, KEYS, build() and module(); these are the defaults.
# Code outside darkbench/layers asks trait() (or Layer.trait) and never branches on a type name.
DEFAULTS = dict(
    TRANSPOSED=False,      # its "weights" matrices are stored (in, out) when the header's major or minor > 1000
    fan_in=fan_in,         # fan_in(layer): the fan-in random weights are scaled by
    DONTLOADSCALES=False,  # dontloadscales=1 makes darknet's loader skip its batch-norm vectors
    NUMLOAD=False,         # numload=N makes darknet's loader read only its first N filters
    HEAD=False,            # an output head: a network with several returns each one's output (yolo)
    COST=False,            # training only: never the network output
    FUSE=False,            # its module folds a following batch norm in (module.fuse())
    TORCH_OPS={},          # {aten op: PER_OUTPUT...} its module runs beyond the common ones, for crosscheck
    COLOR="tab:gray",      # its bars in the report's per-layer plot
    MARKER="o",            # its points in the report's roofline ("s": fully connected)
    DARKNET_TYPE=None,     # darknet's LAYER_TYPE enum name, when it is not the section name in capitals
    workspace=lambda layer: 0,  # bytes of scratch darknet's make_*_layer asks for (l.workspace_size): footprint.py
    darknet_floats=lambda layer: 2 * layer.outputs,  # per image, what darknet's inference touches for it:
                           # its output and the delta forward_network zeroes before every layer (footprint.py)
    DIALECTS=dialects.NAMES,  # the dialects whose parser knows this section
    FORK_KEYS=frozenset(),    # options only the AlexeyAB fork reads: a cfg using one is read in its dialect
    PJREDDIE_KEYS=frozenset(),  # options of KEYS only 2018 darknet reads (the fork ignores and warns about them)
    # detection heads (darkbench/detect.py), numpy only (darkbench/boxes.py has what they share):
    DETECTS=False,         # a detection head: get_network_boxes reads its output
    boxes=None,            # boxes(layer, output, frame) -> boxes.Rows: its rows of darknet's detection array
                           # from its output for one image (as darkbench's model gives it) and a boxes.Frame
    activate=None,         # activate(layer, x, dialect): its forward in numpy from its input, a batch (engines
                           # such as OpenCV DNN give a head's input where their own head decodes boxes)
    nms=lambda layer: ("default", 0.6),  # (the fork's nms_kind, beta_nms) when it is the last head
)


def known_keys(family, dialect):
    """The options a family's section reads in a dialect (the common ones included)."""
    keys = set(family.KEYS) | common_keys(dialect)
    if dialect == dialects.ALEXEYAB:
        return (keys - trait(family, "PJREDDIE_KEYS")) | trait(family, "FORK_KEYS")
    return keys


def trait(family, name):
    """A family module's trait, or its default."""
    return getattr(family, name, DEFAULTS[name])


class Traffic:
    """fp32 bytes a layer moves and its arithmetic intensity (shared by darknet and Keras layers)."""
    extra_read = 0

    @property
    def bytes_read(self):
        return 4 * (self.inputs + self.extra_read + self.weight_floats)

    @property
    def bytes_written(self):
        return 4 * self.outputs

    @property
    def intensity(self):
        """FLOPs (2 per MAC) per byte moved at fp32."""
        moved = self.bytes_read + self.bytes_written
        return 2 * self.macs / moved if moved else 0.0


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
        return sum(_count(s) for _, s in self.weights)

    @property
    def params(self):
        # recurrent layers name their inner layers' statistics "input_layer.rolling_mean" and so on
        return sum(_count(s) for n, s in self.weights if n.rpartition(".")[2] not in RUNNING_STATS)



def _count(shape):
    n = 1
    for d in shape:
        n *= d
    return n


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


def load_rules(sec, layer, dialect=dialects.PJREDDIE):
    """(names darknet's load_weights_upto skips, why it cannot be reproduced or ""), from the options
    every layer takes: dontload skips the layer, dontloadscales the batch-norm vectors of families with
    DONTLOADSCALES (not [batchnorm], not inner recurrent layers), numload reads only the first N filters
    of families with NUMLOAD."""
    names = tuple(name for name, _ in layer.weights)
    if sec.get_int("dontload", 0):
        random = [n for n in names if n.rsplit(".", 1)[-1] not in INITIAL]
        return names, ("dontload=1: darknet skips this layer when reading weights and keeps the random "
                       "weights it initialised it with" if random else "")
    skipped = ()
    if sec.get_int("dontloadscales", 0) and layer.trait("DONTLOADSCALES"):
        skipped = tuple(n for n in names if n in BN_VECTORS)
    numload = 0 if dialect == dialects.ALEXEYAB else sec.get_int("numload", 0)  # the fork has no numload
    n = layer.out_shape[0]
    if numload and numload != n and layer.trait("NUMLOAD"):
        if 0 < numload < n:
            return skipped, (f"numload={numload}: darknet reads only the first {numload} of {n} filters and "
                             "keeps random weights for the rest")
        return skipped, (f"numload={numload} with {n} filters: darknet would read outside its buffers "
                         "(its result would be garbage)")
    return skipped, ""


def bn_weights(n, batch_normalize):
    """Darknet's per-filter vectors after biases, as stored in the file."""
    if not batch_normalize:
        return []
    return [("scales", (n,)), ("rolling_mean", (n,)), ("rolling_variance", (n,))]


def c_div(a, b):
    """C integer division, truncating toward zero: darknet's output sizes (-1/2 is 0, not -1)."""
    q = a // b
    if q < 0 and q * b != a:  # floor went one below; only ops a traced size (a tensor there) supports
        q = q + 1
    return q


def overhang(size_in, padding, size, stride, out):
    """Cells past the right/bottom edge that darknet's last window covers when C division rounded
    a negative span up to one output; its im2col reads them as 0 (bounds-checked), so zero-pad them."""
    return max(0, (out - 1) * stride + size - size_in - 2 * padding)


def bn_darknet_floats(layer):
    """Output, delta, and with batch norm the l.x copy darknet's forward_batchnorm_layer makes even at inference."""
    return (3 if layer.opts.get("batch_normalize") else 2) * layer.outputs


def check_positive(sec, **values):
    for key, v in values.items():
        if v <= 0:
            raise sec._err(key, f"{key}={v} must be > 0")
