"""Reduced precisions as the engines deploy them, what the backends share: the images int8 calibrates on, the
nodes the layers keep in fp32 (their KEEP_FP32 trait, through export.kept_fp32), and the rule for what ran.

Every backend reads back from the graph its engine ran how many convolutions and matrix products (`convs`) ran
at the entry's dtype (`convs_at_dtype`): int8 with none quantized is an error, never a result called int8; fp16
that the engine casts back to fp32 everywhere is skipped, saying so."""
import glob
import os

import numpy as np

from ..errors import DarkbenchError
from .agreement import SAMPLE_IMAGES, detects
from .dtypes import DTYPES

CALIB_MAX = 100  # images calibrated on, at most (the first of the folder, sorted, or of the list, in its order)
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".tif", ".tiff", ".webp")


def default_calibration(config=None):
    """The images int8 calibrates on when --calib is not given: bench --data's (a folder or a .data file's
    valid= list, as calibration_images reads them), else darknet's sample images, as the agreement check uses."""
    return getattr(config, "data", None) or SAMPLE_IMAGES


def calibration_images(source):
    """The image paths of --calib: a folder (its images, sorted), a darknet .data file (its valid= list, as darkbench
    map reads it) or an image list (one path a line, relative to the working directory as darknet reads them), at
    most CALIB_MAX of them; or one image. One line naming the file (and line) for anything else."""
    from .. import mapeval
    source = os.fspath(source)
    if os.path.isdir(source):
        paths = sorted(p for p in glob.glob(os.path.join(source, "*")) if p.lower().endswith(IMAGE_EXTS))
        if not paths:
            raise DarkbenchError(f"no images ({', '.join(IMAGE_EXTS)}) to calibrate on in this folder", source)
        return paths[:CALIB_MAX]
    if not os.path.exists(source):
        raise DarkbenchError("no such calibration folder, image list or .data file", source)
    if source.lower().endswith(IMAGE_EXTS):
        return [source]
    if source.endswith(".data"):
        source = mapeval.read_data(source).valid
    return mapeval.read_list(source, "calibration list")[:CALIB_MAX]


def prepare_image(net, path):
    """One image as the network's input (3, h, w) float32: a detector's as its dialect's detector prepares it
    (detect.prepare: letterboxed, or resized in the fork's dialect), any other letterboxed as the agreement check
    prepares its inputs."""
    if detects(net):
        from ..detect import prepare
        return prepare(net, path).x
    from ..image import letterbox, load_color
    return letterbox(load_color(path), net.width, net.height)


def calibration_batches(model, batch, config=None):
    """(list of (batch, c, h, w) float32 arrays: the calibration images prepared for a bench Model, the last
    batch filled by cycling through them; what they are, in words). DarkbenchError where the model's input is
    not a 3-channel image."""
    net = model.net
    if not (net.channels == 3 and net.height and net.width):
        raise DarkbenchError("int8 calibrates on images: this model's input is not a 3-channel image", model.path)
    calib = getattr(config, "calib", None)
    source = calib or default_calibration(config)
    paths = calibration_images(source)
    xs = np.stack([prepare_image(net, p) for p in paths]).astype(np.float32)
    n = len(xs)
    batches = [xs[[(s + i) % n for i in range(batch)]] for s in range(0, n, batch)]
    how = "as its detector prepares them" if detects(net) else "letterboxed"
    return batches, f"{n} image(s) from {source}, {how}"


def ran(dtype, convs, at_dtype, fallback):
    """The entry's fields for what its engine ran: `convs` convolutions and matrix products, `at_dtype` of them
    at the dtype. int8 with none quantized is an error; a lower float precision the engine ran nowhere is
    skipped (Skip) with `fallback`, which says what ran instead."""
    from .backends.base import Skip
    if at_dtype == 0 and dtype != "fp32":
        what = f"none of the {convs} convolutions and matrix products ran in {dtype}: {fallback}"
        if DTYPES[dtype].quantized:
            raise DarkbenchError(f"{what} (not a result called {dtype})")
        raise Skip(what)
    return dict(convs=convs, convs_at_dtype=at_dtype)


def kept_texts(kept):
    """The record's kept_fp32: "node: why" for each node the layers keep in fp32 ({node: why})."""
    return [f"{node}: {why}" for node, why in kept.items()]
