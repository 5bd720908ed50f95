"""Analytic counts reconciled with fvcore and torch's FlopCounterMode, layer by layer."""
from collections import Counter

from . import models

MM_OPS = ("conv", "linear", "addmm", "einsum", "matmul", "bmm")  # fvcore's names for multiply-accumulate ops
# fvcore skips these with a warning; our handles count 1 per output element (pooling: window per output)
ELEMENTWISE = ("aten::add", "aten::add_", "aten::sub", "aten::mul", "aten::mul_", "aten::div", "aten::sqrt",
               "aten::pow", "aten::sigmoid", "aten::tanh", "aten::relu_", "aten::leaky_relu", "aten::leaky_relu_",
               "aten::where", "aten::softmax", "aten::expm1", "aten::clamp", "aten::floor", "aten::remainder",
               "aten::mean", "aten::sum", "aten::cumsum", "aten::upsample_nearest2d", "aten::avg_pool2d",
               "aten::elu", "aten::gelu", "aten::silu", "aten::hardsigmoid", "aten::relu6", "aten::amax")
FREE = ("aten::pad", "aten::constant_pad_nd", "aten::cat", "aten::reshape", "aten::permute", "aten::flatten",
        "aten::view", "aten::contiguous", "aten::slice", "aten::clone", "aten::ones_like", "aten::to")


def _numel(v):
    n = 1
    for d in v.type().sizes():
        n *= d
    return n


def _elementwise(inputs, outputs):
    return sum(_numel(o) for o in outputs if o.isCompleteTensor())


def _maxpool(inputs, outputs):
    """window * outputs when the window is a traced constant; else every input read once."""
    k = inputs[1].toIValue()
    k = list(k) if isinstance(k, (list, tuple)) else [k, k]
    if all(isinstance(v, int) for v in k):
        return _numel(outputs[0]) * k[0] * k[-1]
    return _numel(inputs[0])


def handles():
    h = {op: _elementwise for op in ELEMENTWISE}
    h.update({op: (lambda i, o: 0) for op in FREE})
    h["aten::max_pool2d"] = _maxpool
    return h


def crosscheck(name, width=None, height=None):
    """Per-layer rows and totals: analytic (darknet ops, MACs, params) vs fvcore vs FlopCounterMode."""
    import torch
    from fvcore.nn import FlopCountAnalysis
    from torch.utils.flop_counter import FlopCounterMode
    import darkbench
    model = darkbench.load(name, width=width, height=height)
    spec = model.spec
    x = torch.rand(1, *model.input_shape)
    fa = FlopCountAnalysis(model, (x,)).set_op_handle(**handles())
    fa.unsupported_ops_warnings(False)
    fa.uncalled_modules_warnings(False)
    per_op = fa.by_module_and_operator()
    with FlopCounterMode(display=False) as fcm, torch.no_grad():
        model(x)
    fc = fcm.get_flop_counts()
    rows = []
    for i, l in enumerate(spec.layers):
        ops = per_op.get(f"layers.{i}", Counter())
        fv_mm = sum(v for k, v in ops.items() if k in MM_OPS)
        fv_bn = ops.get("batch_norm", 0)
        fv_other = sum(ops.values()) - fv_mm - fv_bn
        fcm_n = sum(fc.get(f"{type(model).__name__}.layers.{i}", {}).values())
        tparams = sum(p.numel() for p in model.layers[i].parameters() if p.requires_grad)
        reasons = []
        if l.macs or fv_mm or fcm_n:
            reasons.append("MACs equal" if fv_mm == l.macs else f"MACs differ by {fv_mm - l.macs:+,}")
            reasons.append("FlopCounterMode = 2 per MAC" if fcm_n == 2 * l.macs
                           else f"FlopCounterMode differs from 2*MACs by {fcm_n - 2 * l.macs:+,}")
            if l.ops != 2 * l.macs:
                reasons.append("darknet's ops leave this layer out" if not l.ops else "darknet ops != 2*MACs")
        if fv_bn:
            reasons.append("fvcore counts batch norm in eval mode")
        if fv_other:
            reasons.append("activation/pool/elementwise cost (our fvcore handles: 1 per output element, "
                           "window per pooled output); darknet and FlopCounterMode count 0")
        if tparams != l.params:
            reasons.append(f"params differ by {tparams - l.params:+,}")
        rows.append(dict(layer=i, type=l.type, darknet_ops=l.ops, macs=l.macs, fvcore_mm=fv_mm,
                         fvcore_bn=fv_bn, fvcore_other=fv_other, flopcounter=fcm_n, params=l.params,
                         torch_params=tparams, reason="; ".join(reasons)))
    total = {k: sum(r[k] for r in rows) for k in ("darknet_ops", "macs", "fvcore_mm", "fvcore_bn", "fvcore_other",
                                                  "flopcounter", "params", "torch_params")}
    total.update(layer="total", type="", reason=f"fvcore total {fa.total():,} (1 per MAC + batch norm + handles)")
    return rows, total


def path_of(name):
    return models.resolve(name)
