"""Per-layer time: each layer run alone on cached inputs, joined with the analytic FLOPs and bytes, so each
layer gets a roofline position (achieved GFLOP/s, % of the measured GEMM peak, FLOP per byte)."""
import numpy as np

from ..errors import DarkbenchError
from .backends.torchbase import batch_input, model_on
from .dtypes import DTYPES


def traffic(l, batch=1, dtype="fp32"):
    """(flops, bytes) of an analytic layer at this batch and dtype: activations scale with the batch,
    weights do not; the analytic byte counts are fp32 at batch 1."""
    weights = 4 * l.weight_floats
    acts = l.bytes_read + l.bytes_written - weights
    size = DTYPES[dtype].item_bytes / 4
    return 2 * l.macs * batch, int(size * (batch * acts + weights))


def per_layer(model, device, dtype, batch, timed, fuse=False, peak_gflops=None, budget_s=0.05):
    """One row per darknet layer of a bench Model: median ms over enough calls to fill about budget_s (5..50
    calls)."""
    import torch
    built = model_on(model, device, dtype, fuse)
    spec = getattr(built, "spec", None)
    if not hasattr(built, "layer_outputs") or len(getattr(spec, "layers", ())) != len(built.layers):
        raise DarkbenchError("per-layer timing needs a darknet cfg")
    x = batch_input(built.input_shape, batch, device, dtype, channels_last=True)
    rows = []
    with torch.inference_mode():
        outs = built.layer_outputs(x)  # cached inputs: every layer sees what the whole forward gives it
        for i, (layer, l) in enumerate(zip(built.layers, spec.layers)):
            inp = built.input_of(i, x if i == 0 else outs[i - 1])

            def fn(layer=layer, inp=inp):
                layer(inp, outs)
            first = max(timed(fn), timed(fn))
            reps = int(min(50, max(5, budget_s * 1000 / max(first, 1e-3))))
            ms = float(np.median([timed(fn) for _ in range(reps)]))
            flops, nbytes = traffic(l, batch, dtype)
            gflops = flops / ms / 1e6 if ms > 0 else 0.0
            rows.append(dict(index=l.index, type=l.type, median_ms=ms, flops=flops, bytes=nbytes,
                             intensity=flops / nbytes if nbytes else 0.0, gflops=gflops,
                             pct_peak=100 * gflops / peak_gflops if peak_gflops else None))
    del outs, built
    return rows
