"""darknet .weights files: header variants, per-layer order from the layer specs, strict sizes."""
import os
import struct

import numpy as np

from . import files
from .errors import DarkbenchError

DEFAULT_HEADER = dict(major=0, minor=2, revision=0, seen=0)
# connected matrices (also those inside recurrent layers) are stored (in, out) when major or minor > 1000
TRANSPOSED = ("connected", "rnn", "gru", "lstm")


def header_size(major, minor):
    return 12 + (8 if major * 10 + minor >= 2 and major < 1000 and minor < 1000 else 4)


def is_transposed(header):
    return header["major"] > 1000 or header["minor"] > 1000


def _transposed(layer, name, header):
    return name.rsplit(".", 1)[-1] == "weights" and layer.type in TRANSPOSED and is_transposed(header)


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


def expected_floats(net):
    return sum(l.weight_floats for l in net.layers if l.saved)


def read(path, net):
    """Header and [(layer, name, array)] in file order; raises before anything is used if the size is off."""
    path = os.fspath(path)
    h = read_header(path)
    want = expected_floats(net)
    body = h["file_bytes"] - h["header_bytes"]
    if body != 4 * want:
        got = f"{body // 4} floats" + (f" and {body % 4} stray bytes" if body % 4 else "")
        more = "too short" if body < 4 * want else "bytes left over"
        raise DarkbenchError(f"does not fit {net.path}: expected {want} floats after the "
                             f"{h['header_bytes']}-byte header, found {got} ({more})", path)
    data = np.fromfile(path, dtype="<f4", offset=h["header_bytes"])
    out, pos = [], 0
    for l in net.layers:
        if not l.saved:
            continue
        for name, shape in l.weights:
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
    tensors = {(l.index, name): t for l, name, t in model.named_weights()}
    with torch.no_grad():
        for l, name, a in arrays:
            t = tensors[(l.index, name)]
            t.copy_(torch.from_numpy(np.ascontiguousarray(a)).reshape(t.shape))
    model.weights_header = {k: h[k] for k in DEFAULT_HEADER}


def write(path, net, arrays, header=None, overwrite=False):
    """arrays: {(layer index, name): ndarray} for every saved weight; written atomically, only ever over a
    regular file (see files.target)."""
    path = os.fspath(path)
    files.target(path, overwrite)  # refused before anything is converted
    h = dict(DEFAULT_HEADER, **(header or {}))
    hsize = header_size(h["major"], h["minor"])
    parts = [struct.pack("<3i", h["major"], h["minor"], h["revision"]),
             struct.pack("<Q" if hsize == 20 else "<I", h["seen"])]
    for l in net.layers:
        if not l.saved:
            continue
        for name, shape in l.weights:
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
        fan_in = max(1, (l.weight_floats - sum(int(np.prod(s)) for n, s in l.weights
                                               if n.rsplit(".", 1)[-1] != "weights"))
                     // max(1, l.outputs if l.type == "local" else l.out_shape[0] or l.outputs))
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
