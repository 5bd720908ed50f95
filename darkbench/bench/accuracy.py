"""Task accuracy beside the time (bench --data): each entry's detections or classes on the user's images, from
its own backend's outputs, scored against the images' labels or, without labels, against darkbench's fp32 eager
(bench/agreement.py's agreement mAP); bootstrap 95% CIs over the images. Every entry of a model resamples the
same images (one seed), so a reduced precision's change against its backend's fp32 is a paired bootstrap.

Detection mAP@0.5 against labels is darkbench map's (mapeval.Tally: the fork's detector map, its defaults), COCO's
AP@[.5:.95] coco.py's; a classifier's label is darknet's: the first class name found in the image's path."""
import dataclasses
import os
import sys

import numpy as np

from .. import mapeval
from ..errors import DarkbenchError
from . import agreement, stats

N_BOOT = 200
PROGRESS_AT = 50  # images: a progress bar (on a terminal) from this many on
LABELS, DETECTIONS, CLASSES = "labels", "fp32 eager's detections", "fp32 eager's classes"


@dataclasses.dataclass
class Data:
    """bench --data as given: a .data file (its valid= images, names=/labels=, classes=, difficult=) or a folder."""
    path: str
    images: list
    datafile: object = None  # mapeval.DataFile; None for a folder


def load(path):
    """The images of a .data file or a folder, checked now: one line naming the file."""
    path = os.fspath(path)
    if os.path.isdir(path):
        images = sorted(os.path.join(path, f) for f in os.listdir(path)
                        if f.endswith(mapeval.IMAGE_EXTS) and os.path.isfile(os.path.join(path, f)))
        if not images:
            raise DarkbenchError(f"no images ({', '.join(mapeval.IMAGE_EXTS[::2])}) in the folder", path)
        return Data(path, images)
    df = mapeval.read_data(path)
    return Data(path, mapeval.read_list(df.valid), df)


@dataclasses.dataclass
class Task:
    """One model's accuracy task on the data: its prepared inputs and what they are scored against."""
    data: Data
    kind: str  # "detect" or "classify"
    preps: list  # detect.Prepared (a classifier's: x only)
    against: str
    truths: list = None  # detection labels (mapeval.Truth per image), or a classifier's label index per image
    hard: list = None  # the .data's difficult= truths
    names: list = None
    reference: object = None  # fp32 eager's detections or classes, made on first use
    why: str = None  # why fp32 eager's detections cannot be the truth

    @property
    def metric(self):
        return "mAP@0.5" if self.kind == "detect" else "top-1"


def _bar(n, what):
    from tqdm import tqdm
    return tqdm(total=n, desc=what, unit="image", leave=False, file=sys.stderr,
                disable=n < PROGRESS_AT or not sys.stderr.isatty())


def task(data, model):
    """The Task of a bench Model on the Data: a detector's or a classifier's, its labels read and images prepared
    now (bad input in one line, before anything is measured)."""
    from .. import detect, evaluation
    net = model.net
    df, listed = data.datafile, data.datafile.valid if data.datafile else data.path
    if agreement.detects(net):
        classes = detect.classes(net)
        if df and df.classes is not None and df.classes != classes:
            raise DarkbenchError(f"classes={df.classes} but the network detects {classes} classes", df.path)
        names = mapeval.read_names(df.names, classes) if df and df.names else [str(i) for i in range(classes)]
        truths = hard = None
        if df:
            truths, missing = evaluation.read_truths(data.images, classes)
            if len(missing) == len(data.images):  # no label file at all: an image set, not a labelled one
                truths = None
            elif df.difficult:
                hard_paths = mapeval.read_list(df.difficult, "difficult list", exist=False)
                if len(hard_paths) != len(data.images):
                    raise DarkbenchError(f"the difficult list has {len(hard_paths)} images, the valid list "
                                         f"{len(data.images)}: the fork pairs them line by line", df.difficult)
                hard, _ = evaluation.read_truths(hard_paths, classes)
        t = Task(data, "detect", [], LABELS if truths else DETECTIONS, truths, hard, names)
        prepare = detect.prepare
    elif _classifies(net):
        labels = df and (df.labels or df.names)
        truths = _class_labels(data, mapeval.read_names(labels, _classifies(net).outputs)) if labels else None
        t = Task(data, "classify", [], LABELS if labels else CLASSES, truths)

        def prepare(net, f):
            from ..image import letterbox, load_color
            return detect.Prepared(letterbox(load_color(f), net.width, net.height), 0, 0, True)
    else:
        raise DarkbenchError(f"--data {data.path}: the network has no detection head and no classifier output "
                             "(one vector of class scores): no accuracy to measure", model.path)
    with _bar(len(data.images), "preparing") as bar:
        for k, f in enumerate(data.images):
            try:
                t.preps.append(prepare(net, f))
            except DarkbenchError as e:
                raise DarkbenchError(str(e), listed, k + 1 if df else None) from None
            bar.update()
    return t


def _classifies(net):
    """The output layer of a network with one output and a 3-channel image input if it is a vector of at least 2
    class scores (darknet's softmax, a Keras Dense), else None."""
    out = net.returned if hasattr(net, "returned") else net.output_indices()  # darknet's / a Keras graph's
    if len(out) != 1 or net.channels != 3 or not (net.width and net.height):
        return None
    layer = net.layers[out[0]]
    return layer if tuple(layer.out_shape[1:]) in ((1, 1), (0, 0)) and layer.outputs >= 2 else None


def _class_labels(data, labels):
    """Each image's class as darknet's classifier validation finds it: the first label that is part of its path."""
    out = []
    for k, f in enumerate(data.images):
        j = next((j for j, name in enumerate(labels) if name and name in f), None)
        if j is None:
            raise DarkbenchError(f"no class name of the labels in the image's path {f!r} (darknet's classifier "
                                 "labels: the class name is part of the path)", data.datafile.valid, k + 1)
        out.append(j)
    return np.asarray(out)


def score(runner, case, t):
    """(the entry's accuracy fields, {field: resampled values} for the paired change): from the runner's own
    outputs on the task's images, scored as the Task says."""
    base = dict(accuracy_data=t.data.path, accuracy_images=len(t.preps), accuracy_against=t.against,
                accuracy_metric=t.metric)
    if runner.outputs is None:
        return dict(note=f"accuracy: not measured: {runner.agreement_note or 'this backend gives no outputs'}"), {}
    fields, boots = (_detection if t.kind == "detect" else _classification)(runner, case, t)
    if "note" in fields:
        return fields, {}
    return dict(base, **fields), boots


def _detection(runner, case, t):
    from ..evaluation import HIER_THRESH
    if t.against == LABELS:  # darkbench map's figures: its confidence, NMS and matching, the fork's defaults
        found = _found(runner, case, t, mapeval.CONF, HIER_THRESH, mapeval.NMS)
        classes = len(t.names)

        def tally(images):
            out = mapeval.Tally(classes, mapeval.IOU_THRESH, mapeval.THRESH, t.names)
            for i in images:
                d = found[i]
                out.add(d.boxes, d.probs, t.truths[i], t.hard[i] if t.hard else None, d.width, d.height,
                        t.data.images[i])
            return out
        value, ci, boot = stats.bootstrap(lambda images: tally(images).result(mapeval.POINTS).map, len(found),
                                          N_BOOT)
        fields, boots = dict(accuracy=value, accuracy_ci95=ci), dict(accuracy=boot)
        records = tally(range(len(found))).images
        coco = _coco(records, t.names)
        ap, ap_ci, ap_boot = stats.bootstrap(lambda images: coco([records[i] for i in images]), len(records), N_BOOT)
        if ap == ap:  # COCO has something to average
            fields.update(coco_ap=ap, coco_ap_ci95=ap_ci)
            boots["coco_ap"] = ap_boot
        return fields, boots
    if t.reference is None:
        t.reference, t.why = agreement.reference_detections(case.model, t.preps, "an image of the data")
    if t.why:
        return dict(note=f"accuracy: {t.why}"), {}
    if not any((d.probs > agreement.TRUTH_THRESH).any() for d in t.reference):
        return dict(note=f"accuracy: not measured: fp32 eager detects nothing in the {len(t.preps)} images"), {}
    found = _found(runner, case, t, agreement.FOUND_THRESH)
    value, ci, boot = agreement.map50(t.reference, found, agreement.TRUTH_THRESH, N_BOOT, boot=True)
    return dict(accuracy=value, accuracy_ci95=ci), dict(accuracy=boot)


def _found(runner, case, t, thresh, hier_thresh=.5, nms=.45):
    """The runner's detections on the task's images, batch by batch (a progress bar for many)."""
    out, step = [], max(case.batch, 8)
    with _bar(len(t.preps), f"{case.model.name} {case.dtype} detections") as bar:
        for s in range(0, len(t.preps), step):
            out += agreement.found_detections(runner, case, t.preps[s:s + step], thresh, hier_thresh, nms)
            bar.update(len(t.preps[s:s + step]))
    return out


def _coco(records, names):
    """COCO's AP@[.5:.95] of mapeval.Image records (NaN where COCO has nothing to average)."""
    from .. import coco

    def ap(images):
        v = coco.metrics(images, names)["AP"]
        return v if v >= 0 else float("nan")
    return ap


def _classification(runner, case, t):
    x = np.stack([p.x for p in t.preps])
    scores = np.asarray(agreement.run_outputs(runner.outputs, x, case.batch)[0]).reshape(len(x), -1)
    if t.truths is not None:
        truth = t.truths
    else:
        if t.reference is None:
            want = agreement.eager_outputs(case.model.build(), x)[0].reshape(len(x), -1)
            t.reference = np.argsort(-want, axis=1, kind="stable")[:, 0]
        truth = t.reference
    ranked = np.argsort(-scores, axis=1, kind="stable")
    top1 = (ranked[:, 0] == truth).astype(float)
    top5 = (ranked[:, :5] == truth[:, None]).any(1).astype(float)
    v1, ci1, b1 = stats.bootstrap(lambda i: float(top1[i].mean()), len(x), N_BOOT)
    fields, boots = dict(accuracy=v1, accuracy_ci95=ci1), dict(accuracy=b1)
    if scores.shape[1] > 5:
        v5, ci5, b5 = stats.bootstrap(lambda i: float(top5[i].mean()), len(x), N_BOOT)
        fields.update(top5=v5, top5_ci95=ci5)
        boots["top5"] = b5
    return fields, boots


def change(entry, boots, fp32, fp32_boots):
    """accuracy_change and its paired bootstrap CI: this entry's accuracy minus its backend's fp32's on the same
    images (the same resamples)."""
    if entry.accuracy is None or fp32.accuracy is None:
        return {}
    a, b = boots.get("accuracy"), fp32_boots.get("accuracy")
    ci = stats.percentile_ci(a - b) if a is not None and b is not None else None
    return dict(accuracy_change=entry.accuracy - fp32.accuracy, accuracy_change_ci95=ci)
