"""darknet's `classify`: letterbox to the network size, forward, top-k with labels."""
import os
import time

import numpy as np

from .errors import DarkbenchError
from .image import letterbox, load_color

DEFAULT_LABELS = "/usr/share/darknet/data/imagenet.shortnames.list"


def read_labels(path, n):
    """A given file must have one label per output; darknet's default list (21,842 ImageNet-22k short names,
    the 1,000-class ones first) may be longer, as darknet indexes its first n."""
    exact = path is not None
    path = path or DEFAULT_LABELS
    if not os.path.exists(path):
        raise DarkbenchError("no such label file (give one with --labels)", path)
    with open(path, encoding="utf-8", errors="replace") as f:
        labels = [line.rstrip("\r\n") for line in f]
    while labels and not labels[-1]:
        labels.pop()
    if len(labels) < n or (exact and len(labels) != n):
        raise DarkbenchError(f"{len(labels)} labels but the network has {n} outputs", path)
    return labels


def top_k(probs, k):
    """Indices of the k largest values; ties go to the lower index, as darknet's top_k."""
    return list(np.argsort(-probs, kind="stable")[:k])


def classify(model, image_path):
    """(probabilities, seconds) for one image, preprocessed exactly as darknet's classifier."""
    import torch
    if len(model.input_shape) != 3:
        raise DarkbenchError(f"the network has no image input ([net] gives inputs={model.input_shape[0]}, not "
                             "width, height and channels): nothing to classify an image with", model.spec.path)
    c, h, w = model.input_shape
    x = torch.from_numpy(letterbox(load_color(image_path), w, h))[None]
    t = time.perf_counter()
    with torch.inference_mode():
        y = model(x)
    return y.flatten().float().numpy(), time.perf_counter() - t
