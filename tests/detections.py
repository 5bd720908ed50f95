"""Helpers for the detection tests: darknet's sample images as PNG, random weights under which some boxes pass
the threshold, detections compared box by box, and each comparison as one call (tests/test_detect.py).
`python tests/detections.py` runs them all and prints the figures the README quotes (needs both darknets:
DARKBENCH_ALEXEYAB set)."""
import functools
import os
from pathlib import Path

import numpy as np

DATA = Path("/usr/share/darknet/data")
WEIGHTS = Path(__file__).resolve().parent.parent.parent / "shared" / "weights" / "yolov3-tiny-coco.weights"
PICTURES = ("dog", "person", "horses", "eagle", "giraffe", "kite")
COCO = DATA / "coco.names"
OBJ, CLS = .6, -4  # objectness the top cells reach; the class logits' mean


def png(name, directory):
    """darknet's sample image NAME.jpg as a PNG: both darknets then read the same pixels (the fork decodes JPEG
    with stb_image, 2018 darknet with OpenCV/libjpeg; they differ by a level or two)."""
    from PIL import Image
    out = Path(directory) / f"{name}.png"
    if not out.exists():
        Image.open(DATA / f"{name}.jpg").save(out)
    return out


def logit(p):
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def head_layout(layer):
    """(entries per box, objectness entry, first class entry) of a head's input channels, or None ([detection])."""
    o = layer.opts
    if layer.type == "region":
        return o["coords"] + o["classes"] + 1, o["coords"], o["coords"] + 1
    return {"yolo": (o["classes"] + 5, 4, 5), "Gaussian_yolo": (o["classes"] + 9, 8, 9)}.get(layer.type)


def detecting_weights(cfg, out, image, dialect, frac=.03, seed=0):
    """Random weights (the fork's forward-test arrays in its dialect: batch-norm statistics off their defaults)
    under which some boxes pass a threshold on `image`: each head's convolution is centred by its biases, its
    objectness and class channels scaled to logits of spread about 2 (by their quartiles); then each anchor's objectness
    reaches OBJ in its top `frac` of cells, class logits get N(CLS, 1.5) (N(CLS, 4) under a softmax) and
    Gaussian_yolo's uncertainties -3. A [detection]'s connected layer gets a quiet kernel, confidences in
    [.3, .8], class scores in [0, 1] and large overlapping boxes. Written to `out` in darknet's layout."""
    import torch

    import darkbench
    from darkbench import detect, models, weights
    from test_fork_forward import fork_arrays
    net = models.analyse(cfg, dialect=dialect)
    arrays = fork_arrays(net, seed) if dialect == "alexeyab" else weights.random_arrays(net, seed)
    rng = np.random.default_rng(seed + 7)
    convs = {l.index - 1: l for l in net.detection_heads if head_layout(l)}
    for i in convs:
        arrays[(i, "biases")][:] = 0
    weights.write(out, net, arrays, overwrite=True)
    if convs:
        model = darkbench.load(cfg, out, dialect=dialect)
        x = torch.from_numpy(detect.prepare(net, image).x[None])
        with torch.no_grad():
            outs = model.layer_outputs(x)
    for i, head in convs.items():
        conv = net.layers[i]
        y = outs[i][0].numpy().astype(np.float64)
        z = logit(y) if conv.opts.get("activation") == "logistic" else y
        flat = z.reshape(len(z), -1)
        q1, mid, q3 = np.quantile(flat, [.25, .5, .75], axis=1)
        k, obj, cls = head_layout(head)
        scored = np.arange(len(z)) % k >= obj  # objectness and classes (not the box: exp would blow it up)
        gain = np.where(scored, np.minimum(2 * 1.35 / np.maximum(q3 - q1, 1e-6), 100), 1)
        arrays[(i, "weights")] *= gain.astype(np.float32).reshape(-1, *[1] * (arrays[(i, "weights")].ndim - 1))
        z = (flat - mid[:, None]) * gain[:, None]  # and centred by the biases below
        b = arrays[(i, "biases")]
        b[:] = -mid * gain
        for a in range(conv.out_shape[0] // k):
            b[a * k + obj] += logit(OBJ) - np.quantile(z[a * k + obj], 1 - frac)
            spread = 4 if head.opts.get("softmax") else 1.5  # a softmax over classes needs a clear winner
            b[a * k + cls:a * k + cls + head.opts["classes"]] += rng.normal(CLS, spread, head.opts["classes"])
            if head.type == "Gaussian_yolo":
                b[a * k + np.array([1, 3, 5, 7])] -= 3
    for head in net.detection_heads:
        if head_layout(head) is None:  # [detection]: the connected layer before it, biases and a quiet kernel
            i, o = head.index - 1, head.opts
            loc, classes, n = o["side"] ** 2, o["classes"], o["num"]
            arrays[(i, "weights")] *= np.float32(.1)
            b = arrays[(i, "biases")]
            b[:loc * classes] = rng.uniform(0, 1, loc * classes) ** 4
            b[loc * classes:loc * (classes + n)] = rng.uniform(.3, .8, loc * n)
            b[loc * (classes + n):] = rng.uniform(.4, .9, loc * n * 4)
    weights.write(out, net, arrays, overwrite=True)
    return Path(out)


def match(ours, theirs, width, height):
    """Pair our detections [(class, (x, y, w, h) relative, prob)] with darknet's one to one: the same class, the
    box within 0.5 px of the image, the probability within 1e-4 (the closest such). The order is not compared:
    two probabilities a float rounding apart may sort either way in NMS's sorts, and rows that tie at 0 for the
    later classes keep that order. Returns (pairs, worst box difference in pixels, worst probability
    difference)."""
    assert len(ours) == len(theirs), (len(ours), len(theirs))
    size = np.array([width, height] * 2, dtype=np.float64)
    left = {}
    for j, (c, b, p) in enumerate(theirs):
        left.setdefault(c, []).append(j)
    worst_box = worst_prob = 0.0
    for c, b, p in ours:
        cands = left.get(c, [])
        errs = [(np.abs((np.array(b) - np.array(theirs[j][1])) * size).max(), abs(p - theirs[j][2]), j)
                for j in cands]
        errs = [e for e in errs if e[0] <= 0.5 and e[1] <= 1e-4]
        assert errs, f"no match for class {c} box {b} prob {p}"
        box, prob, j = min(errs, key=lambda e: max(e[0] / .5, e[1] / 1e-4))
        cands.remove(j)
        worst_box, worst_prob = max(worst_box, box), max(worst_prob, prob)
    return len(ours), worst_box, worst_prob


def entries(dets):
    """Our Detections as (class, (x, y, w, h), prob) per nonzero probability (the fork's -out lists them so)."""
    return [(j, tuple(dets.boxes[i]), float(p)) for i in range(len(dets.probs))
            for j, p in enumerate(dets.probs[i]) if p > 0.005]


def compare_rows(ours, theirs, pixels=False):
    """Our Detections against darknet's rows [(objectness, (x, y, w, h), probs)] (match()); pixels: darknet's
    boxes are in image pixels ([detection]), not relative."""
    size = np.array([ours.width, ours.height] * 2, dtype=np.float64)
    rows = [(np.array(b) / (size if pixels else 1), p) for _, b, p in theirs]
    want = [(j, tuple(b), float(q)) for b, p in rows for j, q in enumerate(p) if q > 0.005]
    return match(entries(ours), want, ours.width, ours.height)


def compare_objects(ours, objects):
    """Our Detections against the fork's JSON objects (6 decimals) (match())."""
    theirs = [(o["class_id"], tuple(o["relative_coordinates"][k] for k in ("center_x", "center_y", "width",
                                                                             "height")), o["confidence"])
              for o in objects]
    return match(entries(ours), theirs, ours.width, ours.height)


# -- the comparisons, each one call (the tests assert on them; main() prints them) ---------------------------
@functools.lru_cache(maxsize=4)
def _model(cfg, weights, dialect, stamp):
    import darkbench
    return darkbench.load(cfg, weights, dialect=dialect)


def ours(cfg, weights, image, thresh, dialect, letter_box=None, nms=.45):
    """darkbench's Detections (the model loaded once per cfg, weights file and dialect)."""
    from darkbench import detect
    stamp = tuple(os.stat(p).st_mtime_ns for p in (cfg, weights))
    model = _model(str(cfg), str(weights), dialect, stamp)
    return detect.network_boxes(model, image, thresh, nms=nms, letter_box=letter_box)


def zoo_copy(cfg, out, size=None, **options):
    """A copy of cfg, its head options replaced (every occurrence), at size x size with batch 1 when given."""
    from darknet import rewrite_net
    lines = []
    for line in Path(cfg).read_text().splitlines():
        key = line.split("=")[0].strip()
        lines.append(f"{key}={options[key]}" if key in options else line)
    Path(out).write_text("\n".join(lines) + "\n")
    return rewrite_net(out, out, width=size, height=size, batch=1, subdivisions=1) if size else Path(out)


def trained_2018(dk, image, thresh=.25):
    """yolov3-tiny's trained weights: (ours, darknet's array, (entries, worst box px, worst prob))."""
    from darknet import ZOO
    theirs = dk.detections(ZOO / "yolov3-tiny.cfg", WEIGHTS, image, thresh=thresh)
    got = ours(ZOO / "yolov3-tiny.cfg", WEIGHTS, image, thresh, "pjreddie")
    return got, theirs, compare_rows(got, theirs["rows"])


def random_2018(dk, name, size, thresh, pixels, workdir):
    """A 2018 zoo cfg with detecting_weights: (ours, figures, our entries before NMS)."""
    from darknet import ZOO
    cfg = zoo_copy(ZOO / f"{name}.cfg", Path(workdir) / f"{name}.cfg", size)
    image = png("dog", workdir)
    weights = detecting_weights(cfg, Path(workdir) / "w.weights", image, "pjreddie")
    theirs = dk.detections(cfg, weights, image, thresh=thresh)
    got = ours(cfg, weights, image, thresh, "pjreddie")
    before = int((ours(cfg, weights, image, thresh, "pjreddie", nms=0).probs > 0).sum())
    return got, compare_rows(got, theirs["rows"], pixels), before


def trained_fork(fork, image, letter_box=False):
    """yolov3-tiny's trained weights through the fork's detector test: (ours, its lines, figures)."""
    from darknet import ZOO
    lines, objects = fork.detector_test(ZOO / "yolov3-tiny.cfg", WEIGHTS, image, COCO, letter_box=letter_box)
    got = ours(ZOO / "yolov3-tiny.cfg", WEIGHTS, image, .25, "alexeyab", letter_box=letter_box or None)
    return got, lines, compare_objects(got, objects)


def random_fork(fork, name, options, frac, workdir, thresh=.3):
    """A fork zoo cfg at 160x160 with detecting_weights: (ours, figures, our entries before NMS)."""
    import darkbench
    cfg = zoo_copy(fork.cfg_dir / f"{name}.cfg", Path(workdir) / f"{name}.cfg", 160, **options)
    image = png("dog", workdir)
    weights = detecting_weights(cfg, Path(workdir) / "w.weights", image, "alexeyab", frac)
    classes = darkbench.analyse(cfg, dialect="alexeyab").detection_heads[-1].opts["classes"]
    names = Path(workdir) / "names"
    names.write_text("".join(f"class{i}\n" for i in range(classes)))
    _, objects = fork.detector_test(cfg, weights, image, names, thresh=thresh)
    got = ours(cfg, weights, image, thresh, "alexeyab")
    before = int((ours(cfg, weights, image, thresh, "alexeyab", nms=0).probs > 0).sum())
    return got, compare_objects(got, objects), before


def opencv(image, resized):
    """cv2.dnn_DetectionModel on yolov3-tiny's trained weights against darkbench in the fork's conventions:
    (OpenCV's [(class, confidence, rect)], darkbench's Detection list). resized: OpenCV is given the image
    already resized by darknet's rule (as bytes, which darkbench then reads too), else the image itself."""
    import cv2

    from darkbench import detect
    from darkbench.image import load_color, resize
    from darknet import ZOO
    pixels = load_color(image)
    if resized:
        pixels = np.round(resize(pixels, 416, 416) * 255) / np.float32(255)
    frame = np.ascontiguousarray(np.round(pixels * 255).astype(np.uint8).transpose(1, 2, 0)[:, :, ::-1])
    model = cv2.dnn_DetectionModel(str(ZOO / "yolov3-tiny.cfg"), str(WEIGHTS))
    model.setInputParams(scale=1 / 255, size=(416, 416), swapRB=True)
    ids, confs, rects = model.detect(frame, .25, .45)
    found = detect.detect(ZOO / "yolov3-tiny.cfg", pixels, .25, .45, weights=WEIGHTS, dialect="alexeyab",
                          names=COCO.read_text().splitlines())[0]
    return [(int(i), float(c), np.array(r)) for i, c, r in zip(np.ravel(ids), np.ravel(confs), rects)], found


def as_opencv(box):
    """darkbench's (left, top, width, height) as OpenCV's Rect: left and top clipped at 0, width and height kept."""
    left, top, w, h = box
    return np.array([max(0, left), max(0, top), w, h])


def opencv_pairs(cv, found, tol_px):
    """Each OpenCV detection with darkbench's of the same class and nearest box: [(class, OpenCV's confidence,
    darkbench's probability, box difference px)]; a detection with none within tol_px fails."""
    out = []
    for c, conf, rect in cv:
        same = [(np.abs(as_opencv(d.box) - rect).max(), d) for d in found if d.class_id == c]
        same = [s for s in same if s[0] <= tol_px]
        assert same, (c, conf, rect)
        px, d = min(same, key=lambda s: (abs(s[1].prob - conf), s[0]))
        out.append((c, conf, d.prob, px))
    return out


# RANDOM_2018: (cfg, size (None: its own), thresh, darknet's boxes in image pixels)
RANDOM_2018 = [("yolov2-tiny", None, .3, False), ("yolov1-tiny", 224, .3, True)]
# RANDOM_FORK: the fork's zoo at 160x160: (cfg, what it exercises, head options to set, the top fraction of
# cells whose objectness is raised)
RANDOM_FORK = [("yolov4-tiny", "scale_x_y 1.05, greedynms", {}, .03),
               ("yolov7-tiny", "new_coords, scale_x_y 2, diounms", {}, .03),
               ("yolov7-tiny", "diounms with beta_nms .9", {"beta_nms": ".9"}, .03),
               ("yolov4-csp", "new_coords, diounms, [net] letter_box=1", {}, .03),
               ("Gaussian_yolov3_BDD", "uncertainties", {}, .03),
               ("yolov2-tiny", "the fork's [region]", {}, .5)]


def main():
    """Every comparison once, as a table: what against what, detections compared, worst box and probability."""
    import sys
    import tempfile

    from tabulate import tabulate

    import alexeyab
    from darknet import Darknet
    sys.stdout.reconfigure(line_buffering=True)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        dk, fork = Darknet(d), alexeyab.fork()
        for p in PICTURES:
            got, _, fig = trained_2018(dk, png(p, d))
            rows.append(("2018 darknet (dkdetect.c)", f"yolov3-tiny trained, {p}.png", *fig))
        for name, size, thresh, pixels in RANDOM_2018:
            w = Path(d) / name
            w.mkdir()
            _, fig, before = random_2018(dk, name, size, thresh, pixels, w)
            rows.append(("2018 darknet (dkdetect.c)", f"{name} random, dog.png ({before} before NMS)", *fig))
        for p in PICTURES:
            _, _, fig = trained_fork(fork, png(p, d))
            rows.append(("the fork's detector test", f"yolov3-tiny trained, {p}.png", *fig))
        _, _, fig = trained_fork(fork, png("dog", d), letter_box=True)
        rows.append(("the fork's detector test", "yolov3-tiny trained, dog.png, -letter_box", *fig))
        for i, (name, what, options, frac) in enumerate(RANDOM_FORK):
            w = Path(d) / f"fork{i}"
            w.mkdir()
            _, fig, before = random_fork(fork, name, options, frac, w)
            rows.append(("the fork's detector test", f"{name} random 160x160 ({what}; {before} before NMS)", *fig))
        for p in ("dog", "person", "horses"):
            for resized in (True, False):
                cv, found = opencv(png(p, d), resized)
                pairs = opencv_pairs(cv, found, 1 if resized else 12)
                rows.append(("OpenCV DetectionModel", f"yolov3-tiny trained, {p}.png"
                             f"{' resized by darknet' if resized else ''} ({len(found)} darkbench lines)",
                             len(pairs), max(p[3] for p in pairs), max(abs(p[1] - p[2]) for p in pairs)))
    print(tabulate(rows, headers=["oracle", "network, image", "detections", "worst box px", "worst prob"],
                   floatfmt=".2g"))


if __name__ == "__main__":
    main()
