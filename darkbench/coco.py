"""COCO's box metrics (AP@[.5:.95], AP50, AP75, small/medium/large, AR) of a darknet-style evaluation, computed
by a maintained COCO library: faster-coco-eval (a dependency) or, to cross-check it, pycocotools. The labels
and detections become COCO json in memory: boxes in pixels of each image, one detection per box and class
with a probability (the same detections the fork's mAP ranks), category ids = class + 1."""
import contextlib
import io

import numpy as np

from .errors import DarkbenchError

LIBRARIES = ("faster-coco-eval", "pycocotools")
# COCOeval.stats in order
KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


def load_library(name):
    try:
        if name == "faster-coco-eval":
            from faster_coco_eval import COCO, COCOeval_faster as COCOeval
        elif name == "pycocotools":
            from pycocotools.coco import COCO
            from pycocotools.cocoeval import COCOeval
        else:
            raise DarkbenchError(f"no COCO library {name!r}: one of {', '.join(LIBRARIES)}")
    except ImportError:
        raise DarkbenchError(f"COCO's metrics need {name} (pip install {name}), or leave them out with "
                             "--no-coco") from None
    return COCO, COCOeval


def pixels(boxes, width, height):
    """Relative centre x, y, w, h -> COCO's [left, top, width, height] in pixels (float64)."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    return np.stack([(b[:, 0] - b[:, 2] / 2) * width, (b[:, 1] - b[:, 3] / 2) * height,
                     b[:, 2] * width, b[:, 3] * height], axis=1)


def as_coco(images, names):
    """(ground truth dict, detections as an (n, 7) array [image_id, left, top, w, h, score, category_id]) for
    mapeval.Image records."""
    gt = dict(images=[], annotations=[], categories=[dict(id=c + 1, name=n) for c, n in enumerate(names)])
    dets = []
    for i, im in enumerate(images, 1):
        gt["images"].append(dict(id=i, width=im.width, height=im.height))
        for cid, box in zip(im.truth.ids, pixels(im.truth.boxes, im.width, im.height)):
            gt["annotations"].append(dict(id=len(gt["annotations"]) + 1, image_id=i, category_id=int(cid) + 1,
                                          bbox=[float(v) for v in box], area=float(box[2] * box[3]), iscrowd=0))
        if len(im.probs):
            d = np.empty((len(im.probs), 7))
            d[:, 0] = i
            d[:, 1:5] = pixels(im.boxes, im.width, im.height)
            d[:, 5] = im.probs
            d[:, 6] = np.asarray(im.classes) + 1
            dets.append(d)
    return gt, (np.concatenate(dets) if dets else np.zeros((0, 7)))


def metrics(images, names, library="faster-coco-eval"):
    """COCO's 12 box metrics ({key: value}, -1 where COCO has nothing to average, as it reports it) and the
    library's name, for mapeval.Image records."""
    COCO, COCOeval = load_library(library)
    gt, dets = as_coco(images, names)
    out = dict(library=library)
    if not gt["annotations"] or not len(dets):   # COCO's loadRes refuses no detections; nothing to average
        out.update({k: -1.0 for k in KEYS})
        return out
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet):      # pycocotools prints its progress and table
        truth = COCO()
        truth.dataset = gt
        truth.createIndex()
        found = truth.loadRes(dets if library == "pycocotools" else _records(dets))
        ev = COCOeval(truth, found, iouType="bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    out.update({k: float(v) for k, v in zip(KEYS, ev.stats[:len(KEYS)])})
    return out


def _records(dets):
    """Detection dicts, as every COCO library's loadRes takes them."""
    return [dict(image_id=int(d[0]), bbox=[float(v) for v in d[1:5]], score=float(d[5]), category_id=int(d[6]))
            for d in dets]
