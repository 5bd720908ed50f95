"""[softmax] / [soft]: softmax over `groups` equal contiguous chunks of the flat input."""
from ..errors import DarkbenchError
from .traits import PER_INPUT, PER_OUTPUT

NAMES = ("softmax", "soft")
KEYS = {"groups", "temperature", "tree", "spatial", "noloss"}
TORCH_OPS = {"aten::softmax": PER_OUTPUT, "aten::log_softmax": PER_OUTPUT,
             "aten::scatter_add": PER_INPUT, "aten::scatter_reduce": PER_INPUT}


def build(sec, ctx):
    groups = sec.get_int("groups", 1)
    temp = sec.get_float("temperature", 1.0, positive=True)
    if groups <= 0 or ctx.inputs % groups:
        raise sec._err("groups", f"groups={groups} does not divide the {ctx.inputs} inputs")
    # darknet leaves out_w/h/c at 0: what follows sees a flat vector
    return ctx.layer(sec, "softmax", (0, 0, 0), outputs=ctx.inputs,
                     opts=dict(groups=groups, temperature=temp, tree=sec.get_str("tree"),
                               spatial=sec.get_float("spatial", 0.0)))


def read_tree(name, layer, net):
    """Group sizes of darknet's read_tree(): a line per node, "name parent"; a group is a run of equal parents."""
    import os
    import re
    if os.path.isabs(name):
        tries = [name]
    else:  # darknet opens it from its working directory; also try beside the cfg and its parent
        here = os.path.dirname(os.path.abspath(net.path))
        tries = [name, os.path.join(here, name), os.path.join(os.path.dirname(here), name)]
    path = next((p for p in tries if os.path.isfile(p)), None)
    if path is None:
        raise DarkbenchError(f"[{layer.type}] tree file {name} not found (looked in {', '.join(tries)})",
                             net.path, layer.line, layer.index)
    try:
        with open(path, errors="replace") as f:
            text = f.read()
    except OSError as e:
        raise DarkbenchError(f"[{layer.type}] cannot read tree file {path}: {e.strerror}",
                             net.path, layer.line, layer.index) from None
    lines = text.split("\n")
    if lines[-1] == "":  # fgetl: no line after the final newline
        lines.pop()
    sizes, last = [0], -1
    for line in lines:
        parts = line.split()
        m = re.match(r"[+-]?\d+", parts[1]) if len(parts) > 1 else None  # sscanf("%s %d"), -1 if absent
        parent = int(m.group()) if m else -1
        if parent != last:
            sizes.append(0)
            last = parent
        sizes[-1] += 1
    return [n for n in sizes if n]


def module(layer, net):
    import torch
    import torch.nn.functional as F
    from ..nn import Elementwise
    o = layer.opts
    g, t = o["groups"], o["temperature"]
    # spatial= changes only darknet's GPU path: its CPU forward (our oracle) ignores it
    if not o["tree"]:
        def softmax(x):
            n = x.shape[0]
            return (x.reshape(n, g, -1) / t).softmax(-1).reshape(n, -1)
        return Elementwise(softmax, f"groups={g}, temperature={t}")

    sizes = read_tree(o["tree"], layer, net)
    total = sum(sizes)
    if total > layer.inputs:
        raise DarkbenchError(f"[softmax] tree {o['tree']} has {total} nodes but the input only "
                             f"{layer.inputs} values", net.path, layer.line, layer.index)
    seg = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes, dtype=torch.long))
    rest = layer.inputs - total  # darknet never writes past the tree: zeros

    def tree_softmax(x):  # one softmax per sibling group, all groups at once
        x = x.flatten(1)[:, :total]
        idx = seg.to(x.device).expand_as(x)
        m = x.new_full((x.shape[0], len(sizes)), float("-inf")).scatter_reduce(1, idx, x, "amax")
        e = torch.exp((x - m.gather(1, idx)) / t)
        y = e / torch.zeros_like(m).scatter_add(1, idx, e).gather(1, idx)
        return F.pad(y, (0, rest)) if rest else y
    return Elementwise(tree_softmax, f"tree {o['tree']} ({len(sizes)} groups), temperature={t}")
