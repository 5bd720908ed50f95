"""bench's weights and --data: the given weights file's name and sha256 on every record that runs it (hashlib's
of the file), MODEL.cfg:MODEL.weights, and each entry's accuracy on the user's images: a detector's mAP@0.5 and
COCO AP equal to `darkbench map`'s (and the AlexeyAB fork's `detector map`) on a labelled set written here
(tests/mapsets.py) with the trained yolov3-tiny weights; fp32 eager against its own detections and classes
(every image agrees: CI [1, 1]); a classifier's top-1 against darknet's path labels, the expected share counted
from darkbench classify; bad input in one line, nothing written."""
import hashlib
import json
import shutil

import numpy as np
import pytest

import mapsets
from darkbench.bench import stats
from darkbench.cli import main

FAST = ["--min-time", "0", "--max-time", "0.1", "--threads", "1"]


def _bench(capsys, tmp_path, *args):
    out = tmp_path / "out"
    capsys.readouterr()  # what ran before
    rc = main(["bench", *args, *FAST, "--out", str(out), "--json"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    return {(r["backend"], r["dtype"]): r for r in json.loads(captured.out)}


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def coco_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench-data")
    return root, mapsets.write_set(root)


def test_map_and_coco_ap_are_darkbench_maps_and_the_forks(coco_set, alexeyab_fork, trained_weights, capsys,
                                                          tmp_path):
    from darkbench.evaluation import evaluate
    root, data = coco_set
    cfg = alexeyab_fork.cfg_dir / "yolov3-tiny.cfg"
    got = _bench(capsys, tmp_path, "--dialect", "alexeyab", f"{cfg}:{trained_weights}", "--backend",
                 "eager,onnxruntime", "--dtype", "fp32,bf16", "--data", str(data))
    want = evaluate(cfg, data, trained_weights)
    fork = mapsets.parse_map(mapsets.fork_map(alexeyab_fork, data, cfg, trained_weights, cwd=root))
    assert 0 < want.map < 1 and want.coco["AP"] > 0
    for key in (("eager", "fp32"), ("onnxruntime", "fp32")):
        r = got[key]
        assert r["accuracy"] == pytest.approx(want.map, abs=1e-9)
        assert f"{r['accuracy']:.6f}" == fork["map"][1]  # the fork prints "= 0.070308, or 7.03 %"
        assert r["coco_ap"] == pytest.approx(want.coco["AP"], abs=1e-9)
        assert r["accuracy_against"] == "labels" and r["accuracy_metric"] == "mAP@0.5"
        assert r["accuracy_images"] == 10 and r["accuracy_data"] == str(data)
        for v, ci in ((r["accuracy"], r["accuracy_ci95"]), (r["coco_ap"], r["coco_ap_ci95"])):
            assert ci[0] <= v <= ci[1] and ci[0] < ci[1]  # ten images that differ: a CI of some width
        assert r["weights"] == f"given: {trained_weights.name}" and r["weights_sha256"] == _sha(trained_weights)
        assert "accuracy_change" not in r
    bf16 = got[("eager", "bf16")]  # its change is the difference of the two, its CI paired over the same images
    assert bf16["accuracy_change"] == pytest.approx(bf16["accuracy"] - got[("eager", "fp32")]["accuracy"])
    lo, hi = bf16["accuracy_change_ci95"]
    assert lo <= bf16["accuracy_change"] <= hi and -1 <= lo and hi <= 1


def test_without_labels_fp32_eager_agrees_with_itself(trained_weights, capsys, tmp_path):
    """A folder of images: fp32 eager's detections are the truth; eager fp32 finds them all in every image."""
    images = tmp_path / "images"
    images.mkdir()
    for name in ("dog", "horses", "person"):
        shutil.copy(mapsets.DATA / f"{name}.jpg", images)
    (images / "notes.txt").write_text("not an image")
    got = _bench(capsys, tmp_path, "yolov3-tiny.cfg", "--weights", str(trained_weights), "--data", str(images),
                 "--backend", "eager")
    r = got[("eager", "fp32")]
    assert r["accuracy_against"] == "fp32 eager's detections" and r["accuracy_images"] == 3
    assert r["accuracy"] == 1.0 and r["accuracy_ci95"] == [1.0, 1.0]
    assert "coco_ap" not in r and r["weights_sha256"] == _sha(trained_weights)


def _classifier(tmp_path):
    """tiny.cfg with random weights written here, and darkbench classify's top-1 of five sample images."""
    import darkbench
    from darkbench import classify
    w = tmp_path / "tiny.weights"
    assert main(["weights", "init", "tiny.cfg", str(w), "--seed", "3"]) == 0
    model = darkbench.load("tiny.cfg", w)
    names = ("dog", "eagle", "giraffe", "horses", "kite")
    top = {n: classify.top_k(classify.classify(model, str(mapsets.DATA / f"{n}.jpg"))[0], 1)[0] for n in names}
    return w, names, top


def test_classifier_top1_against_path_labels_and_against_fp32(tmp_path, capsys):
    w, names, top = _classifier(tmp_path)
    labels = [f"cls{i:04d}" for i in range(1000)]
    images = tmp_path / "images"
    images.mkdir()
    listed = []
    for k, n in enumerate(names):  # the first three labelled with the class darkbench classify finds, two not
        cls = top[n] if k < 3 else (top[n] + 1) % 1000
        shutil.copy(mapsets.DATA / f"{n}.jpg", images / f"{labels[cls]}-{n}.jpg")
        listed.append(str(images / f"{labels[cls]}-{n}.jpg"))
    (tmp_path / "labels.txt").write_text("\n".join(labels) + "\n")
    (tmp_path / "valid.txt").write_text("\n".join(listed) + "\n")
    data = tmp_path / "set.data"
    data.write_text(f"classes=1000\nvalid={tmp_path / 'valid.txt'}\nlabels={tmp_path / 'labels.txt'}\n")
    got = _bench(capsys, tmp_path, f"tiny.cfg:{w}", "--data", str(data), "--backend", "eager,darknet")
    r = got[("eager", "fp32")]
    assert r["accuracy_metric"] == "top-1" and r["accuracy_against"] == "labels"
    assert r["accuracy"] == pytest.approx(3 / 5) and r["accuracy_ci95"][0] <= .6 <= r["accuracy_ci95"][1]
    assert r["top5"] >= .6
    dk = got[("darknet", "fp32")]  # darknet's speed program gives no outputs: no accuracy, saying why
    assert dk.get("accuracy") is None and "accuracy: not measured" in dk["note"]
    assert "weights_sha256" not in dk  # it runs its own initialisation, not the file
    got = _bench(capsys, tmp_path, f"tiny.cfg:{w}", "--data", str(images), "--backend", "eager")
    r = got[("eager", "fp32")]
    assert r["accuracy_against"] == "fp32 eager's classes"
    assert r["accuracy"] == 1.0 and r["accuracy_ci95"] == [1.0, 1.0] and r["top5"] == 1.0


def test_table_shows_the_accuracy_beside_the_time():
    from darkbench.bench.text import bench_table
    row = dict(model="m", backend="eager", device="cpu", dtype="int8", batch=1, median_ms=2.0, ci95_ms=[1.9, 2.1],
               samples_ms=[2.0] * 6, samples=6, accuracy=.5, accuracy_ci95=[.25, .75], accuracy_metric="top-1",
               accuracy_change=-.125, accuracy_change_ci95=[-.25, 0.0])
    assert "top-1 0.500 [0.250, 0.750]; -0.125 [-0.250, +0.000] vs fp32" in bench_table([row])


def test_bootstrap_by_hand():
    agree = np.ones(7)
    assert stats.bootstrap(lambda i: float(agree[i].mean()), 7) [:2] == (1.0, [1.0, 1.0])
    x = np.array([0, 1, 1, 0, 1, 1, 1, 0, 1, 1], float)
    v, ci, boot = stats.bootstrap(lambda i: float(x[i].mean()), 10, 500, seed=4)
    assert v == .7 and ci[0] < .7 < ci[1] and 0 <= ci[0] and ci[1] <= 1 and len(boot) == 500
    # the same seed draws the same images: a metric minus itself is 0 in every resample
    _, _, again = stats.bootstrap(lambda i: float(x[i].mean()), 10, 500, seed=4)
    assert stats.percentile_ci(boot - again) == [0.0, 0.0]
    assert stats.bootstrap(lambda i: 1.0, 1) == (1.0, None, None)


# -- weights given twice, missing files, bad data: one line naming the file, nothing written -------------------

def _refused(capsys, tmp_path, *args):
    out = tmp_path / "out"
    rc = main(["bench", *args, *FAST, "--out", str(out)])
    err = "\n".join(l for l in capsys.readouterr().err.splitlines() if ": warning: " not in l)  # the load's
    assert rc != 0 and len(err.splitlines()) == 1, err
    assert not list(out.glob("bench-*.json")) if out.exists() else True
    return err


def test_weights_given_twice_or_missing(capsys, tmp_path):
    w = tmp_path / "a.weights"
    w.write_bytes(b"")
    err = _refused(capsys, tmp_path, f"tiny.cfg:{w}", "--weights", f"tiny.cfg:{w}")
    assert "tiny.cfg: two weights files" in err
    assert "tiny.cfg: two weights files" in _refused(capsys, tmp_path, f"tiny.cfg:{w}", "--weights", str(w))
    assert "two weights files" in _refused(capsys, tmp_path, f"tiny.cfg:{w}", f"tiny.cfg:{w}")
    err = _refused(capsys, tmp_path, f"tiny.cfg:{tmp_path / 'none.weights'}")
    assert "no such weights file" in err and "none.weights" in err


@pytest.fixture
def small_set(tmp_path):
    """Two sample images (PNG) labelled for yolov3-tiny's 80 classes, and their .data."""
    images = tmp_path / "set" / "images"
    images.mkdir(parents=True)
    listed = []
    for n in ("dog", "eagle"):
        shutil.copy(mapsets.DATA / f"{n}.jpg", images)
        (images / f"{n}.txt").write_text(mapsets.LABELS[n])
        listed.append(str(images / f"{n}.jpg"))
    (tmp_path / "set" / "valid.txt").write_text("\n".join(listed) + "\n")
    data = tmp_path / "set" / "set.data"
    data.write_text(f"classes=80\nvalid={tmp_path / 'set' / 'valid.txt'}\nnames={mapsets.COCO_NAMES}\n")
    return data


def test_bad_data(capsys, tmp_path, small_set):
    data = small_set
    err = _refused(capsys, tmp_path, "yolov3-tiny.cfg", "--data", str(tmp_path / "none.data"))
    assert "no such data file" in err and "none.data" in err
    valid = data.parent / "valid.txt"
    valid.write_text(valid.read_text() + str(tmp_path / "gone.jpg") + "\n")
    err = _refused(capsys, tmp_path, "yolov3-tiny.cfg", "--data", str(data))
    assert "gone.jpg" in err and "valid.txt" in err and ":3" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no images")
    err = _refused(capsys, tmp_path, "yolov3-tiny.cfg", "--data", str(empty))
    assert "no images" in err and "empty" in err


def test_broken_labels_and_networks_without_a_task(capsys, tmp_path, small_set):
    data = small_set
    (data.parent / "images" / "eagle.txt").write_text("14 0.5 0.5 0.6\n")
    err = _refused(capsys, tmp_path, "yolov3-tiny.cfg", "--data", str(data), "--backend", "eager")
    assert "eagle.txt" in err and "expected 5 numbers" in err
    (data.parent / "images" / "eagle.txt").write_text("80 0.5 0.5 0.6 0.7\n")
    err = _refused(capsys, tmp_path, "yolov3-tiny.cfg", "--data", str(data), "--backend", "eager")
    assert "eagle.txt" in err and "class 80 is outside" in err
    conv = tmp_path / "conv.cfg"
    conv.write_text("[net]\nwidth=32\nheight=32\nchannels=3\n\n[convolutional]\nfilters=4\nsize=3\nstride=1\npad=1\n"
                    "activation=leaky\n")
    err = _refused(capsys, tmp_path, str(conv), "--data", str(data), "--backend", "eager")
    assert "conv.cfg" in err and "no detection head and no classifier output" in err
