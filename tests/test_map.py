"""`darkbench map` against the AlexeyAB fork's own `detector map`, figure for figure as both print them, on two
labelled sets written here (tests/mapsets.py):

- coco: yolov3-tiny (the fork's cfg) with the trained COCO weights on 10 PNG images, hand-written labels (several
  boxes of a class, classes nothing finds, an empty label file, an image without one);
- small: a 3-class two-head detector with random weights, letterboxed ([net] letter_box=1) and the fork's DIoU
  NMS (greedynms), labels made from its own detections (jittered) and a difficult= list.

Each at -points 0, 11 and 101 and two IoU thresholds (with two confidence thresholds). Then the CLI's JSON and
the Python API, and bad input through the CLI in a subprocess."""
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import mapsets
from require import require_module

ROOT = Path(__file__).resolve().parent.parent
CASES = [(points, iou, thresh) for iou, thresh in ((.5, .25), (.75, .1)) for points in (0, 11, 101)]


@dataclass
class Set:
    root: Path
    data: Path
    cfg: Path
    weights: Path
    fork: object
    model: object = None
    runs: dict = None

    def fork_map(self, points=0, iou=.5, thresh=.25):
        """The fork's detector map stdout on this set (each setting run once per session)."""
        self.runs = {} if self.runs is None else self.runs
        key = (points, iou, thresh)
        if key not in self.runs:
            self.runs[key] = mapsets.fork_map(self.fork, self.data, self.cfg, self.weights, points, iou, thresh,
                                              cwd=self.root)
        return self.runs[key]


@pytest.fixture(scope="module")
def coco_set(tmp_path_factory, alexeyab_fork, trained_weights):
    root = tmp_path_factory.mktemp("coco-set")
    return Set(root, mapsets.write_set(root), alexeyab_fork.cfg_dir / "yolov3-tiny.cfg", trained_weights,
               alexeyab_fork)


def _small_labels(model, root, data):
    """Labels from the network's own detections: 2 to 4 of each image's most probable boxes, jittered (some
    match at IoU .5, fewer at .75), a box of a random class elsewhere in every other image; the last image has
    no label file. A parallel difficult list marks the next most probable box of each image difficult."""
    from darkbench import detect
    paths = (root / "valid.txt").read_text().split()
    rng = np.random.default_rng(1)
    hard = root / "difficult"
    hard.mkdir()
    listed = []
    for k, (p, d) in enumerate(zip(paths, detect.each_network_boxes(model, paths, .005, 0))):
        stem = Path(p).stem
        listed.append(f"{hard / stem}.png\n")
        best = d.probs.max(1)
        order = np.argsort(-best, kind="stable")
        top, extra = order[:2 + k % 3], order[2 + k % 3]
        lines = [_line(d.probs[i].argmax(), d.boxes[i] + rng.normal(0, .02, 4)) for i in top]
        if k % 2:
            lines.append(f"{k % 3} {rng.uniform(.2, .8):.3f} {rng.uniform(.2, .8):.3f} .1 .15\n")
        if k < len(paths) - 1:
            Path(p).with_suffix(".txt").write_text("".join(lines))
        (hard / f"{stem}.txt").write_text(_line(d.probs[extra].argmax(), d.boxes[extra]))
    (root / "difficult.txt").write_text("".join(listed))
    with open(data, "a") as f:
        f.write(f"difficult = {root / 'difficult.txt'}\n")


def _line(cls, box):
    """A label line for a box (clipped into the image, as labels are)."""
    return f"{cls} " + " ".join(f"{v:.4f}" for v in np.clip(box, .01, .99)) + "\n"


@pytest.fixture(scope="module")
def small_set(tmp_path_factory, alexeyab_fork):
    import darkbench
    from darkbench import weights
    root = tmp_path_factory.mktemp("small-set")
    cfg, names, w = root / "small.cfg", root / "small.names", root / "small.weights"
    cfg.write_text(mapsets.SMALL_CFG)
    names.write_text(mapsets.SMALL_NAMES)
    net = darkbench.analyse(cfg, dialect="alexeyab")
    weights.write(w, net, weights.random_arrays(net, 5), for_loading=True)
    data = mapsets.write_set(root, names=names, labels={})
    s = Set(root, data, cfg, w, alexeyab_fork, darkbench.load(cfg, w, dialect="alexeyab", fuse=True))
    _small_labels(s.model, root, data)
    return s


@pytest.fixture(params=["coco_set", "small_set"])
def labelled(request):
    s = request.getfixturevalue(request.param)
    if s.model is None:
        import darkbench
        s.model = darkbench.load(s.cfg, s.weights, dialect="alexeyab", fuse=True)
    return s


def _compare(theirs, ours):
    """The fork's printed figures against ours, as printed (the same digits)."""
    t, o = mapsets.parse_map(theirs), mapsets.parse_map(ours)
    assert t["counts"] is not None and len(t["class"]) > 0, theirs[-3000:]
    for key in t:
        if key == "class":
            bad = [(a, b) for a, b in zip(t[key], o[key]) if a != b]
            assert not bad and len(t[key]) == len(o[key]), f"class lines differ (fork, ours): {bad[:5]}"
        else:
            assert t[key] == o[key], f"{key}: the fork printed {t[key]}, darkbench {o[key]}"
    return t


@pytest.mark.alexeyab
@pytest.mark.parametrize("points,iou,thresh", CASES)
def test_map_equals_the_forks(labelled, points, iou, thresh):
    from darkbench.evaluation import evaluate
    s = labelled
    theirs = s.fork_map(points, iou, thresh)
    result = evaluate(s.model, s.data, points=points, iou_thresh=iou, thresh=thresh, coco=False)
    t = _compare(theirs, "\n".join(result.lines()) + "\n")
    # the sets are not trivial: detections ranked, truths found and missed, APs strictly between 0 and 1
    assert int(t["counts"][0]) > 100 and 0 < result.tp < result.truths
    assert any(0 < c.ap < 1 for c in result.classes)


@pytest.mark.alexeyab
def test_cli_prints_the_forks_lines(coco_set):
    """The command's figure lines are the fork's lines, character for character (its stdout has progress and
    help around them)."""
    s = coco_set
    theirs = mapsets.fork_map(s.fork, s.data, s.cfg, s.weights, 101, .6, .3, cwd=s.root)
    r = _cli(["map", str(s.cfg), str(s.weights), str(s.data), "--points", "101", "--iou-thresh", ".6",
              "--thresh", ".3"], cwd=s.root)
    assert r.returncode == 0, r.stderr
    _compare(theirs, r.stdout)
    fork_lines = {l.strip("\r") for l in theirs.replace("\r", "\n").splitlines()}
    ours = [l for l in r.stdout.splitlines() if l.strip() and "COCO" not in l and not l.startswith("  ")]
    assert len(ours) == 80 + 5 and all(l in fork_lines for l in ours), [l for l in ours if l not in fork_lines]
    assert "AP @[IoU=0.50:0.95] all" in r.stdout
    assert "warning: 1 of 10 images have no label file" in r.stderr


@pytest.mark.alexeyab
def test_json_and_api(coco_set):
    """--json holds every figure (the printed ones unrounded) and equals the Python API's result."""
    import darkbench
    s = coco_set
    r = _cli(["map", str(s.cfg), str(s.weights), str(s.data), "--json"], cwd=s.root)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    api = darkbench.evaluate(s.cfg, s.data, s.weights).to_json()
    # the same detections; unrounded floats may differ in their last bits (oneDNN's sums depend on the thread
    # count, which the test process and the command's need not share)
    for key in ("map", "precision", "recall", "f1", "tp", "fp", "fn", "avg_iou", "detections", "truths", "classes",
                "coco"):
        assert _close(got[key], api[key]), key
    assert got["points"] == 0 and got["iou_thresh"] == .5 and got["info"]["dialect"] == "alexeyab"
    assert got["missing_labels"] == 1 and got["images"] == 10 and len(got["classes"]) == 80
    # classes detected without truth, and truths of classes never detected, both count 0 in the mean
    assert any(c["truths"] == 0 and c["detections"] > 0 for c in got["classes"])
    assert any(c["truths"] > 0 and c["ap"] == 0 for c in got["classes"])
    printed = mapsets.parse_map(s.fork_map())
    assert f"{got['map']:f}" == printed["map"][1]
    assert [f"{c['ap'] * 100:.2f}" for c in got["classes"]] == [c[2] for c in printed["class"]]
    assert 0 < got["coco"]["AP"] < got["coco"]["AP50"] <= 1 and got["coco"]["library"] == "faster-coco-eval"


@pytest.mark.alexeyab
@pytest.mark.parametrize("backend", ["opencv", "onnxruntime", "openvino"])
def test_engines_give_the_forks_figures(coco_set, backend):
    """--backend: another engine runs the network (OpenCV reads the cfg itself; ONNX Runtime and OpenVINO run
    darkbench's export), darkbench decodes the heads: the same printed figures."""
    from darkbench.bench.heads import BackendEngine
    from darkbench.evaluation import evaluate
    require_module({"opencv": "cv2"}.get(backend, backend))
    s = coco_set
    result = evaluate(s.cfg, s.data, s.weights, coco=False,
                      engine=lambda: BackendEngine(backend, s.cfg, s.weights, "alexeyab", 8))
    _compare(s.fork_map(), "\n".join(result.lines()) + "\n")
    assert result.info["backend"] == backend


@pytest.mark.alexeyab
def test_side_by_side_and_batched_agree(small_set):
    """darkbench's own model runs images side by side, one thread each, its convolutions prepacked; --batch runs
    them N a pass on every thread: the same figures (the fork's, above) either way."""
    from darkbench.evaluation import evaluate
    s = small_set
    side = evaluate(s.cfg, s.data, s.weights, coco=False)
    for batch in (1, 4):
        assert evaluate(s.cfg, s.data, s.weights, coco=False, batch=batch).lines() == side.lines()
    _compare(s.fork_map(), "\n".join(side.lines()) + "\n")


def _close(a, b):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return a == pytest.approx(b, rel=1e-6, abs=1e-12)
    return a == b


# -- bad input: one line naming the file (and line), exit 2, nothing written -----------------------------------

def _cli(args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "darkbench", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=600)


@pytest.fixture(scope="module")
def small_net(tmp_path_factory):
    """The small detector with random weights and a valid labelled set to spoil case by case."""
    import darkbench
    from darkbench import weights
    root = tmp_path_factory.mktemp("small-net")
    cfg, w = root / "small.cfg", root / "small.weights"
    cfg.write_text(mapsets.SMALL_CFG)
    (root / "small.names").write_text(mapsets.SMALL_NAMES)
    net = darkbench.analyse(cfg, dialect="alexeyab")
    weights.write(w, net, weights.random_arrays(net, 5), for_loading=True)
    return cfg, w


def _spoil(root, case):
    """A fresh valid set under root, spoiled as `case` says; returns (args after CFG WEIGHTS, expected message,
    the file the message names)."""
    names = root / "small.names"
    names.write_text(mapsets.SMALL_NAMES)
    img = root / "imgs"
    img.mkdir()
    from PIL import Image
    for k in range(3):
        Image.new("RGB", (40 + k, 30), (k * 40, 90, 200)).save(img / f"{k}.png")
        (img / f"{k}.txt").write_text("1 0.5 0.5 0.2 0.3\n")
    valid = root / "valid.txt"
    valid.write_text("".join(f"{img / f'{k}.png'}\n" for k in range(3)))
    data = root / "set.data"
    data.write_text(f"classes=3\nvalid={valid}\nnames={names}\n")
    label = img / "1.txt"
    extra = []
    if case == "missing image":
        valid.write_text(valid.read_text() + f"{img / 'gone.png'}\n")
        return [str(data)], f"{valid}:4: no such image: {img / 'gone.png'}", valid
    if case == "not 5 numbers":
        label.write_text("1 0.5 0.5 0.2 0.3\n2 0.5 0.5 0.2\n")
        return [str(data)], f"{label}:2: expected 5 numbers", label
    if case == "class too large":
        label.write_text("3 0.5 0.5 0.2 0.3\n")
        return [str(data)], f"{label}:1: class 3 is outside the network's 0..2", label
    if case == "box outside":
        label.write_text("1 0.5 0.5 0.2 0.3\n0 1.2 0.5 0.2 0.3\n")
        return [str(data)], f"{label}:2: x = 1.2 is outside [0, 1]", label
    if case == "undecodable image":
        (img / "2.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
        return [str(data)], f"{valid}:3: {img / '2.png'}: cannot read image", valid
    if case == "few names":
        short = root / "short.names"
        short.write_text("ant\nbee\n")
        return [str(data), "--names", str(short)], f"{short}: 2 names but the network has 3 classes", short
    if case == "data classes":
        data.write_text(f"classes=4\nvalid={valid}\nnames={names}\n")
        return [str(data)], f"{data}: classes=4 but the network detects 3 classes", data
    if case == "no valid":
        data.write_text(f"classes=3\nnames={names}\n")
        return [str(data)], f"{data}: no valid= line", data
    if case == "no data":
        return [str(root / "none.data")], f"{root / 'none.data'}: no such data file", root / "none.data"
    if case == "points":
        return [str(data), "--points", "1"], "--points 1: 0 (area under the curve) or", None
    raise AssertionError(case)


BAD = ["missing image", "not 5 numbers", "class too large", "box outside", "undecodable image", "few names",
       "data classes", "no valid", "no data", "points"]


@pytest.mark.parametrize("case", BAD)
def test_bad_input(small_net, tmp_path, case):
    cfg, w = small_net
    root = tmp_path / "set"
    root.mkdir()
    args, message, named = _spoil(root, case)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    r = _cli(["map", str(cfg), str(w), *args], cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == "", (r.returncode, r.stdout, r.stderr)
    errors = [l for l in r.stderr.splitlines() if not l.startswith("warning: ")]
    assert errors == [errors[0]] and errors[0].startswith(f"darkbench map: error: {message}"), r.stderr
    assert "Traceback" not in r.stderr
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing written


def test_network_without_a_detection_head(tmp_path):
    import darkbench
    from darkbench import weights
    net = darkbench.analyse("tiny.cfg")
    w = tmp_path / "tiny.weights"
    weights.write(w, net, weights.random_arrays(net, 0))
    (tmp_path / "x.data").write_text("valid=v.txt\nnames=n\n")
    r = _cli(["map", "tiny.cfg", str(w), str(tmp_path / "x.data")], cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().splitlines()[-1].startswith("darkbench map: error: ") and \
        "no detection head" in r.stderr and "tiny.cfg" in r.stderr, r.stderr
