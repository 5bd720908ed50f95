"""darkbench.evaluate / `darkbench map`: a detector run over a .data file's images and scored as the AlexeyAB
fork's `detector map` scores it (mapeval.py), with COCO's metrics (coco.py).

Everything the user gave is read and checked before the network runs (the .data file, the names, the image
list, every label file), so bad input stops in one line before any work. Images are decoded and resized in
threads from then on (while the model loads, then ahead of the network); darkbench's own model runs one image on
each core at a time, a backend engine a batch at a time."""
import gc
import os
import sys
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import coco as cocoeval
from . import mapeval, models
from .dialect import ALEXEYAB
from .errors import DarkbenchError
from .mapeval import CONF, IOU_THRESH, NMS, POINTS, THRESH

HIER_THRESH = 0  # what detector map hands get_network_boxes (it matters for yolo9000's tree only)


def evaluate(model, data, weights=None, *, names=None, points=POINTS, iou_thresh=IOU_THRESH, thresh=THRESH,
             coco=True, batch=None, dialect=ALEXEYAB, engine=None, progress=False, coco_library="faster-coco-eval"):
    """A mapeval.MapResult: every figure the fork's `detector map DATA CFG WEIGHTS -points P -iou_thresh I
    -thresh T` prints, plus COCO's AP@[.5:.95] etc. in result.coco (coco=False: None).

    model: a cfg (with weights) or a loaded darkbench model (darkbench.load); data: a darknet .data file;
    names: a names file in place of the .data's names=; dialect: how a cfg is read, its images prepared and its
    heads decoded (default the fork's, whose detector map resizes unless [net] letter_box=1; a loaded model keeps
    its own); engine: what runs the network instead of darkbench's PyTorch model with batch norm folded (as the
    fork folds it): an engine (darkbench.bench.heads.BackendEngine: a bench backend, the heads decoded here), or
    a function making one, called once every input has been checked; batch: images per forward pass (default:
    darkbench's own model runs each image alone, as many side by side as torch has threads, each on one thread;
    an engine made here 8); progress: a tqdm bar on stderr."""
    from . import detect
    start = time.perf_counter()
    mapeval.check_points(points)
    if batch is not None and batch < 1:
        raise DarkbenchError(f"--batch {batch} must be at least 1")
    if coco:
        cocoeval.load_library(coco_library)  # missing: said now, not after the run
    df = mapeval.read_data(data)
    loaded = not isinstance(model, (str, os.PathLike))
    net = model.spec if loaded else models.analyse(model, dialect=dialect, weights=weights)
    classes = detect.classes(net)  # refuses a network without a detection head
    if df.classes is not None and df.classes != classes:
        raise DarkbenchError(f"classes={df.classes} but the network detects {classes} classes", df.path)
    if names is None and df.names is None:
        raise DarkbenchError("no names= line (or give --names)", df.path)
    labels = mapeval.read_names(names if names is not None else df.names, classes)
    tally = mapeval.Tally(classes, iou_thresh, thresh, labels)
    paths = mapeval.read_list(df.valid)
    truths, missing = read_truths(paths, classes)
    warnings = [f"{len(missing)} of {len(paths)} images have no label file (no objects, as the fork counts them), "
                f"e.g. {mapeval.label_path(missing[0])}"] if missing else []
    hard = None
    if df.difficult:
        hard_paths = mapeval.read_list(df.difficult, "difficult list", exist=False)  # their labels only
        if len(hard_paths) != len(paths):
            raise DarkbenchError(f"the difficult list has {len(hard_paths)} images, the valid list {len(paths)}: "
                                 "the fork pairs them line by line", df.difficult)
        hard, _ = read_truths(hard_paths, classes)
    tally.missing_labels = len(missing)
    if not loaded and weights is None:
        raise DarkbenchError("a cfg needs its weights to evaluate", model)
    from tqdm import tqdm
    bar = tqdm(total=len(paths), desc="map", unit="image", disable=not progress, leave=False)
    # everything is checked: reading the images starts now, while the model loads
    reader = Reader(getattr(engine, "net", net), paths, df.valid)
    collecting = gc.isenabled()
    try:
        try:
            if engine is not None and not hasattr(engine, "net"):
                engine = engine()  # a function making the engine: everything it will read is checked by now
                if _input(engine.net) != _input(reader.net):  # it reads its cfg otherwise: read for it anew
                    reader.close()
                    reader = Reader(engine.net, paths, df.valid)
            elif engine is None and not loaded:
                # the fork's detector map folds batch norm into the convolutions too
                gc.disable()  # importing torch makes 170 thousand objects, none of them garbage: no rounds over them
                # importing torch is a second of Python holding the interpreter's lock: asked for it more often,
                # it lets the reading threads back in sooner (at 5 ms a time they idled a core half of that second)
                switch = sys.getswitchinterval()
                sys.setswitchinterval(5e-4)
                try:
                    model = models.load(model, weights, dialect=dialect, fuse=True)
                finally:
                    sys.setswitchinterval(switch)
                model.prepack()  # this copy only runs: oneDNN's fused convs, Winograd where faster (same figures)
            # what is made so far is not garbage: left out of the rounds that the run's small objects trigger
            gc.freeze()
            if collecting:
                gc.enable()
            with detect.running(model, weights, dialect, batch or 8, engine) as engine:
                net = engine.net
                for i, dets in enumerate(_detections(engine, reader, batch)):
                    tally.add(dets.boxes, dets.probs, truths[i], hard[i] if hard else None, dets.width,
                              dets.height, paths[i])
                    bar.update()
        finally:
            reader.close()
            bar.close()
        result = tally.result(points)
        result.warnings = warnings
        if coco:
            result.coco = cocoeval.metrics(tally.images, labels, coco_library)
    finally:
        gc.unfreeze()
        if collecting:
            gc.enable()
    result.info = dict(cfg=net.path, weights=None if loaded else os.fspath(weights), data=os.fspath(data),
                       dialect=net.dialect, letter_box=detect.letters(net), backend=engine.name, conf_thresh=CONF,
                       nms=NMS, names=os.fspath(names if names is not None else df.names),
                       seconds=round(time.perf_counter() - start, 3))
    return result


def read_truths(paths, classes):
    """Each image's labels (the fork's images -> labels path rule), and the images without a label file."""
    out, missing = [], []
    for p in paths:
        truth, found = mapeval.read_truth(mapeval.label_path(p), classes)
        out.append(truth)
        if not found:
            missing.append(p)
    return out, missing


def _input(net):
    """What detect.prepare makes of an image for this network."""
    from . import detect
    return net.channels, net.width, net.height, detect.letters(net)


class Reader:
    """The listed images decoded and prepared (detect.prepare): the first `ahead` at once in `threads` threads
    (while the model loads), later ones ahead of the batch asked for, or where get() is called; an image that
    cannot be read is named with its line in the list."""

    def __init__(self, net, paths, listed, threads=2, ahead=None):
        from . import detect
        if ahead is None:  # what the other cores read while torch loads (~1 s): up to 256 MiB of inputs
            ahead = min(128, max(8, (256 << 20) // (4 * max(1, net.channels * net.width * net.height))))
        self.prepare, self.net, self.paths, self.listed, self.n = detect.prepare, net, paths, listed, ahead
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="darkbench-read")
        self.futures = {}
        self.ahead(0)

    def ahead(self, start, n=None):
        """Images start.. start + n (default `ahead`) being read in the threads."""
        for k in range(start, min(start + (self.n if n is None else n), len(self.paths))):
            if k not in self.futures:
                self.futures[k] = self.pool.submit(self.prepare, self.net, self.paths[k])

    def get(self, k):
        """Image k's prepared input (detect.Prepared): read ahead, or now on the calling thread."""
        f = self.futures.pop(k, None)
        try:
            return f.result() if f is not None else self.prepare(self.net, self.paths[k])
        except DarkbenchError as e:
            raise DarkbenchError(str(e), self.listed, k + 1) from None

    def close(self):
        self.pool.shutdown(wait=True, cancel_futures=True)


def _detections(engine, reader, batch):
    """Detections image by image, in order (darknet's conf .005, NMS .45): side by side on every core where the
    engine allows it and no batch is asked for, else `batch` images per forward pass (the engine's own)."""
    from . import detect
    net = engine.net

    def found(outs, k, prep):
        return detect.decode(net, {i: y[k] for i, y in outs.items()}, prep, CONF, HIER_THRESH, NMS)

    n = len(reader.paths)
    if batch is None and getattr(engine, "concurrent", False):
        def run(k):  # read (unless read ahead), run and decode image k, all on this thread
            prep = reader.get(k)
            return found(engine(prep.x[None]), 0, prep)

        with engine.side_by_side() as cores, ThreadPoolExecutor(cores, thread_name_prefix="darkbench-run") as pool:
            pending = deque()
            for k in range(n):
                pending.append(pool.submit(run, k))
                if len(pending) > 2 * cores:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        return
    batch = batch or engine.batch
    for s in range(0, n, batch):
        reader.ahead(s, 2 * batch)  # this batch and the next
        preps = [reader.get(k) for k in range(s, min(s + batch, n))]
        outs = engine(np.stack([p.x for p in preps]))
        for k, p in enumerate(preps):
            yield found(outs, k, p)
