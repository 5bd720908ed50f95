"""darknet .weights files: header variants, per-layer order from the layer specs, strict sizes."""
import os
import struct

import numpy as np

from . import files
from .errors import DarkbenchError
from .header import DEFAULT_HEADER, HEADER_BYTES, header_size  # noqa: F401 (HEADER_BYTES for callers)
from .layers.loading import INITIAL


def is_transposed(header):
    return header["major"] > 1000 or header["minor"] > 1000


def _transposed(layer, name, header):
    """Families with TRANSPOSED store their matrices (in, out) under a header with major or minor > 1000
    (those inside recurrent layers too)."""
    return name.rsplit(".", 1)[-1] == "weights" and layer.trait("TRANSPOSED") and is_transposed(header)


def read_header(path, dialect="pjreddie"):
    """The header's fields as `dialect`'s darknet reads them (they differ on the size of seen only)."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(20)
    except FileNotFoundError:
        raise DarkbenchError("no such weights file", path) from None
    except IsADirectoryError:
        raise DarkbenchError("is a directory, not a weights file", path) from None
    except OSError as e:
        raise DarkbenchError(f"cannot read weights: {e.strerror}", path) from None
    if len(head) < 16:
        raise DarkbenchError(f"not a darknet weights file: {size} bytes is shorter than any header", path)
    major, minor, revision = struct.unpack("<3i", head[:12])
    if min(major, minor, revision) < 0:
        raise DarkbenchError(f"not a darknet weights file: header version {major}.{minor}.{revision}", path)
    hsize = header_size(major, minor, dialect)
    if len(head) < hsize:
        raise DarkbenchError("not a darknet weights file: truncated header", path)
    seen = struct.unpack("<Q" if hsize == 20 else "<I", head[12:hsize])[0]
    return dict(major=major, minor=minor, revision=revision, seen=seen, header_bytes=hsize, file_bytes=size)


def save_layout(net):
    """[(layer, name, shape)] as darknet's save_weights writes them: dontsave=1 layers left out."""
    return [(l, name, shape) for l in net.layers if l.saved for name, shape in l.weights]


def load_layout(net):
    """[(layer, name, shape)] as darknet's load_weights reads them: every layer (it ignores dontsave),
    less what dontload/dontloadscales skip."""
    return [(l, name, shape) for l in net.layers for name, shape in l.weights if name not in l.unloaded]


def _floats(layout):
    return sum(int(np.prod(shape)) for _, _, shape in layout)


def expected_floats(net):
    return _floats(load_layout(net))


def check_loadable(net):
    """Refuse options whose effect on darknet's loader darkbench cannot reproduce."""
    for l in net.layers:
        if l.load_error and l.weights:
            raise DarkbenchError(f"[{l.type}] {l.load_error}; darkbench refuses to load weights for it "
                                 "(analysis works)", net.path, l.line, l.index)


def _layer_floats(layout):
    """[(layer, floats)] per layer with weights, in load order."""
    out = []
    for l, _, shape in layout:
        n = int(np.prod(shape))
        if out and out[-1][0] is l:
            out[-1] = (l, out[-1][1] + n)
        else:
            out.append((l, n))
    return out


def _where(l):
    return f"layer {l.index} [{l.type}]"


def _first_difference(net, other):
    """The first layer the two readings of a cfg store a different number of floats for, as words."""
    mine, theirs = _layer_floats(load_layout(net)), _layer_floats(load_layout(other))
    a, b = dict((l.index, n) for l, n in mine), dict((l.index, n) for l, n in theirs)
    for i in sorted(set(a) | set(b)):
        if a.get(i, 0) != b.get(i, 0):
            l = net.layers[i]
            return (f"{_where(l)} is the first layer darknet would misread ({net.dialect}: {a.get(i, 0)} floats there, "
                    f"{other.dialect}: {b.get(i, 0)})")
    return "the layers' counts agree, the file does not"


def _diagnosis(net, h, floats):
    """Why a file of `floats` floats does not fit net: written for the other dialect (it fits the cfg read
    there: the first layer read differently), or where darknet's loader runs out of floats."""
    from . import dialect as dialects
    other = dialects.ALEXEYAB if net.dialect == dialects.PJREDDIE else dialects.PJREDDIE
    try:
        again = net.in_dialect(other) if hasattr(net, "in_dialect") else None
    except DarkbenchError:
        again = None
    if again is not None:
        body = h["file_bytes"] - header_size(h["major"], h["minor"], other)
        if body == 4 * expected_floats(again):
            return (f"; it fits the cfg read in the {other} dialect ({expected_floats(again)} floats, "
                    f"{dialects.WRITERS[other]}'s layout): {_first_difference(net, again)}")
    pos = 0
    for l, n in _layer_floats(load_layout(net)):
        if pos + n > floats:
            return (f"; darknet's loader would run out of floats in {_where(l)} (its floats {pos} to "
                    f"{pos + n}, the file has {floats}); a file for a different cfg may be misread earlier")
        pos += n
    return (f"; darknet's loader would read every layer and leave {floats - pos} floats unread (written for a "
            "different cfg?)")


def _misfit(net, h, body, want):
    got = f"{body // 4} floats" + (f" and {body % 4} stray bytes" if body % 4 else "")
    more = "too short" if body < 4 * want else "bytes left over"
    why = ""
    if _floats(save_layout(net)) != want and body == 4 * _floats(save_layout(net)):
        why = ("; it is the size darknet saves, but darknet's loader reads dontsave=1 layers and skips "
               "dontload/dontloadscales ones, so darknet would misread it")
    else:
        why = _diagnosis(net, h, body // 4)
    return (f"does not fit {net.path} (read in the {net.dialect} dialect): expected {want} floats after the "
            f"{h['header_bytes']}-byte header, found {got} ({more}){why}")


def read(path, net):
    """Header and [(layer, name, array)] in the order darknet's loader reads them; raises before anything
    is used if the size is off or the cfg asks darknet's loader for what cannot be reproduced."""
    path = os.fspath(path)
    check_loadable(net)
    h = read_header(path, net.dialect)
    layout = load_layout(net)
    want = _floats(layout)
    body = h["file_bytes"] - h["header_bytes"]
    if body != 4 * want:
        raise DarkbenchError(_misfit(net, h, body, want), path)
    data = np.fromfile(path, dtype="<f4", offset=h["header_bytes"])
    out, pos = [], 0
    for l, name, shape in layout:
        n = int(np.prod(shape))
        a = data[pos:pos + n]
        pos += n
        if _transposed(l, name, h):
            a = a.reshape(shape[1], shape[0]).T
        out.append((l, name, a.reshape(shape)))
    return h, out


def load_into(model, path):
    import torch
    h, arrays = read(path, model.spec)
    tensors = {(l.index, name): t for l, name, t in model.named_weights(saved_only=False)}
    with torch.no_grad():
        for l, name, a in arrays:
            t = tensors[(l.index, name)]
            t.copy_(torch.from_numpy(np.ascontiguousarray(a)).reshape(t.shape))
        for l in model.spec.layers:  # what darknet's loader skipped keeps the value darknet made it with
            for name in l.unloaded:
                tensors[(l.index, name)].fill_(INITIAL[name.rsplit(".", 1)[-1]])
    model.weights_header = {k: h[k] for k in DEFAULT_HEADER}


def write(path, net, arrays, header=None, overwrite=False, for_loading=False):
    """arrays: {(layer index, name): ndarray} for every weight; written atomically. As darknet's
    save_weights lays the file out, or with for_loading as its loader reads it (the two differ only
    for dontsave/dontload/dontloadscales)."""
    path = os.fspath(path)
    files.target(path, overwrite)  # refused before anything is converted
    h = dict(DEFAULT_HEADER, **(header or {}))
    if header is None and getattr(net, "dialect", None) == "alexeyab":  # as the fork writes it: auto reads it back so
        h["revision"] = 5
    hsize = header_size(h["major"], h["minor"], getattr(net, "dialect", "pjreddie"))
    parts = [struct.pack("<3i", h["major"], h["minor"], h["revision"]),
             struct.pack("<Q" if hsize == 20 else "<I", h["seen"])]
    for l, name, shape in (load_layout if for_loading else save_layout)(net):
        a = np.asarray(arrays[(l.index, name)], dtype="<f4").reshape(shape)
        if _transposed(l, name, h):
            a = a.T
        parts.append(np.ascontiguousarray(a).tobytes())
    files.write(path, parts, overwrite, suffix=".weights")


def save_from(model, path, overwrite=False):
    arrays = {(l.index, name): t.detach().cpu().numpy() for l, name, t in model.named_weights()}
    write(path, model.spec, arrays, getattr(model, "weights_header", None), overwrite)


def random_arrays(net, seed=0):
    """Plausible random weights: fan-in scaled kernels, non-trivial BN statistics, positive variances."""
    rng = np.random.default_rng(seed)
    out = {}
    for l in net.layers:
        fan_in = l.trait("FAN_IN")(l)
        for name, shape in l.weights:
            base = name.rsplit(".", 1)[-1]
            if base == "weights":
                a = rng.uniform(-1, 1, shape) * np.sqrt(3.0 / fan_in)
            elif base == "rolling_variance":
                a = rng.uniform(0.5, 1.5, shape)
            elif base == "scales":
                a = rng.uniform(0.5, 1.5, shape)
            else:  # biases, rolling_mean
                a = rng.uniform(-0.2, 0.2, shape)
            out[(l.index, name)] = a.astype("<f4")
    return out
