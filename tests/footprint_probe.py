"""Measure a network's peak of live activations from outside the analysis: its PyTorch layers run one by one
in this process, each output freed after its last reader as footprint.py's liveness says, and the resident
set's high-water mark (VmHWM, reset through /proc/self/clear_refs) read around the forward pass.

Run by tests/test_footprint.py in a fresh interpreter: `python footprint_probe.py CFG WIDTH HEIGHT` prints JSON.
glibc must return freed blocks at once (MALLOC_MMAP_THRESHOLD_ fixed low, set by the caller), else freed
activations stay resident and the high-water mark counts them twice."""
import json
import sys

import torch

import darkbench
from darkbench.footprint import footprint, output_indices, producers


def _status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {key} in /proc/self/status")


def _reset_high_water():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def forward_freeing(model, net, outs, after=None):
    """Layers in order, an output dropped once its last reader ran (the outputs kept): the liveness pass.
    A layer whose output is a view of what it read (a one-source route, dropout) gets a copy, its own
    buffer as in darknet, which is what the analytic figure counts. after(i) is called once layer i ran."""
    reads, kept = producers(net), set(output_indices(net))
    last = {}
    for i, srcs in enumerate(reads):
        for s in srcs:
            last[s] = i
    for i, layer in enumerate(model.layers):
        prev = outs.get(i - 1)
        y = layer(model.input_of(i, prev) if prev is not None else None, outs)
        if any(y.untyped_storage().data_ptr() == t.untyped_storage().data_ptr() for t in outs.values()):
            y = y.clone()
        outs[i] = y
        prev = y = None
        for s in [s for s, j in last.items() if j == i and s not in kept]:
            del outs[s]
        if i not in last and i not in kept:
            del outs[i]
        if after:
            after(i)
    return outs


def measure(cfg, width, height):
    torch.set_num_threads(1)  # one thread: no per-thread scratch in the figure
    net = darkbench.analyse(cfg, width, height)
    model = darkbench.load(cfg, width=width, height=height, fuse=True)  # BN folded, activations in place

    def new_input():
        return {-1: torch.rand(1, *model.input_shape).contiguous(memory_format=torch.channels_last)}
    with torch.inference_mode():
        forward_freeing(model, net, new_input())  # warm-up: oneDNN's primitive caches, weight reorders
        outs = new_input()
        live = []
        _reset_high_water()
        base = _status("VmRSS")
        forward_freeing(model, net, outs, after=lambda i: live.append(_status("VmRSS") - base))
        high = _status("VmHWM")
    mem = footprint(net)
    # the input was resident before the reset: add it back to the deltas
    return dict(peak=high - base + mem.input_bytes, analytic_peak=mem.peak_activation_bytes,
                live=[v + mem.input_bytes for v in live], analytic_live=mem.live_bytes,
                peak_layer=mem.peak_layer, input_bytes=mem.input_bytes)


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))
