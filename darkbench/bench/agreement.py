"""Agreement beside speed: how far a backend's outputs are from darkbench's darknet-exact fp32 eager model
(the same weights file) on a fixed set of inputs, and for a detector how far its detections are from that
model's (agreement mAP@0.5, bootstrap CI over the images). Checked once per model, backend, device and dtype (at
the first batch measured), not per timed sample: a fast wrong answer is not a result."""
import functools
import glob
import os

import numpy as np

from .dtypes import DTYPES

N_INPUTS = 8
SAMPLE_IMAGES = "/usr/share/darknet/data"
NOT_FINITE = "outputs not finite (NaN or inf)"
# a detector's detections: the reference's at darknet detect's threshold are the truth; the entry's are kept
# down to detector map's, ranked by probability; the mAP's CI from this many resamples of the images
TRUTH_THRESH, FOUND_THRESH, N_BOOT = .25, .005, 200
MAX_OBJECTS = 100  # per image, as COCO's maxDets: beyond, fp32 finds no objects but noise (random weights)


@functools.lru_cache(maxsize=8)
def inputs(shape, n=N_INPUTS, images=SAMPLE_IMAGES):
    """(n, *shape) float32 and what they are: darknet's sample images (*.jpg, sorted) letterboxed to a
    3-channel image input as darknet's classifier prepares them, then seeded uniform random inputs."""
    xs = []
    if len(shape) == 3 and shape[0] == 3 and os.path.isdir(images):
        from ..image import letterbox, load_color
        for f in sorted(glob.glob(os.path.join(images, "*.jpg")))[:n]:
            xs.append(letterbox(load_color(f), shape[2], shape[1]))
    k = len(xs)
    rng = np.random.default_rng(0)
    while len(xs) < n:
        xs.append(rng.random(shape, dtype=np.float32))
    what = (f"{k} of darknet's sample images ({images}/*.jpg, letterboxed) and {n - k} seeded random inputs" if k
            else f"{n} seeded random inputs")
    x = np.stack(xs).astype(np.float32)
    x.flags.writeable = False
    return x, what


def reference(model, at=None):
    """darkbench's darknet-exact fp32 eager outputs of a bench Model on inputs(): a list (one per output, or per
    layer index in `at`) of (n, ...) arrays, one input at a time (batch 1, as darknet runs). Also the inputs'
    text."""
    m = model.build()
    x, what = inputs(tuple(m.input_shape))
    return x, what, eager_outputs(m, x, at)


def eager_outputs(m, x, at=None):
    """A built model's outputs (or those of the layers in `at`) on the inputs x (n, ...), one at a time: a list of
    (n, ...) arrays."""
    import torch
    outs = []
    with torch.inference_mode():
        for xi in x:
            t = torch.from_numpy(xi[None].copy())
            if at:
                every = m.layer_outputs(t)
                y = [every[i] for i in at]
            else:
                y = m(t)
            outs.append([v.float().numpy() for v in (y if isinstance(y, (tuple, list)) else (y,))])
    return [np.concatenate([o[j] for o in outs]) for j in range(len(outs[0]))]


def run_outputs(fn, x, batch):
    """fn (a (batch, ...) array -> list of arrays) over the n inputs x in batches of `batch` (the last one
    filled by cycling through x): a list of (n, ...) arrays."""
    n, parts = len(x), []
    for s in range(0, n, batch):
        y = fn(np.ascontiguousarray(x[[(s + i) % n for i in range(batch)]]))
        parts.append([np.asarray(a)[:min(batch, n - s)] for a in y])
    return [np.concatenate([p[j] for p in parts]) for j in range(len(parts[0]))]


def _top(v, k):
    return np.argsort(-v, axis=1, kind="stable")[:, :k]


def compare(got, want):
    """rel_l2 (||got - want|| / ||want|| over every output value), max_abs, and for a classifier (one
    (n, classes) output) top1_agree (fraction of inputs with the same top-1) and top5_agree (the same
    top-5, as a set; more than 5 classes only). Non-finite outputs: rel_l2 and max_abs None."""
    n = len(want[0])
    if len(got) != len(want):
        raise ValueError(f"{len(got)} outputs where the reference has {len(want)}")
    g = np.concatenate([np.asarray(a, np.float64).reshape(n, -1) for a in got], 1)
    w = np.concatenate([np.asarray(a, np.float64).reshape(n, -1) for a in want], 1)
    if g.shape != w.shape:
        raise ValueError(f"output sizes differ: {g.shape[1]} values per input where the reference has {w.shape[1]}")
    if not np.isfinite(g).all():
        return dict(rel_l2=None, max_abs=None, top1_agree=None, top5_agree=None)
    d = np.linalg.norm(g - w)
    ref = np.linalg.norm(w)
    out = dict(rel_l2=float(d / ref if ref > 0 else d), max_abs=float(np.abs(g - w).max()), top1_agree=None,
               top5_agree=None)
    if len(want) == 1 and want[0].ndim == 2 and w.shape[1] >= 2:
        out["top1_agree"] = float(np.mean(_top(g, 1)[:, 0] == _top(w, 1)[:, 0]))
        if w.shape[1] > 5:
            out["top5_agree"] = float(np.mean([set(a) == set(b) for a, b in zip(_top(g, 5), _top(w, 5))]))
    return out


def check(runner, case, cache):
    """The entry's agreement fields for a prepared runner of a Case; `cache` holds each model's reference."""
    if runner.outputs is None:
        return dict(agreement=runner.agreement_note or "not checked: this backend gives no outputs")
    key = (case.model, runner.compare_at)
    if key not in cache:
        cache[key] = reference(case.model, runner.compare_at)
    x, what, want = cache[key]
    res = compare(run_outputs(runner.outputs, x, case.batch), want)
    text = f"{what}, at batch {case.batch}, against darkbench's darknet-exact fp32 eager (same weights)"
    if res["rel_l2"] is None:
        text = f"{NOT_FINITE}; {text}"
    if res["rel_l2"] is not None and detects(case.model.net):
        found = detections(runner, case, cache)
        text += f"; detections: {found.pop('text')}"
        res.update(found)
    return dict(res, agreement=text + (f"; {runner.agreement_note}" if runner.agreement_note else ""))


def detects(net):
    """Whether a network has detection heads (darknet layers whose family DETECTS)."""
    return getattr(net, "has_darknet_layers", False) and any(l.trait("DETECTS") for l in net.layers)


def detections(runner, case, cache):
    """agreement_map50 (and its bootstrap 95% CI): the mAP@0.5 of a detector entry's detections against
    darkbench's fp32 eager's on darknet's sample images, each prepared as the dialect's detector prepares it.
    The reference's detections above TRUTH_THRESH are the truth; the entry's down to FOUND_THRESH are ranked by
    probability; 101-point AP over the classes the truth has. A text saying so (or why there is none)."""
    from .. import detect
    net = case.model.net
    key = ("detections", case.model)
    if key not in cache:
        files = sorted(glob.glob(os.path.join(SAMPLE_IMAGES, "*.jpg")))[:N_INPUTS]
        preps = [detect.prepare(net, f) for f in files]
        truth, why = reference_detections(case.model, preps, "a sample image")
        if not preps:
            why = f"not checked: no sample images in {SAMPLE_IMAGES}"
        cache[key] = preps, truth, why
    preps, truth, why = cache[key]
    if why:
        return dict(text=why)
    found = found_detections(runner, case, preps, FOUND_THRESH)
    objects = sum(int((t.probs > TRUTH_THRESH).sum()) for t in truth)
    if not objects:
        return dict(text=f"not checked: fp32 eager detects nothing in the {len(preps)} sample images")
    value, ci = map50(truth, found, TRUTH_THRESH)
    return dict(agreement_map50=value, agreement_map50_ci95=ci,
                text=f"agreement mAP@0.5 against fp32 eager's {objects} detections (thresh {TRUTH_THRESH}) in "
                     f"{len(preps)} sample images, its own down to {FOUND_THRESH}; CI: {N_BOOT} resamples of "
                     "the images")


def reference_detections(model, preps, what="an image"):
    """darkbench's fp32 eager detections (above TRUTH_THRESH) of a bench Model on prepared images, and why they
    cannot be the truth (None when they can): more than MAX_OBJECTS in one image is noise, not objects."""
    from .. import detect
    truth = []
    with detect.Engine(model.build()) as own:
        for p in preps:
            truth.append(detect.decode(model.net, {i: y[0] for i, y in own(p.x[None]).items()}, p, TRUTH_THRESH))
            n = int((truth[-1].probs > TRUTH_THRESH).sum())
            if n > MAX_OBJECTS:
                return truth, (f"not checked: fp32 eager finds {n} objects in {what} (more than {MAX_OBJECTS}: "
                               "noise, not objects; random weights?)")
    return truth, None


def found_detections(runner, case, preps, thresh, hier_thresh=.5, nms=.45):
    """A prepared runner's detections on prepared images, run at its batch; each head read as the runner gives it."""
    from .. import detect
    from .heads import gives, head_outputs
    net = case.model.net
    outs = run_outputs(runner.outputs, np.stack([p.x for p in preps]), case.batch)
    got = head_outputs(net, gives(net, runner, "this"), outs, len(preps))
    return [detect.decode(net, {i: y[k] for i, y in got.items()}, p, thresh, hier_thresh, nms)
            for k, p in enumerate(preps)]


def map50(truth, found, thresh, n_boot=N_BOOT, seed=0, boot=False):
    """(mAP@0.5 of the Detections `found` against those of `truth` above thresh, image by image: the fork's
    detector map matching (mapeval.Tally) with COCO's 101 recall points, averaged over the classes the truth has;
    a percentile-bootstrap 95% CI over the images, None below 2 images); boot: also the resampled values
    (stats.bootstrap's, NaN for a resample without any truth)."""
    from .stats import bootstrap
    value, ci, values = bootstrap(lambda images: map50_of(truth, found, images, thresh), len(truth), n_boot, seed)
    return (value, ci, values) if boot else (value, ci)


def map50_of(truth, found, images, thresh):
    """map50's value over the images (indices) given."""
    from .. import mapeval
    tally = mapeval.Tally(truth[0].probs.shape[1], 0.5, thresh)
    for i in images:  # an image drawn twice counts twice
        rows, cls = np.nonzero(truth[i].probs > thresh)
        tally.add(found[i].boxes, found[i].probs, mapeval.Truth(cls.astype(np.int64), truth[i].boxes[rows]))
    aps = [c.ap for c in tally.result(points=101).classes if c.truths]
    return float(np.mean(aps)) if aps else float("nan")


def disagrees(r):
    """Why a result's outputs disagree beyond its dtype's tolerance (a results row: dict), or None."""
    agreement, rel = r.get("agreement") or "", r.get("rel_l2")
    if agreement.startswith(NOT_FINITE):
        return NOT_FINITE
    dtype = DTYPES.get(r.get("dtype") or "fp32")
    tol = dtype.tolerance if dtype else None
    if rel is not None and tol is not None and rel > tol:
        return f"rel L2 {rel:.2g} > {tol:g} ({r.get('dtype')} tolerance)"
    return None
