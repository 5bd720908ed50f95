"""mAP as the AlexeyAB fork's `detector map` computes it (numpy, no torch): its .data file, image list and
label files, its matching of detections to truths, its TP/FP/precision/recall/F1/average IoU at a confidence
threshold and its AP per class (area under the curve, or 11 or 101 recall points).

The fork's arithmetic is kept where it shows in the printed digits: boxes, IoUs, thresholds and the figures
at the confidence threshold are C floats (float32), precisions, recalls and APs doubles, sums in its order.
`darkbench.evaluate` (evaluation.py) runs a network over a .data file's images and hands each image's detections
here."""
import math
import os
import re
from dataclasses import asdict, dataclass, field

import numpy as np

from . import nms
from .classify import read_lines
from .errors import DarkbenchError

F32 = np.float32
CONF = .005      # the fork's detector map keeps detections above this probability
NMS = .45        # and suppresses at this IoU
THRESH = .25     # its -thresh default: the threshold of the TP/FP/precision/recall/F1/IoU figures
IOU_THRESH = .5  # its -iou_thresh default
POINTS = 0       # its -points default: area under the curve

# the fork's replace_image_to_label: these folders become labels folders (first occurrence of each, in order)
LABEL_DIRS = (("/images/train2017/", "/labels/train2017/"), ("/images/val2017/", "/labels/val2017/"),
              ("/JPEGImages/", "/labels/"), ("\\images\\train2017\\", "\\labels\\train2017\\"),
              ("\\images\\val2017\\", "\\labels\\val2017\\"), ("\\images\\train2014\\", "\\labels\\train2014\\"),
              ("\\images\\val2014\\", "\\labels\\val2014\\"), ("/images/train2014/", "/labels/train2014/"),
              ("/images/val2014/", "/labels/val2014/"), ("\\JPEGImages\\", "\\labels\\"))
# ... and these extensions (at the end of the name, in order) .txt
IMAGE_EXTS = (".jpg", ".JPG", ".jpeg", ".JPEG", ".png", ".PNG", ".bmp", ".BMP", ".ppm", ".PPM", ".tiff", ".TIFF")

_INT = re.compile(r"[+-]?\d+\Z")


# -- the fork's files -----------------------------------------------------------------------------------------

@dataclass
class DataFile:
    """A darknet .data file as the fork's read_data_cfg reads it (every blank removed from a line; the first
    `key=` wins). Paths in it are relative to the working directory, as for darknet."""
    path: str
    valid: str
    names: str = None
    classes: int = None
    difficult: str = None
    labels: str = None  # a classifier's class names (darknet's classifier .data: labels=)


def _lines(path, what):
    """A text file's lines (darknet's fgetl: without the newline and a CR before it), or one line naming it."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DarkbenchError(f"no such {what}", path)
    if os.path.isdir(path):
        raise DarkbenchError(f"is a directory, not {what}", path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise DarkbenchError(f"cannot read {what}: {e.strerror or e}", path) from None
    if b"\0" in data:
        raise DarkbenchError(f"holds NUL bytes: not {what}", path)
    text = data.decode("utf-8", errors="surrogateescape")
    lines = text.split("\n")
    if lines[-1] == "":  # the last line's newline, or an empty file
        lines.pop()
    return [l[:-1] if l.endswith("\r") else l for l in lines]


def read_data(path):
    """A .data file: valid= (the image list) is needed; names=, classes= and difficult= are read if there."""
    opts = {}
    for n, line in enumerate(_lines(path, "data file"), 1):
        line = re.sub(r"[ \t\r\n]", "", line)
        if not line or line[0] in "#;":
            continue
        key, eq, val = line.partition("=")
        if not eq or not val:
            raise DarkbenchError(f"expected key=value, found {line!r}", path, n)
        opts.setdefault(key, (val, n))
    if "valid" not in opts:
        raise DarkbenchError("no valid= line naming the list of images to evaluate", path)
    classes = None
    if "classes" in opts:
        val, n = opts["classes"]
        if not _INT.match(val) or int(val) < 1:
            raise DarkbenchError(f"classes={val} is not a positive whole number", path, n)
        classes = int(val)
    get = lambda k: opts[k][0] if k in opts else None  # noqa: E731
    return DataFile(os.fspath(path), get("valid"), get("names"), classes, get("difficult"), get("labels"))


def read_list(path, what="image list", exist=True):
    """The image paths of a list file, one a line; a blank line is refused (darknet would try to read an
    image named ''), and so is an image that is not there (exist=False: only its label file is read)."""
    paths = _lines(path, what)
    for n, p in enumerate(paths, 1):
        if not p.strip():
            raise DarkbenchError("blank line: expected an image path", path, n)
        if exist and not os.path.isfile(p):
            raise DarkbenchError(f"no such image: {p}", path, n)
    if not paths:
        raise DarkbenchError(f"{what} is empty", path)
    return paths


def read_names(path, classes):
    """Class names, one a line (blank lines at the end ignored); exactly one per class, as the fork insists."""
    names = read_lines(os.fspath(path), "names file", "--names")
    if len(names) != classes:
        raise DarkbenchError(f"{len(names)} names but the network has {classes} classes", path)
    return names


def label_path(image):
    """Where the fork looks for an image's labels: a few dataset folders renamed to labels (COCO's
    images/{train,val}{2014,2017}, VOC's JPEGImages), the image extension replaced by .txt."""
    out = image
    for old, new in LABEL_DIRS:
        out = out.replace(old, new, 1)
    out = out.strip(" \t")
    for ext in IMAGE_EXTS:
        if out.endswith(ext):
            out = out[:-len(ext)] + ".txt"
    if not out.endswith(".txt") or len(out) <= 4:
        raise DarkbenchError("cannot tell the label file's name: the image's extension is not one darknet "
                             f"replaces ({', '.join(IMAGE_EXTS[::2])})", image)
    return out


@dataclass
class Truth:
    """An image's labelled boxes: class ids (m,) and boxes (m, 4) float32 x, y, w, h relative to the image."""
    ids: np.ndarray
    boxes: np.ndarray

    @classmethod
    def empty(cls):
        return cls(np.zeros(0, np.int64), np.zeros((0, 4), F32))


def read_truth(path, classes):
    """A darknet label file ('class x y w h' a line, the numbers relative to the image). A missing file means
    no objects (the fork says so and goes on); a line that is not five numbers, a class outside the network's,
    or a coordinate outside [0, 1] is refused with its line."""
    if not os.path.exists(path):
        return Truth.empty(), False
    ids, boxes = [], []
    for n, line in enumerate(_lines(path, "label file"), 1):
        words = line.split()
        if not words:
            continue
        if len(words) != 5:
            raise DarkbenchError(f"expected 5 numbers 'class x y w h', found {len(words)}: {line.strip()!r}", path, n)
        if not _INT.match(words[0]):
            raise DarkbenchError(f"class {words[0]!r} is not a whole number", path, n)
        cid = int(words[0])
        if not 0 <= cid < classes:
            raise DarkbenchError(f"class {cid} is outside the network's 0..{classes - 1}", path, n)
        try:
            box = [float(w) for w in words[1:]]
        except ValueError:
            raise DarkbenchError(f"expected numbers, found {line.strip()!r}", path, n) from None
        for name, v in zip("xywh", box):
            if not 0 <= v <= 1:  # false for nan too
                raise DarkbenchError(f"{name} = {words[1 + 'xywh'.index(name)]} is outside [0, 1] (darknet labels "
                                     "are relative to the image)", path, n)
        ids.append(cid)
        boxes.append(box)
    return Truth(np.asarray(ids, np.int64), np.asarray(boxes, F32).reshape(-1, 4)), True


# -- the tally ------------------------------------------------------------------------------------------------

def _first(keys):
    """True where a key appears for the first time (in array order)."""
    out = np.zeros(len(keys), bool)
    if len(keys):
        out[np.unique(keys, return_index=True)[1]] = True
    return out


def _fsum(values):
    """A C float accumulated in order (float avg_iou += ...)."""
    return np.cumsum(np.asarray(values, F32), dtype=F32)[-1] if len(values) else F32(0)


@dataclass
class Image:
    """What one image leaves in the tally (kept for COCO's metrics and the JSON): its size, truths and the
    detections ranked (one per box and class with a probability above 0)."""
    path: str
    width: int
    height: int
    truth: Truth
    boxes: np.ndarray   # (k, 4) float32
    classes: np.ndarray  # (k,)
    probs: np.ndarray   # (k,) float32


class Tally:
    """The fork's detector map over images added one by one (`add`), then `result(points)`."""

    def __init__(self, classes, iou_thresh=IOU_THRESH, thresh=THRESH, names=None):
        if not 0 <= iou_thresh <= 1:
            raise DarkbenchError(f"--iou-thresh {iou_thresh} is outside [0, 1]")
        if not 0 <= thresh <= 1:
            raise DarkbenchError(f"--thresh {thresh} is outside [0, 1]")
        self.classes = classes
        self.names = list(names) if names is not None else [str(i) for i in range(classes)]
        self.given = float(iou_thresh), float(thresh)
        self.iou_thresh, self.thresh = F32(iou_thresh), F32(thresh)  # C floats, as the fork compares them
        self.images = []
        self.truths = np.zeros(classes, np.int64)      # truth_classes_count
        self.unique_truths = 0
        self.probs, self.classes_of, self.truth_of = [], [], []   # the ranked detections, image by image
        self.tp = np.zeros(classes, np.int64)          # at thresh
        self.fp = np.zeros(classes, np.int64)
        self.iou_sum = F32(0)
        self.iou_class = np.zeros(classes, F32)
        self.missing_labels = 0

    def add(self, boxes, probs, truth, difficult=None, width=None, height=None, path=None):
        """One image: its detections after NMS in darknet's array order (boxes (n, 4) x, y, w, h relative to
        the image, probs (n, classes), 0 where darknet zeroed them), its truths, and the truths of the
        .data's difficult= list for that image (a detection matching only one of those is left out)."""
        boxes = np.asarray(boxes, F32).reshape(-1, 4)
        probs = np.asarray(probs, F32).reshape(len(boxes), self.classes)
        rows, cls = np.nonzero(probs > 0)                # per box, per class: the fork's loop order
        p = probs[rows, cls]
        iou = nms.iou(boxes, truth.boxes)[rows]
        ok = (iou > self.iou_thresh) & (truth.ids[None, :] == cls[:, None])
        best = np.where(ok, iou, F32(-1)).argmax(1) if truth.ids.size else np.zeros(len(rows), np.int64)
        matched = ok.any(1)
        best_iou = np.where(matched, iou[np.arange(len(rows)), best] if truth.ids.size else F32(0), F32(0))
        index = np.where(matched, self.unique_truths + best, -1)
        keep = np.ones(len(rows), bool)
        if difficult is not None and difficult.ids.size:
            dok = (nms.iou(boxes, difficult.boxes)[rows] > self.iou_thresh) & (difficult.ids[None, :] == cls[:, None])
            keep = matched | ~dok.any(1)
        # at thresh: a detection is a TP when it is the image's first (in array order) to match its truth
        hi = p > self.thresh
        tp = hi & matched & _first(np.where(matched, index, -1 - np.arange(len(rows))))
        fp = hi & ~tp
        np.add.at(self.tp, cls[tp], 1)
        np.add.at(self.fp, cls[fp], 1)
        self.iou_sum = _fsum(np.concatenate([[self.iou_sum], best_iou[tp]]))
        for c in np.unique(cls[tp]):
            self.iou_class[c] = _fsum(np.concatenate([[self.iou_class[c]], best_iou[tp][cls[tp] == c]]))
        self.probs.append(p[keep])
        self.classes_of.append(cls[keep])
        self.truth_of.append(index[keep])
        np.add.at(self.truths, truth.ids, 1)
        self.unique_truths += len(truth.ids)
        self.images.append(Image(path, width, height, truth, boxes[rows[keep]], cls[keep], p[keep]))

    def result(self, points=POINTS):
        """The fork's figures (a MapResult) with AP by `points`: 0 = area under the curve at every recall,
        N >= 2 = N recall points (11: VOC 2007, 101: COCO)."""
        check_points(points)
        p = np.concatenate(self.probs) if self.probs else np.zeros(0, F32)
        cls = np.concatenate(self.classes_of) if self.probs else np.zeros(0, np.int64)
        truth = np.concatenate(self.truth_of) if self.probs else np.zeros(0, np.int64)
        order = np.argsort(-p, kind="stable")            # qsort by probability (glibc's is a stable merge sort)
        rows, total = [], 0.0
        for c in range(self.classes):
            t = truth[order[cls[order] == c]]
            ap = average_precision(t, self.truths[c], points)
            total += ap
            n = self.tp[c] + self.fp[c]
            rows.append(ClassAP(c, self.names[c], ap, int(self.tp[c]), int(self.fp[c]), int(self.truths[c]),
                                len(t), *_at_thresh(self.tp[c], self.fp[c], self.truths[c]),
                                float(self.iou_class[c] / F32(n)) if n else 0.0))
        tp, fp = int(self.tp.sum()), int(self.fp.sum())
        precision, recall, f1 = _at_thresh(tp, fp, self.unique_truths, f1=True)
        iou = self.iou_sum / F32(tp + fp) if tp + fp else self.iou_sum
        return MapResult(points=points, iou_thresh=self.given[0], thresh=self.given[1],
                         images=len(self.images), detections=len(p), truths=self.unique_truths,
                         missing_labels=self.missing_labels, classes=rows, precision=precision, recall=recall,
                         f1=f1, tp=tp, fp=fp, fn=self.unique_truths - tp, avg_iou=float(iou),
                         map=total / self.classes)


def check_points(points):
    if points != 0 and points < 2:
        raise DarkbenchError(f"--points {points}: 0 (area under the curve) or a number of recall points >= 2 "
                             "(11: VOC 2007, 101: COCO)")


def _at_thresh(tp, fp, truths, f1=False):
    """The fork's precision and recall (and F1) at thresh, in C floats: nan where it divides 0 by 0."""
    tp, fp, fn = F32(tp), F32(fp), F32(truths - tp)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = tp / (tp + fp)
        recall = tp / (tp + fn)
        out = [float(precision), float(recall)]
        if f1:
            out.append(float(F32(2) * precision * recall / (precision + recall)))
    return out


def average_precision(truth, truths, points=POINTS):
    """AP of one class from its detections ranked by probability (truth: the index of the truth each matched,
    -1 for none) and its number of truths, as the fork computes it. A truth's first detection is a TP, later
    ones FPs. points 0: from the last rank back, each step in recall times the best precision at or after that
    rank, the rest of the way to recall 0 at the first rank's precision; N points: the mean over recalls 0,
    1/(N-1) ... 1 of the best precision at a recall at least that."""
    truth = np.asarray(truth)
    if not len(truth):
        return 0.0
    hit = (truth >= 0) & _first(np.where(truth >= 0, truth, -1 - np.arange(len(truth))))
    tp = np.cumsum(hit)
    fp = np.cumsum(~hit)
    precision = tp / (tp + fp)
    recall = tp / truths if truths else np.zeros(len(tp))
    best = np.maximum.accumulate(precision[::-1])[::-1]   # best precision at or after each rank
    if points == 0:
        steps = np.concatenate([(recall[1:] - recall[:-1])[::-1] * best[:-1][::-1], [recall[0] * best[0]]])
        return float(np.cumsum(np.concatenate([[0.0], steps]))[-1])
    ap = 0.0
    for point in range(points):
        at = np.searchsorted(recall, point * 1.0 / (points - 1), side="left")
        ap += best[at] if at < len(recall) else 0.0
    return ap / points


# -- results --------------------------------------------------------------------------------------------------

@dataclass
class ClassAP:
    id: int
    name: str
    ap: float            # 0..1
    tp: int              # at thresh
    fp: int
    truths: int
    detections: int      # ranked (above 0 after NMS)
    precision: float     # at thresh (the fork computes these per class without printing them)
    recall: float
    avg_iou: float


@dataclass
class MapResult:
    """Everything the fork's detector map prints (and computes without printing), plus COCO's metrics."""
    points: int
    iou_thresh: float    # as given (the fork compares and prints them as C floats)
    thresh: float
    images: int
    detections: int      # the fork's detections_count
    truths: int          # its unique_truth_count
    missing_labels: int  # images without a label file (no objects, as the fork counts them)
    classes: list
    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int
    avg_iou: float       # 0..1
    map: float           # 0..1: the sum of the classes' APs over the number of classes
    coco: dict = None    # COCO's AP@[.5:.95] etc. (coco.py), or None
    info: dict = field(default_factory=dict)   # cfg, weights, data, dialect, seconds ...
    warnings: list = field(default_factory=list)

    def lines(self):
        """The fork's figure lines, format for format (printf's %f/%2.2f, its spacing; -nan where C prints it)."""
        out = [f" detections_count = {self.detections}, unique_truth_count = {self.truths}  "]
        for c in self.classes:
            out.append(f"class_id = {c.id}, name = {c.name}, ap = {_c(c.ap * 100, '2.2f')}%   \t "
                       f"(TP = {c.tp}, FP = {c.fp}) ")
        t = F32(self.thresh)
        out += ["", f" for conf_thresh = {_c(t, '1.2f')}, precision = {_c(self.precision, '1.2f')}, "
                    f"recall = {_c(self.recall, '1.2f')}, F1-score = {_c(self.f1, '1.2f')} ",
                f" for conf_thresh = {_c(t, '0.2f')}, TP = {self.tp}, FP = {self.fp}, FN = {self.fn}, "
                f"average IoU = {_c(F32(self.avg_iou) * F32(100), '2.2f')} % ", "",
                f" IoU threshold = {_c(F32(self.iou_thresh) * F32(100), '2.0f')} %, "
                + (f"used {self.points} Recall-points " if self.points else
                   "used Area-Under-Curve for each unique Recall "),
                f" mean average precision (mAP@{_c(F32(self.iou_thresh), '0.2f')}) = {_c(self.map, 'f')}, or "
                f"{_c(self.map * 100, '2.2f')} % "]
        if self.coco:
            out += ["", f" COCO metrics ({self.coco['library']}, maxDets 100; classes with truths only):"]
            out += [f"  {label:<32} = {_c(self.coco[key], '0.3f')}" for key, label in COCO_LINES]
        return out

    def to_json(self):
        d = asdict(self)
        return {k: _json(v) for k, v in d.items()}


COCO_LINES = (("AP", "AP @[IoU=0.50:0.95] all"), ("AP50", "AP @[IoU=0.50]"), ("AP75", "AP @[IoU=0.75]"),
              ("APs", "AP small (< 32^2 px)"), ("APm", "AP medium"), ("APl", "AP large (> 96^2 px)"),
              ("AR1", "AR maxDets=1"), ("AR10", "AR maxDets=10"), ("AR100", "AR maxDets=100"),
              ("ARs", "AR small"), ("ARm", "AR medium"), ("ARl", "AR large"))


def _c(x, spec):
    """printf of a float: Python's formatting rounds as glibc's does; a NaN prints as C prints it (0/0 in
    floats is the negative NaN on x86: '-nan')."""
    x = float(x)
    if math.isnan(x):
        return "-nan" if math.copysign(1, x) < 0 else "nan"
    return format(x, spec)


def _json(v):
    """JSON has no NaN: null."""
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, list):
        return [_json(x) for x in v]
    if isinstance(v, dict):
        return {k: _json(x) for k, x in v.items()}
    return v
