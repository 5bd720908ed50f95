"""Detections as darknet makes them, dialect by dialect, from a darkbench model or another engine's outputs.

2018 darknet (`darknet detect`): the image letterboxed to the network's size; get_network_boxes (each head's
rows, boxes corrected for the letterbox) and do_nms_sort. The AlexeyAB fork (`darknet detector test`/`map`):
the image resized (letterboxed only with [net] letter_box=1 or when asked), the same rows per head with its own
decoding, NMS by the nms_kind and beta_nms of its last head. Each head decodes itself (its family's `boxes`
trait BOXES, numpy; darkbench/boxes.py has what they share); NMS is darkbench/nms.py.

    network_boxes(model, image, thresh)      one image -> Detections (darknet's detection array after NMS)
    each_network_boxes(model, images, ...)   many images, forward passes batched -> Detections each
    detect(model, images, thresh=.25)        per image a list of Detection, as darknet prints them
"""
import contextlib
import os
import sys
import types
from dataclasses import dataclass

import numpy as np

from .image import floats, letterbox, load_rgb8, resize, resize_rgb8
from . import models
from .classify import read_lines
from .dialect import ALEXEYAB, PJREDDIE
from .errors import DarkbenchError
from .layers import families, trait
from .boxes import F32, Frame
from .nms import suppress

NAMES_DIR = "/usr/share/darknet/data"  # darknet's installed class lists (coco.names, voc.names, ...)
JSON_THRESH = 0.005  # the fork's detection_to_json lists classes above this
THRESH = {PJREDDIE: .5, ALEXEYAB: .25}  # each program's default -thresh (2018's detect, the fork's detector test)


@dataclass
class Detections:
    """One image's detections after NMS: darknet's detection array, rows whose every probability is 0 left
    out, in the order darknet leaves the array.

    boxes: (n, 4) float64 x, y, w, h: box centre and size relative to the image (0..1), as get_network_boxes
    gives them after the dialect's box correction; objectness (n,); probs (n, classes) float32, 0 at or below
    thresh and where NMS suppressed the class; uncertainty (n, 4) (Gaussian_yolo's tx, ty, tw, th) or None."""
    boxes: np.ndarray
    objectness: np.ndarray
    probs: np.ndarray
    width: int               # the image's size in pixels
    height: int
    thresh: float
    letter_box: bool         # the image was letterboxed (else resized)
    dialect: str
    nms_kind: str            # "default" (do_nms_sort), the fork's "greedynms", "diounms", "cornersnms"; "" none
    uncertainty: np.ndarray = None

    def pixels(self):
        """(n, 4) float64 left, top, width, height in the image's pixels."""
        b = self.boxes
        return np.stack([(b[:, 0] - b[:, 2] / 2) * self.width, (b[:, 1] - b[:, 3] / 2) * self.height,
                         b[:, 2] * self.width, b[:, 3] * self.height], 1)


@dataclass(frozen=True)
class Detection:
    """One class of one box above the threshold, as darknet prints it. box: (left, top, width, height) in the
    image's pixels (the fork's -ext_output left_x, top_y, width, height, unrounded); row: its row in the
    image's Detections."""
    class_id: int
    name: str
    prob: float
    box: tuple
    row: int = -1


@dataclass
class Prepared:
    """An image as a dialect's detector feeds it to the network."""
    x: np.ndarray            # (c, h, w) float32: the network's input
    width: int               # the image's own size
    height: int
    letter: bool


# -- the network's heads ---------------------------------------------------------------------------------
def heads(net):
    """The detection heads, refused in one line when there are none or their class counts differ."""
    found = net.detection_heads
    if not found:
        kinds = ", ".join(f"[{f.NAMES[0]}]" for f in families() if trait(f, "DETECTS"))
        raise DarkbenchError(f"the network has no detection head ({kinds}): nothing to detect with", net.path)
    counts = {l.opts["classes"] for l in found}
    if len(counts) > 1:
        raise DarkbenchError("its detection heads have different class counts (" + ", ".join(
            f"layer {l.index}: {l.opts['classes']}" for l in found) + ")", net.path)
    if net.channels != 3 or not (net.width and net.height):
        raise DarkbenchError(f"detection needs a 3-channel image input; [net] gives channels={net.channels}, "
                             f"width={net.width}, height={net.height}", net.path)
    return found


def classes(net):
    return heads(net)[-1].opts["classes"]


def letters(net, letter_box=None):
    """Whether the dialect's detector letterboxes: 2018 always; the fork with [net] letter_box=1."""
    if letter_box is not None:
        return bool(letter_box)
    return net.dialect != ALEXEYAB or bool(net.net.get("letter_box"))


def prepare(net, image, letter_box=None):
    """Prepared input for one image (a path, or a (3, H, W) float32 array in [0, 1] as image.load_color gives)."""
    letter = letters(net, letter_box)
    size = (net.width, net.height)
    if isinstance(image, (str, os.PathLike)):
        pixels = load_rgb8(image)
        if not letter:  # the fork's detector map: straight from the bytes, channels-last as the network takes it
            return Prepared(resize_rgb8(pixels, *size), pixels.shape[1], pixels.shape[0], letter)
        im = floats(pixels)
    else:
        im = np.asarray(image, dtype=F32)
    x = letterbox(im, *size) if letter else resize(im, *size)
    return Prepared(x, im.shape[2], im.shape[1], letter)


@dataclass
class Candidates:
    """One image's detection array before NMS (every head's rows, in darknet's order) and how its dialect
    suppresses: the two halves of decode() apart, so the pipeline (darkbench/bench/pipeline.py) times them."""
    boxes: np.ndarray        # (n, 4) float32
    objectness: np.ndarray
    probs: np.ndarray
    uncertainty: np.ndarray  # or None
    prepared: Prepared
    thresh: float
    dialect: str
    nms_kind: str            # the last head's NMS trait: the fork's nms_kind, 2018's do_nms_sort
    beta: float


def head_rows(net, outputs, prepared, thresh, hier_thresh=.5):
    """Every head's rows (get_network_boxes) from one image's head outputs: {head layer index: its output (any
    shape, batch of one or none)}."""
    found = heads(net)
    frame = Frame(prepared.width, prepared.height, net.width, net.height, prepared.letter, thresh, net.dialect,
                  hier_thresh)
    missing = [l.index for l in found if l.index not in outputs]
    if missing:
        raise DarkbenchError(f"no outputs given for detection heads {missing}", net.path)
    rows = [l.trait("BOXES")(l, np.asarray(outputs[l.index]).reshape(-1), frame) for l in found]
    boxes = np.concatenate([r.boxes for r in rows]).reshape(-1, 4)
    objectness = np.concatenate([r.objectness for r in rows]).astype(F32)
    probs = np.concatenate([r.probs for r in rows]).astype(F32)
    uncertain = any(r.uncertainty is not None for r in rows)
    unc = np.concatenate([r.uncertainty if r.uncertainty is not None else np.full((len(r.boxes), 4), np.nan, F32)
                          for r in rows]) if uncertain else None
    kind, beta = found[-1].trait("NMS")(found[-1])  # the fork: its last head's; 2018: always do_nms_sort
    return Candidates(boxes, objectness, probs, unc, prepared, thresh, net.dialect, kind, beta)


def suppressed(c, nms=.45):
    """Detections after the dialect's NMS (none when nms is 0); c.probs is changed in place."""
    if nms:
        order, kind = suppress(c.boxes, c.objectness, c.probs, nms, c.nms_kind, c.beta), c.nms_kind
    else:
        order, kind = np.arange(len(c.boxes)), ""
    order = order[(c.probs[order] != 0).any(axis=1)]
    p = c.prepared
    return Detections(c.boxes[order].astype(np.float64), c.objectness[order], c.probs[order], p.width, p.height,
                      c.thresh, p.letter, c.dialect, kind, c.uncertainty[order] if c.uncertainty is not None else None)


def decode(net, outputs, prepared, thresh, hier_thresh=.5, nms=.45):
    """Detections from one image's head outputs: {head layer index: its output (any shape, batch of one or
    none)}; every head's rows (get_network_boxes), then the dialect's NMS (none when nms is 0)."""
    return suppressed(head_rows(net, outputs, prepared, thresh, hier_thresh), nms)


# -- running a network: darkbench's model, or an engine given by the caller -------------------------------
class Engine:
    """darkbench's own model ready to run on prepared batches: engine(x) for x (N, c, h, w) float32 ->
    {head layer index: (N, ...) array}. model: a cfg path (with weights) or a loaded darkbench model.
    Another engine (a bench backend: darkbench/bench/heads.py) has the same shape: `net`, `batch`, a call,
    close(); the functions below take one as `engine=`."""
    name = "darkbench"  # what ran the network, as results say it: darkbench's own PyTorch model, in this process
    concurrent = True  # calls from several threads at once are safe (see side_by_side)

    def __init__(self, model, weights=None, dialect=None, batch=8):
        self.batch = batch
        if _is_path(model):
            if weights is None:
                raise DarkbenchError("a cfg needs its weights (weights=) to detect with", model)
            self.net = models.analyse(model, dialect=dialect, weights=weights)
            heads(self.net)  # before the weights are read: a network without heads is refused as such
            self.model = models.load(model, weights, dialect=dialect)
        else:
            self.model, self.net = model, model.spec
            heads(self.net)

    def __call__(self, x):
        return _eager(self.model, np.asarray(x, dtype=F32))  # in its layout: a channels-last one is not copied

    @contextlib.contextmanager
    def side_by_side(self):
        """Calls from several threads at once, each computed on its own thread: torch's intra-op threads set to
        one meanwhile (restored after). On a few cores, images side by side keep every core busy where one
        image's small layers, split across cores, wait on each other."""
        import torch
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield threads
        finally:
            torch.set_num_threads(threads)

    def close(self):
        self.model = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@contextlib.contextmanager
def running(model, weights, dialect, batch, engine):
    """The engine given (left open: it is the caller's), else darkbench's own model for this call."""
    if engine is not None:
        yield engine
        return
    with Engine(model, weights, dialect, batch) as own:
        yield own


def _is_path(model):
    return isinstance(model, (str, os.PathLike))


def _eager(model, x):
    import torch
    net = model.spec
    with torch.inference_mode():
        t = torch.from_numpy(x)
        want = [l.index for l in heads(net)]
        if set(want) <= set(net.returned):
            y = model(t)
            y = y if isinstance(y, tuple) else (y,)
            return {i: v.float().numpy() for i, v in zip(net.returned, y)}
        every = model.layer_outputs(t)  # a head the forward does not return (one head among later layers)
        return {i: every[i].float().numpy() for i in want}


# -- the library calls -------------------------------------------------------------------------------------
def network_boxes(model, image, thresh, hier_thresh=.5, nms=.45, letter_box=None, outputs=None):
    """Detections for one image as the model's dialect makes them. model: a loaded darkbench model (or, with
    outputs, its analysed network); image: a path or a (3, H, W) float32 array in [0, 1]; outputs: the heads'
    outputs for this image already computed by a backend ({layer index: array}, or a sequence in the order the
    model returns them), in which case nothing runs here."""
    net = getattr(model, "spec", model)
    prep = prepare(net, image, letter_box)
    if outputs is None:
        outputs = {i: y[0] for i, y in _eager(model, prep.x[None]).items()}
    elif not isinstance(outputs, dict):
        outputs = dict(zip(net.returned, outputs))
    return decode(net, outputs, prep, thresh, hier_thresh, nms)


def each_network_boxes(model, images, thresh, hier_thresh=.5, nms=.45, letter_box=None, weights=None,
                       dialect=None, batch=8, engine=None):
    """Detections for each image (paths or arrays), forward passes `batch` images at a time: a generator.
    model: a cfg (with weights) or a loaded darkbench model; engine: what runs it instead of darkbench's model
    (e.g. darkbench.bench.heads.BackendEngine), its own batch size used."""
    with running(model, weights, dialect, batch, engine) as engine:
        batch = engine.batch
        images = list(images)
        for s in range(0, len(images), batch):
            preps = [prepare(engine.net, im, letter_box) for im in images[s:s + batch]]
            outs = engine(np.stack([p.x for p in preps]))
            for k, p in enumerate(preps):
                yield decode(engine.net, {i: y[k] for i, y in outs.items()}, p, thresh, hier_thresh, nms)


def detect(model, images, thresh=.25, nms=.45, hier_thresh=.5, weights=None, names=None, letter_box=None,
           dialect=None, batch=8, engine=None):
    """Per image, a list of Detection (class id, name, probability, box in pixels: left, top, width, height),
    one per class above thresh, in the order the dialect's detector prints them. model: a cfg path (weights=
    needed) or a loaded darkbench model; images: one path or array, or a list of them; names: a list, a names
    file, or None (darknet's installed coco/voc names when the class count matches, else the class ids);
    engine: what runs the network instead of darkbench's model (e.g. darkbench.bench.heads.BackendEngine)."""
    one = isinstance(images, (str, os.PathLike)) or (isinstance(images, np.ndarray) and images.ndim == 3)
    images = [images] if one else list(images)
    with running(model, weights, dialect, batch, engine) as engine:
        batch = engine.batch
        labels, _ = class_names(engine.net, names)
        found = []
        for s in range(0, len(images), batch):
            preps = [prepare(engine.net, im, letter_box) for im in images[s:s + batch]]
            outs = engine(np.stack([p.x for p in preps]))
            for k, p in enumerate(preps):
                dets = decode(engine.net, {i: y[k] for i, y in outs.items()}, p, thresh, hier_thresh, nms)
                found.append(printed(dets, labels))
    return found


# -- names and what darknet prints -------------------------------------------------------------------------
def class_names(net, names=None):
    """(one name per class, where they came from). names: a list, a file (fewer names than classes refused,
    naming it), or None: the first of darknet's installed *.names with exactly as many names, else the ids."""
    n = classes(net)
    if isinstance(names, (list, tuple)):
        if len(names) < n:
            raise DarkbenchError(f"{len(names)} names for a network with {n} classes", net.path)
        return list(names), "given"
    if names is not None:
        got = read_lines(os.fspath(names), "names file", "--names")
        if len(got) < n:
            raise DarkbenchError(f"{len(got)} names but the network has {n} classes", names)
        return got, os.fspath(names)
    if os.path.isdir(NAMES_DIR):
        for f in sorted(os.listdir(NAMES_DIR), key=lambda f: (f not in ("coco.names", "voc.names"), f)):
            if f.endswith(".names"):
                path = os.path.join(NAMES_DIR, f)
                with contextlib.suppress(DarkbenchError):
                    got = read_lines(path, "names file", "--names")
                    if len(got) == n:
                        return got, path
    return [str(i) for i in range(n)], "class ids"


def best_class(probs, labels, thresh):
    """The fork's get_actual_detections: the most probable class above thresh whose name does not start with
    "dont_show", or -1."""
    best, p = -1, F32(thresh)
    for j, q in enumerate(probs):
        if q > p and not labels[j].startswith("dont_show"):
            best, p = j, q
    return best


def printed(dets, labels):
    """Detection per printed line: 2018 darknet (draw_detections) goes through the array, classes above thresh
    in order; the fork (draw_detections_v3) takes boxes with a class above thresh, sorted by their left edge,
    the most probable class first, then the others above thresh."""
    t = F32(dets.thresh)
    px = dets.pixels()
    out = []

    def one(i, j):
        out.append(Detection(j, labels[j], float(dets.probs[i, j]), tuple(float(v) for v in px[i]), i))
    if dets.dialect == PJREDDIE:
        for i in range(len(dets.probs)):
            for j in np.flatnonzero(dets.probs[i] > t):
                one(i, int(j))
        return out
    rows = [(i, best_class(dets.probs[i], labels, t)) for i in range(len(dets.probs))]
    rows = [(i, b) for i, b in rows if b >= 0]
    b = dets.boxes.astype(F32)
    rows.sort(key=lambda r: b[r[0], 0] - b[r[0], 2] / F32(2))  # stable, as glibc's qsort
    for i, best in rows:
        one(i, best)
        for j in np.flatnonzero(dets.probs[i] > t):
            if j != best:
                one(i, int(j))
    return out


class _CallableModule(types.ModuleType):
    """darkbench.detect is both this module and its detect(): importing a submodule sets the package's
    attribute to the module, so the module itself answers the call."""

    def __call__(self, model, images, thresh=.25, nms=.45, **options):
        return detect(model, images, thresh, nms, **options)


sys.modules[__name__].__class__ = _CallableModule
