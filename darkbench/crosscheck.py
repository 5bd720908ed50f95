"""Analytic counts reconciled with fvcore and torch's FlopCounterMode, layer by layer."""
import warnings
from collections import Counter

from . import models
from .errors import DarkbenchError
from .layers import families, trait
from .layers.traits import MOVEMENT, PER_INPUT, PER_OUTPUT, PER_WINDOW

MM_OPS = ("conv", "linear", "addmm", "einsum", "matmul", "mm", "bmm")  # fvcore: 1 per multiply-accumulate

# fvcore counts conv/linear/matmul (1 per MAC) and batch norm; every other op it skips with a warning (or,
# like relu and clamp, on its ignore list) and counts 0. Our handles, so that no op is silently left out:
# these for the ops darkbench's shared torch code runs (activations, arithmetic, reshapes), the rest from
# each layer family's TORCH_OPS.
COMMON = {
    PER_OUTPUT: (  # activations, arithmetic, comparisons
        "aten::add", "aten::add_", "aten::sub", "aten::rsub", "aten::mul", "aten::mul_", "aten::div",
        "aten::div_", "aten::neg", "aten::sqrt", "aten::pow", "aten::exp", "aten::expm1", "aten::sigmoid",
        "aten::sigmoid_", "aten::tanh", "aten::tanh_", "aten::relu", "aten::relu_", "aten::leaky_relu",
        "aten::leaky_relu_", "aten::elu", "aten::gelu", "aten::silu", "aten::hardsigmoid", "aten::hardtanh",
        "aten::relu6", "aten::clamp", "aten::clamp_", "aten::floor", "aten::remainder", "aten::where",
        "aten::lt", "aten::le", "aten::gt", "aten::ge", "aten::eq", "aten::ne", "aten::maximum",
        "aten::minimum", "aten::softplus", "aten::mish", "aten::hardswish", "aten::log", "aten::log1p",
        "aten::abs"),  # the last line: the AlexeyAB fork's activations
    PER_INPUT: ("aten::mean", "aten::sum", "aten::amax"),
    PER_WINDOW: (),  # pooling: the families' own
    MOVEMENT: ("aten::pad", "aten::constant_pad_nd", "aten::cat", "aten::reshape", "aten::permute",
               "aten::flatten", "aten::view", "aten::contiguous", "aten::slice", "aten::clone",
               "aten::ones_like", "aten::to", "aten::expand_as"),
}


def _rules():
    """{rule: ops}: the common ops, then each family's in family order."""
    rules = {rule: list(ops) for rule, ops in COMMON.items()}
    for fam in families():  # each rule is one of COMMON's (checked when the family was registered)
        for op, rule in trait(fam, "TORCH_OPS").items():
            if op not in rules[rule]:
                rules[rule].append(op)
    return {rule: tuple(ops) for rule, ops in rules.items()}


RULES = _rules()

CONVENTIONS = (
    "darknet ops: darknet's numops, 2 per MAC, convolutional/connected/recurrent only. "
    "MACs: analytic multiply-accumulates. fvcore conv/linear: FlopCountAnalysis, 1 per MAC, no bias. "
    "fvcore BN: its eval-mode batch norm, 2 per element. fvcore other: ops fvcore skips, counted by "
    "darkbench's handles (" + "; ".join(f"{', '.join(o[6:] for o in ops[:3])}...: {rule}"
                               for rule, ops in RULES.items()) + "). "
    "FlopCounterMode: torch.utils.flop_counter, 2 per MAC, conv/matmul only. params: analytic, without "
    "batch-norm running statistics; fvcore params: fvcore.nn.parameter_count (parameters, no buffers); "
    "torch params: trainable parameters; .weights floats: what the layer stores in the .weights file.")


def _tensors(values):
    """Complete tensors of rank >= 1: rank-0 ones are traced shape arithmetic, not work."""
    return [v for v in values if v.isCompleteTensor() and v.type().sizes()]


def _numel(v):
    n = 1
    for d in v.type().sizes():
        n *= d
    return n


def _elementwise(inputs, outputs):
    return sum(_numel(o) for o in _tensors(outputs))


def _reduce(inputs, outputs):
    return max((_numel(v) for v in _tensors(inputs)), default=0)


def _pool(inputs, outputs):
    """window * outputs when the window is a traced constant; else every input read once."""
    node = inputs[1].node()
    if node.kind() == "prim::ListConstruct":  # how the tracer records kernel_size=[k, k]
        k = [v.toIValue() for v in node.inputs()]
    else:
        k = inputs[1].toIValue()
        k = list(k) if isinstance(k, (list, tuple)) else [k, k]
    if k and all(isinstance(v, int) for v in k):
        return _numel(outputs[0]) * k[0] * k[-1]
    return _numel(inputs[0])


def handles():
    """{aten op: fvcore handle} for the ops in RULES."""
    fns = {PER_OUTPUT: _elementwise, PER_INPUT: _reduce, PER_WINDOW: _pool, MOVEMENT: lambda i, o: 0}
    return {op: fns[rule] for rule, ops in RULES.items() for op in ops}


def crosscheck(name, width=None, height=None, dialect=None):
    """Per-layer rows and a totals row: analytic (darknet ops, MACs, params) vs fvcore vs FlopCounterMode."""
    path = models.resolve(name)
    if not models.traits(path).has_darknet_layers:
        raise DarkbenchError("crosscheck takes a darknet cfg; Keras models have no darknet layer counts", path)
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    model = models.load(path, width=width, height=height, dialect=dialect)
    x = torch.rand(1, *model.input_shape)
    with warnings.catch_warnings():
        # fvcore's import uses the deprecated torch.jit.script; tracing warns that shapes are constants
        warnings.simplefilter("ignore")
        from fvcore.nn import FlopCountAnalysis, parameter_count
        fa = FlopCountAnalysis(model, (x,)).set_op_handle(**handles())
        fa.unsupported_ops_warnings(False)
        fa.uncalled_modules_warnings(False)
        per_op = fa.by_module_and_operator()
    fv_params = parameter_count(model)
    with FlopCounterMode(display=False) as fcm, torch.no_grad():
        model(x)
    fc = fcm.get_flop_counts()
    rows, seen = [], set()
    for i, l in enumerate(model.spec.layers):
        mod = f"layers.{i}"
        # a share_index convolution holds another's tensors: count them once, where they are first (as fvcore)
        own = [p for p in model.layers[i].parameters() if id(p) not in seen]
        seen.update(id(p) for p in own)
        ops = per_op.get(mod, Counter())
        other = {k: v for k, v in ops.items() if v and k not in MM_OPS and k != "batch_norm"}
        row = dict(layer=i, type=l.type, darknet_ops=l.ops, macs=l.macs,
                   fvcore_mm=sum(v for k, v in ops.items() if k in MM_OPS), fvcore_bn=ops.get("batch_norm", 0),
                   fvcore_other=sum(other.values()),
                   flopcounter=sum(fc.get(f"{type(model).__name__}.{mod}", {}).values()),
                   params=l.params, fvcore_params=fv_params.get(mod, 0),
                   torch_params=sum(p.numel() for p in own if p.requires_grad),
                   torch_frozen=sum(p.numel() for p in own if not p.requires_grad),
                   file_floats=l.weight_floats if l.saved else 0,
                   fvcore_ops=dict(sorted(other.items(), key=lambda kv: -kv[1])),
                   fvcore_unsupported=dict(fa.unsupported_ops(mod)))
        # torch.jit's trace (fvcore's) drops what nothing reads; FlopCounterMode sees every executed op
        unread = not model.keep[i] and i < model.last
        row["reason"] = "; ".join((["fvcore's trace drops it: no later layer reads its output"] if unread and
                                   not (row["fvcore_mm"] or row["fvcore_other"]) else []) + _reasons(l, row))
        rows.append(row)
    keys = ("darknet_ops", "macs", "fvcore_mm", "fvcore_bn", "fvcore_other", "flopcounter", "params",
            "fvcore_params", "torch_params", "torch_frozen", "file_floats")
    total = {k: sum(r[k] for r in rows) for k in keys}
    unsupported = dict(fa.unsupported_ops())
    total.update(layer="total", type="", fvcore_unsupported=unsupported,
                 reason=f"fvcore total {fa.total():,} = conv/linear + BN + other" +
                 (f"; op not counted by fvcore: {_ops_text(unsupported)}" if unsupported else ""))
    return rows, total


def _ops_text(counts, most=3):
    items = [f"{k} {v:,}" for k, v in counts.items()]
    return ", ".join(items[:most]) + (f" +{len(items) - most} more" if len(items) > most else "")


def _reasons(l, r):
    """Why the columns of one row differ, in a few words each."""
    out = []
    macs = l.macs
    if macs or r["fvcore_mm"] or r["flopcounter"]:
        uncounted, what = l.trait("UNCOUNTED_MACS")(l)  # run by its module, left out of its MACs
        if r["fvcore_mm"] != macs and uncounted and uncounted == r["fvcore_mm"] - macs:
            out.append(f"fvcore counts {what}")
        elif r["fvcore_mm"] != macs:
            out.append(f"fvcore MACs differ by {r['fvcore_mm'] - macs:+,}")
        out.append("FlopCounterMode counts 2 per MAC" if r["flopcounter"] == 2 * macs
                   else f"FlopCounterMode differs from 2 per MAC by {r['flopcounter'] - 2 * macs:+,}")
        if l.ops != 2 * macs:
            out.append(f"darknet's ops leave [{l.type}] out" if not l.ops else "darknet ops differ from 2 per MAC")
    if r["fvcore_bn"]:
        out.append("fvcore counts batch norm in eval mode")
    if r["fvcore_other"]:
        out.append(f"activation/pool cost in our fvcore handles ({_ops_text(r['fvcore_ops'])}), "
                   "not in darknet ops or FlopCounterMode")
    if r["fvcore_unsupported"]:
        out.append(f"op not counted by fvcore: {_ops_text(r['fvcore_unsupported'])}")
    if r["torch_params"] != l.params:
        out.append(f"torch params differ by {r['torch_params'] - l.params:+,}")
    if r["fvcore_params"] != r["torch_params"]:
        out.append(f"fvcore params include {r['torch_frozen']:,} frozen ones" if
                   r["fvcore_params"] == r["torch_params"] + r["torch_frozen"] else
                   f"fvcore params differ from torch's by {r['fvcore_params'] - r['torch_params']:+,}")
    if not l.saved and l.weight_floats:
        out.append("dontsave=1: not in the .weights file")
    elif r["file_floats"] != r["fvcore_params"]:
        stats = l.weight_floats - l.params  # running mean and variance
        out.append("fvcore params exclude BN running stats" if r["file_floats"] - r["torch_params"] == stats
                   else f".weights floats differ from params by {r['file_floats'] - r['torch_params']:+,}")
    return out
