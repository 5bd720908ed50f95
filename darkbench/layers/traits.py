"""What a family may declare besides NAMES, KEYS, build() and module(): its traits, their defaults, and the
check every family passes when it is registered.

A trait is an upper-case name of the family's module, data or a function (a hook). Code outside
darkbench/layers asks trait() (or Layer.trait) and never branches on a type name; a family that declares an
upper-case name that is no trait (a misspelling), a trait of the wrong kind, or a trait in lower case is
refused when registered (registry.py)."""
import difflib
import math
import types
from typing import Callable, NamedTuple

from .. import dialect as dialects

# How crosscheck's fvcore handles count an aten op that fvcore itself skips (a family's TORCH_OPS values).
PER_OUTPUT = "1 per output element"
PER_INPUT = "1 per input element read"
PER_WINDOW = "kernel window per output element"
MOVEMENT = "0 (data movement)"
TORCH_OP_RULES = (PER_OUTPUT, PER_INPUT, PER_WINDOW, MOVEMENT)

FORK_ONLY = (dialects.ALEXEYAB,)  # DIALECTS of a section only the AlexeyAB fork has

# the shared values above, which a family may import under their own names
VALUES = dict(PER_OUTPUT=PER_OUTPUT, PER_INPUT=PER_INPUT, PER_WINDOW=PER_WINDOW, MOVEMENT=MOVEMENT,
              FORK_ONLY=FORK_ONLY)


def kernel_floats(layer):
    """Floats in its "weights" arrays (inner layers' too), not biases or batch-norm vectors."""
    return sum(math.prod(s) for n, s in layer.weights if n.rsplit(".", 1)[-1] == "weights")


def _fan_in(layer):
    """Kernel floats per filter (per output channel, or per output when there are no channels)."""
    return max(1, kernel_floats(layer) // max(1, layer.out_shape[0] or layer.outputs))


def bn_darknet_floats(layer):
    """Output, delta, and with batch norm the l.x copy darknet's forward_batchnorm_layer makes even at inference."""
    return (3 if layer.opts.get("batch_normalize") else 2) * layer.outputs


class Kind(NamedTuple):
    what: str                # said when a family's value is not of this kind
    fits: Callable           # value -> bool


def _strings(v):
    return all(isinstance(x, str) for x in v)


FLAG = Kind("True or False", lambda v: isinstance(v, bool))
TEXT = Kind("a string", lambda v: isinstance(v, str))
TEXT_OR_NONE = Kind("a string or None", lambda v: v is None or isinstance(v, str))
HOOK = Kind("a function", callable)
HOOK_OR_NONE = Kind("a function or None", lambda v: v is None or callable(v))
OPTIONS = Kind("a set of option names", lambda v: isinstance(v, (set, frozenset)) and _strings(v))
DIALECT_NAMES = Kind(f"a tuple of dialect names ({', '.join(dialects.NAMES)})",
                     lambda v: isinstance(v, tuple) and bool(v) and set(v) <= set(dialects.NAMES))
OP_RULES = Kind(f"a dict {{aten op: one of {', '.join(TORCH_OP_RULES)}}}",
                lambda v: isinstance(v, dict) and _strings(v) and set(v.values()) <= set(TORCH_OP_RULES))

# name: (kind, default), the default neutral (what a family that does not declare it gets)
DECLARED = dict(
    TRANSPOSED=(FLAG, False),      # its "weights" matrices are stored (in, out) when the header's major or minor > 1000
    FAN_IN=(HOOK, _fan_in),        # FAN_IN(layer): the fan-in random weights are scaled by (weights.py)
    DONTLOADSCALES=(FLAG, False),  # dontloadscales=1 makes darknet's loader skip its batch-norm vectors
    NUMLOAD=(FLAG, False),         # numload=N makes darknet's loader read only its first N filters
    HEAD=(FLAG, False),            # an output head: a network with several returns each one's output (yolo)
    DETECTS=(FLAG, False),         # a detection head: its output holds box predictions a detector decodes
    # a detection head's decoding (darkbench/detect.py; numpy only, darkbench/boxes.py has what heads share):
    BOXES=(HOOK_OR_NONE, None),    # BOXES(layer, output, frame) -> boxes.Rows: its rows of darknet's detection
                                   # array from its output for one image (as darkbench's model gives it)
    ACTIVATE=(HOOK_OR_NONE, None),  # ACTIVATE(layer, x, dialect): its forward in numpy from its input (engines
                                   # such as OpenCV DNN give a head's input where their own head decodes boxes)
    NMS=(HOOK, lambda layer: ("default", 0.6)),  # NMS(layer) -> (the fork's nms_kind, beta_nms) when it is the
                                   # network's last head
    COST=(FLAG, False),            # training only: never the network output
    FUSE=(FLAG, False),            # its module folds a following batch norm in (module.fuse())
    TIE=(HOOK, lambda layer, modules: False),  # TIE(layer, modules): ties its module's parameters to an
                                   # earlier layer's (modules: every layer's, by index); True when it did. The
                                   # torch model calls it after building and after fusing; a tied module is
                                   # not fused itself (torch_model.py)
    TORCH_OPS=(OP_RULES, {}),      # {aten op: PER_OUTPUT...} its module runs beyond the common ones, for crosscheck
    UNCOUNTED_MACS=(HOOK, lambda layer: (0, "")),  # UNCOUNTED_MACS(layer) -> (MACs its module runs that its
                                   # analytic MACs leave out, what they are): crosscheck says "fvcore counts <what>"
    COLOR=(TEXT, "tab:gray"),      # its bars in the report's per-layer plot
    MARKER=(TEXT, "o"),            # its points in the report's roofline ("s": fully connected)
    DARKNET_TYPE=(TEXT_OR_NONE, None),  # darknet's LAYER_TYPE enum name, when it is not the section name in capitals
    WORKSPACE=(HOOK, lambda layer: 0),  # WORKSPACE(layer): bytes of scratch darknet's make_*_layer asks for
                                   # (l.workspace_size): footprint.py
    DARKNET_FLOATS=(HOOK, lambda layer: 2 * layer.outputs),  # DARKNET_FLOATS(layer): per image, what darknet's
                                   # inference touches for it: its output and the delta forward_network zeroes
                                   # before every layer (footprint.py)
    KEEP_FP32=(HOOK, lambda layer: {}),  # KEEP_FP32(layer) -> {ONNX op type: why}: its exported nodes (export.py
                                   # names them) of these types a quantizer must leave in fp32, nothing calibrated
                                   # at their inputs or outputs, and why (bench's int8)
    DIALECTS=(DIALECT_NAMES, dialects.NAMES),  # the dialects whose parser knows this section
    FORK_KEYS=(OPTIONS, frozenset()),      # options only the AlexeyAB fork reads: a cfg using one is read in its
                                           # dialect
    PJREDDIE_KEYS=(OPTIONS, frozenset()),  # options of KEYS only 2018 darknet reads (the fork ignores and warns
                                           # about them)
)
DEFAULTS = {name: default for name, (_, default) in DECLARED.items()}


def trait(family, name):
    """A family module's trait, or its default."""
    return getattr(family, name, DEFAULTS[name])


def problems(family):
    """What is wrong with a family module as a family (empty when nothing): the required names, then every
    upper-case name (NAMES, KEYS, a trait or one of VALUES; private constants start with '_'), then traits
    written in lower case."""
    out = []
    names = getattr(family, "NAMES", None)
    if not (isinstance(names, tuple) and names and _strings(names)):
        out.append(f"NAMES must be a tuple of section names, not {names!r}")
    if not OPTIONS.fits(getattr(family, "KEYS", None)):
        out.append("KEYS must be a set of option names")
    for fn in ("build", "module"):
        if not callable(getattr(family, fn, None)):
            out.append(f"{fn}() is missing")
    for name, value in vars(family).items():
        if name in ("NAMES", "KEYS") or name.startswith("_"):
            continue
        if name in DECLARED:
            kind = DECLARED[name][0]
            if not kind.fits(value):
                out.append(f"trait {name} must be {kind.what}, not {value!r}")
        elif name.isupper():
            if VALUES.get(name, object()) is value:
                continue
            near = difflib.get_close_matches(name, DECLARED, 1)
            out.append(f"unknown trait {name}" + (f" (did you mean {near[0]}?)" if near else "") +
                       "; a constant of the family's own starts with '_'")
        elif name.upper() in DECLARED and not isinstance(value, types.ModuleType):
            out.append(f"trait {name} is written {name.upper()}")
    return out
