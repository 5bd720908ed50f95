"""Helpers for the detection tests: darknet's sample images as PNG, random weights under which some boxes pass
the threshold, and detections compared box by box (tests/test_detect.py; `python tests/detections.py` prints
the figures the README quotes)."""
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
