"""darknet's `classify`: letterbox to the network size, forward, top-k with labels."""
import os
import time

import numpy as np

from .errors import DarkbenchError
from .image import letterbox, load_color

DEFAULT_LABELS = "/usr/share/darknet/data/imagenet.shortnames.list"


def read_lines(path, what, option):
    """A file of names, one per line (trailing empty lines dropped), or one line naming what is wrong."""
    if not os.path.exists(path):
        raise DarkbenchError(f"no such {what} (give one with {option})", path)
    if os.path.isdir(path):
        raise DarkbenchError(f"is a directory, not a {what} (one class name per line)", path)
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = [line.rstrip("\r\n") for line in f]
    except OSError as e:
        raise DarkbenchError(f"cannot read {what}: {e.strerror or e}", path) from None
    while lines and not lines[-1]:
        lines.pop()
    return lines


def read_labels(path, n):
    """A given file must have one label per output; darknet's default list (21,842 ImageNet-22k short names,
    the 1,000-class ones first) may be longer, as darknet indexes its first n."""
    exact = path is not None
    path = path or DEFAULT_LABELS
    labels = read_lines(path, "label file", "--labels")
    if len(labels) < n or (exact and len(labels) != n):
        raise DarkbenchError(f"{len(labels)} labels but the network has {n} outputs", path)
    return labels


def top_k(probs, k):
    """Indices of the k largest values; ties go to the lower index, as darknet's top_k."""
    return list(np.argsort(-probs, kind="stable")[:k])


def check_single_output(model):
    """Refuse a network whose forward gives several outputs (yolo heads): there is no one vector to rank."""
    heads = getattr(model, "heads", ())
    if len(heads) > 1:
        raise DarkbenchError(f"classify needs a network with a single output; this one has {len(heads)} "
                             f"(yolo layers {', '.join(map(str, heads))})", model.spec.path)


def classify(model, image_path):
    """(probabilities, seconds) for one image, preprocessed exactly as darknet's classifier."""
    import torch
    if len(model.input_shape) != 3:
        raise DarkbenchError(f"the network has no image input ([net] gives inputs={model.input_shape[0]}, not "
                             "width, height and channels): nothing to classify an image with", model.spec.path)
    check_single_output(model)
    c, h, w = model.input_shape
    x = torch.from_numpy(letterbox(load_color(image_path), w, h))[None]
    t = time.perf_counter()
    with torch.inference_mode():
        y = model(x)
    return y.flatten().float().numpy(), time.perf_counter() - t
