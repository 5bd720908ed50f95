"""darknet .weights files: header variants, per-layer order from the layer specs, strict sizes."""
import os
import struct

import numpy as np

from . import files
from .errors import DarkbenchError
from .header import DEFAULT_HEADER, HEADER_BYTES, header_size  # noqa: F401 (HEADER_BYTES for callers)
from .layers.base import INITIAL


def is_transposed(header):
    return header["major"] > 1000 or header["minor"] > 1000


def _transposed(layer, name, header):
    """Families with TRANSPOSED store their matrices (in, out) under a header with major or minor > 1000
    (those inside recurrent layers too)."""
    return name.rsplit(".", 1)[-1] == "weights" and layer.trait("TRANSPOSED") and is_transposed(header)


def read_header(path):
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
    hsize = header_size(major, minor)
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


def _misfit(net, h, body, want):
    got = f"{body // 4} floats" + (f" and {body % 4} stray bytes" if body % 4 else "")
    more = "too short" if body < 4 * want else "bytes left over"
    why = ""
    if _floats(save_layout(net)) != want and body == 4 * _floats(save_layout(net)):
        why = ("; it is the size darknet saves, but darknet's loader reads dontsave=1 layers and skips "
               "dontload/dontloadscales ones, so darknet would misread it")
    return (f"does not fit {net.path}: expected {want} floats after the {h['header_bytes']}-byte header, "
            f"found {got} ({more}){why}")


def read(path, net):
    """Header and [(layer, name, array)] in the order darknet's loader reads them; raises before anything
    is used if the size is off or the cfg asks darknet's loader for what cannot be reproduced."""
    path = os.fspath(path)
    check_loadable(net)
    h = read_header(path)
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
    hsize = header_size(h["major"], h["minor"])
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
        fan_in = l.trait("fan_in")(l)
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
