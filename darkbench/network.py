"""cfg -> layer specs and totals, without torch: the analytic path."""
import os
import struct
from dataclasses import dataclass, field

from . import cfg as cfgmod
from . import dialect as dialects
from .errors import DarkbenchError
from .header import HEADER_BYTES
from .layers import family, trait
from .layers.base import Context, known_keys
from .paths import resolve

def _f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


NET_KEYS = {"batch", "subdivisions", "width", "height", "channels", "inputs", "time_steps",
            "learning_rate", "momentum", "decay", "policy", "steps", "scales", "max_batches",
            "burn_in", "power", "gamma", "step", "angle", "aspect", "saturation", "exposure", "hue",
            "max_crop", "min_crop", "center", "adam", "B1", "B2", "eps", "notruth", "random",
            "learning_rate_min", "batches_per_cycle", "batches_cycle_mult", "seen", "clip",
            "max_ratio", "min_ratio", "flip", "jitter", "rate", "sequential"}
# what the fork's parse_net_options reads (training, augmentation and schedule keys mostly)
FORK_NET_KEYS = {
    "max_batches", "batch", "learning_rate", "learning_rate_min", "sgdr_cycle", "sgdr_mult", "momentum", "decay",
    "subdivisions", "time_steps", "track", "augment_speed", "sequential_subdivisions", "try_fix_nan",
    "weights_reject_freq", "equidistant_point", "badlabels_rejection_percentage", "num_sigmas_reject_badlabels",
    "ema_alpha", "use_cuda_graph", "loss_scale", "dynamic_minibatch", "optimized_memory",
    "workspace_size_limit_MB", "adam", "B1", "B2", "eps", "height", "width", "channels", "inputs", "max_crop",
    "min_crop", "flip", "blur", "gaussian_noise", "mixup", "cutmix", "mosaic", "letter_box", "mosaic_bound",
    "contrastive", "contrastive_jit_flip", "contrastive_color", "unsupervised", "label_smooth_eps",
    "resize_step", "attention", "adversarial_lr", "max_chart_loss", "angle", "aspect", "saturation",
    "exposure", "hue", "power", "policy", "step", "scale", "steps", "scales", "seq_scales", "gamma",
    "burn_in", "show_receptive_field"}


def net_keys(dialect):
    return FORK_NET_KEYS if dialect == dialects.ALEXEYAB else NET_KEYS


@dataclass
class Network:
    path: str
    width: int
    height: int
    channels: int
    inputs: int
    layers: list
    net: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)  # unknown options etc.: returned, never printed here
    dialect: str = dialects.PJREDDIE  # the darknet whose rules it was read by (dialect.py)
    source: tuple = field(default=None, repr=False, compare=False)  # (width, height, text) it was read with

    # what this kind of network supports (see darkbench.models); a KerasNetwork says otherwise
    kind = "darknet"
    has_darknet_layers = True
    supports_weights = True
    supports_darknet_backend = True

    @property
    def name(self):
        return os.path.splitext(os.path.basename(self.path))[0]

    @property
    def bflops(self):
        """The AlexeyAB fork's Total BFLOPS: its per-layer BF summed in float32, as it sums them."""
        total = 0.0
        for l in self.layers:
            total = _f32(total + l.bflops)
        return total

    @property
    def ops(self):
        return sum(l.ops for l in self.layers)

    @property
    def macs(self):
        return sum(l.macs for l in self.layers)

    @property
    def params(self):
        return sum(l.params for l in self.layers)

    @property
    def weight_floats(self):
        return sum(l.weight_floats for l in self.layers if l.saved)

    @property
    def weights_bytes(self):
        return HEADER_BYTES + 4 * self.weight_floats

    @property
    def size_mib(self):
        return self.weights_bytes / 2 ** 20

    @property
    def output_index(self):
        """darknet's network output: the last layer that is not a cost layer."""
        for l in reversed(self.layers):
            if not l.trait("COST"):
                return l.index
        return len(self.layers) - 1

    @property
    def returned(self):
        """The layers whose outputs the built model returns, in order: every HEAD layer (yolo) when there are
        several, else the network output."""
        heads = [l.index for l in self.layers if l.trait("HEAD")]
        return heads if len(heads) > 1 else [self.output_index]

    @property
    def detection_heads(self):
        """The detection heads (the DETECTS trait) get_network_boxes reads, in layer order."""
        return [l for l in self.layers if l.trait("DETECTS")]

    def in_dialect(self, dialect):
        """The same cfg (text and size) read in another dialect."""
        width, height, text = self.source or (self.width, self.height, None)
        return analyse(self.path, width, height, text=text, dialect=dialect)

    def summary(self):
        """Totals with the conventions spelled out, as plain data."""
        return dict(cfg=self.path, width=self.width, height=self.height, channels=self.channels,
                    layers=len(self.layers), ops=self.ops, bn_ops=round(self.ops / 1e9, 2),
                    macs=self.macs, params=self.params, weight_floats=self.weight_floats,
                    weights_bytes=self.weights_bytes, size_mib=self.size_mib)


def analyse(path, width=None, height=None, text=None, dialect=dialects.AUTO):
    """Read a cfg (or its text) and infer every layer, in a darknet dialect (dialect.py; auto: the fork's
    when the cfg uses anything only the fork has). Raises DarkbenchError only."""
    path = os.fspath(path)
    if text is None:
        path = resolve(path)
    sections = cfgmod.parse(text, path) if text is not None else cfgmod.read(path)
    try:
        net = _build(sections, path, width, height, _dialect(sections, path, dialect))
        net.source = (width, height, text)
        return net
    except DarkbenchError:
        raise
    except (RecursionError, MemoryError, OverflowError) as e:  # absurd sizes
        raise DarkbenchError(f"cannot analyse: {type(e).__name__}", path) from None


def fork_only(sections):
    """(section, what) for the first thing in the cfg only the AlexeyAB fork reads, or None."""
    for sec in sections[1:]:
        fam = family(sec.name)
        if fam is None:
            continue
        if dialects.PJREDDIE not in trait(fam, "DIALECTS"):
            return sec, f"[{sec.name}]"
        for key in sec.options:
            if key in trait(fam, "FORK_KEYS"):
                return sec, f"[{sec.name}] {key}="
        if sec.options.get("activation", ("",))[0] in dialects.FORK_ACTIVATIONS:
            return sec, f"activation={sec.options['activation'][0]}"
    return None


def _dialect(sections, path, requested):
    try:
        dialects.check(requested)
    except ValueError as e:
        raise DarkbenchError(str(e), path) from None
    if requested != dialects.AUTO:
        return requested
    return dialects.ALEXEYAB if fork_only(sections) else dialects.PJREDDIE


def _build(sections, path, width, height, dialect):
    net = sections[0]
    if net.name not in ("net", "network"):
        raise DarkbenchError(f"first section is [{net.name}]; it must be [net] or [network]", path, net.line)
    for sec in sections[1:]:
        if sec.name in ("net", "network"):
            raise DarkbenchError(f"[{sec.name}] may only be the first section", path, sec.line)
    for key, v in (("width", width), ("height", height)):
        if v is not None and v <= 0:
            raise DarkbenchError(f"--{key} {v} must be > 0", path)
    h = height if height is not None else net.get_int("height", 0, min=0)
    w = width if width is not None else net.get_int("width", 0, min=0)
    c = net.get_int("channels", 0, min=0)
    inputs = net.get_int("inputs", h * w * c, min=0)
    if (width or height) and not c:
        raise DarkbenchError("--width/--height given but the cfg has no image input (channels=0)", path)
    if not inputs and not (h and w and c):
        raise DarkbenchError("[net] gives no input size: set width, height and channels (or inputs)",
                             path, net.line)
    if h * w * c > 1 << 34:
        raise DarkbenchError(f"input {w}x{h}x{c} is too large", path, net.line)
    netopts = dict(time_steps=net.get_int("time_steps", 1, min=1), batch=net.get_int("batch", 1),
                   subdivisions=net.get_int("subdivisions", 1))  # the fork's ops: batch/subdivisions*time_steps
    if dialect == dialects.ALEXEYAB:  # the fork's detector letterboxes images for such a network
        netopts["letter_box"] = net.get_int("letter_box", 0)
    ctx = Context(path=path, index=0, c=c, h=h, w=w, inputs=inputs, layers=[], net=netopts, dialect=dialect)
    warnings = [f"{path}:{net.options[k][1]}: [{net.name}] unknown option '{k}'"
                for k in net.options if k not in net_keys(dialect)]
    if len(sections) == 1:
        raise DarkbenchError("cfg has no layers after [net]", path, net.line)
    for sec in sections[1:]:
        fam = family(sec.name)
        if fam is None or dialect not in trait(fam, "DIALECTS"):
            only = "" if fam is None else f" in the {dialect} dialect (only {'/'.join(trait(fam, 'DIALECTS'))} has it)"
            raise DarkbenchError(f"unknown section [{sec.name}]{only}", path, sec.line, layer=ctx.index)
        ctx.reads_image = False
        sec.lenient = dialect == dialects.ALEXEYAB  # the fork's zoo relies on atoi's partial reads
        try:
            layer = fam.build(sec, ctx)
        except DarkbenchError as e:
            if e.layer is None:
                e.layer = ctx.index
                e.args = (e.format(),)
            raise
        known = known_keys(fam, dialect)
        who = "the AlexeyAB fork" if dialect == dialects.ALEXEYAB else "darknet"
        for k in sec.options:
            if k not in known:
                warnings.append(f"{path}:{sec.options[k][1]}: layer {ctx.index} [{sec.name}] "
                                f"unknown option '{k}' ({who} ignores it)")
        warnings += [f"{path}:{line}: layer {ctx.index} [{sec.name}] {msg}" for line, msg in sec.notes]
        ctx.layers.append(layer)
        warnings.extend(layer.warnings)
        ctx.index += 1
        ctx.c, ctx.h, ctx.w = layer.out_shape
        ctx.inputs = layer.outputs
        if ctx.inputs > 1 << 34:
            raise DarkbenchError(f"output of {ctx.inputs} values is too large", path, sec.line,
                                 layer=layer.index)
    if dialect == dialects.ALEXEYAB and not any(l.out_shape[1] > 1 and l.out_shape[2] > 1 for l in ctx.layers):
        raise DarkbenchError("no layer outputs an image larger than 1 pixel wide and high: the AlexeyAB fork "
                             "divides by zero on such a cfg (avg_outputs/avg_counter, SIGFPE); read it in the "
                             "pjreddie dialect", path)
    return Network(path=path, width=w, height=h, channels=c, inputs=inputs, layers=ctx.layers,
                   net=netopts, warnings=warnings, dialect=dialect)

