"""darkbench.evaluate / `darkbench map`: a detector run over a .data file's images and scored as the AlexeyAB
fork's `detector map` scores it (mapeval.py), with COCO's metrics (coco.py).

Everything the user gave is read and checked before the network runs (the .data file, the names, the image
list, every label file), so bad input stops in one line before any work; images are decoded and resized in two
threads while the network runs on the previous batch."""
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import coco as cocoeval
from . import mapeval, models
from .dialect import ALEXEYAB
from .errors import DarkbenchError
from .mapeval import CONF, IOU_THRESH, NMS, POINTS, THRESH

HIER_THRESH = 0  # what detector map hands get_network_boxes (it matters for yolo9000's tree only)


def evaluate(model, data, weights=None, *, names=None, points=POINTS, iou_thresh=IOU_THRESH, thresh=THRESH,
             coco=True, batch=8, dialect=ALEXEYAB, engine=None, progress=False, coco_library="faster-coco-eval"):
    """A mapeval.MapResult: every figure the fork's `detector map DATA CFG WEIGHTS -points P -iou_thresh I
    -thresh T` prints, plus COCO's AP@[.5:.95] etc. in result.coco (coco=False: None).

    model: a cfg (with weights) or a loaded darkbench model (darkbench.load); data: a darknet .data file;
    names: a names file in place of the .data's names=; dialect: how a cfg is read, its images prepared and its
    heads decoded (default the fork's, whose detector map resizes unless [net] letter_box=1; a loaded model keeps
    its own); engine: what runs the network instead of darkbench's PyTorch model with batch norm folded (as the
    fork folds it): an engine (darkbench.bench.heads.BackendEngine: a bench backend, the heads decoded here), or
    a function making one, called once every input has been checked; progress: a tqdm bar on stderr."""
    from . import detect
    start = time.perf_counter()
    mapeval.check_points(points)
    if batch < 1:
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
    if engine is not None and not hasattr(engine, "net"):
        engine = engine()  # a function making the engine: everything it will read is checked by now
    elif engine is None and not loaded:
        # the fork's detector map folds batch norm into the convolutions too
        model = models.load(model, weights, dialect=dialect, fuse=True)
    from tqdm import tqdm
    bar = tqdm(total=len(paths), desc="map", unit="image", disable=not progress, leave=False)
    try:
        with detect.running(model, weights, dialect, batch, engine) as engine:
            net = engine.net
            for i, dets in enumerate(_detections(engine, paths, engine.batch, df.valid)):
                tally.add(dets.boxes, dets.probs, truths[i], hard[i] if hard else None, dets.width, dets.height,
                          paths[i])
                bar.update()
    finally:
        bar.close()
    result = tally.result(points)
    result.warnings = warnings
    if coco:
        result.coco = cocoeval.metrics(tally.images, labels, coco_library)
    result.info = dict(cfg=net.path, weights=None if loaded else os.fspath(weights), data=os.fspath(data),
                       dialect=net.dialect, letter_box=detect.letters(net), backend=engine.name, conf_thresh=CONF, nms=NMS,
                       names=os.fspath(names if names is not None else df.names),
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


def _detections(engine, paths, batch, listed):
    """Detections image by image (darknet's conf .005, NMS .45), the next batch's images read while this one
    runs; an image that cannot be read is named with its line in the list."""
    from . import detect
    net = engine.net
    with ThreadPoolExecutor(2) as pool:
        def submit(s):
            return [pool.submit(detect.prepare, net, p) for p in paths[s:s + batch]]

        def result(k, f):
            try:
                return f.result()
            except DarkbenchError as e:
                raise DarkbenchError(str(e), listed, k + 1) from None
        pending = submit(0)
        for s in range(0, len(paths), batch):
            preps = [result(s + k, f) for k, f in enumerate(pending)]
            pending = submit(s + batch)
            outs = engine(np.stack([p.x for p in preps]))
            for k, p in enumerate(preps):
                yield detect.decode(net, {i: y[k] for i, y in outs.items()}, p, CONF, HIER_THRESH, NMS)
