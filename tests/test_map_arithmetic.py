"""mAP arithmetic and files without a network: the fork's label path rule, label and .data reading, AP by hand,
and COCO's metrics by hand and library against library. (tests/test_map.py checks `darkbench map` against the
fork's own `detector map`.)"""
import re

import numpy as np
import pytest

from darkbench import coco
from darkbench.errors import DarkbenchError
from darkbench.mapeval import Tally, Truth, average_precision, label_path, read_data, read_truth
from require import require_module as module


@pytest.mark.parametrize("image,label", [
    ("/d/VOC2007/JPEGImages/000001.jpg", "/d/VOC2007/labels/000001.txt"),
    ("/coco/images/val2017/0001.jpg", "/coco/labels/val2017/0001.txt"),
    ("/coco/images/train2014/x.JPEG", "/coco/labels/train2014/x.txt"),
    ("/coco/images/test2017/x.png", "/coco/images/test2017/x.txt"),      # not a folder the fork renames
    ("/a/images/x.bmp", "/a/images/x.txt"),
    ("/a/b.jpg/c.png", "/a/b.jpg/c.txt"),                                 # the extension at the end only
    ("/a/JPEGImages/b/JPEGImages/c.tiff", "/a/labels/b/JPEGImages/c.txt"),  # the first occurrence only
])
def test_label_path_rule(image, label):
    assert label_path(image) == label


def test_label_path_unknown_extension():
    with pytest.raises(DarkbenchError, match="extension"):
        label_path("/a/b.webp")


def test_read_truth(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("3 0.5 0.5 0.2 0.4\n\n  1 1 0 1e-1 .25  \r\n")
    t, found = read_truth(str(p), 4)
    assert found and t.ids.tolist() == [3, 1]
    assert t.boxes.dtype == np.float32 and t.boxes.tolist() == np.float32([[.5, .5, .2, .4], [1, 0, .1, .25]]).tolist()
    t, found = read_truth(str(tmp_path / "none.txt"), 4)
    assert not found and t.ids.size == 0


@pytest.mark.parametrize("line,message", [
    ("1 0.5 0.5 0.2", "expected 5 numbers"), ("1 0.5 0.5 0.2 0.3 0.1", "expected 5 numbers"),
    ("4 0.5 0.5 0.2 0.3", "class 4 is outside the network's 0..3"), ("-1 0.5 0.5 0.2 0.3", "class -1"),
    ("1.0 0.5 0.5 0.2 0.3", "not a whole number"), ("1 0.5 x 0.2 0.3", "expected numbers"),
    ("1 1.5 0.5 0.2 0.3", "x = 1.5 is outside [0, 1]"), ("1 0.5 0.5 nan 0.3", "w = nan is outside"),
    ("1 0.5 0.5 0.2 -0.01", "h = -0.01 is outside"),
])
def test_bad_label_lines(tmp_path, line, message):
    p = tmp_path / "a.txt"
    p.write_text(f"0 .5 .5 .1 .1\n{line}\n")
    with pytest.raises(DarkbenchError, match=re.escape(message)) as e:
        read_truth(str(p), 4)
    assert str(e.value).startswith(f"{p}:2: ")


def test_read_data(tmp_path):
    p = tmp_path / "x.data"
    p.write_text("# comment\nclasses = 3\n train = a.txt\nvalid= /x/valid list.txt\r\nnames=n.txt\nvalid=other\n")
    d = read_data(p)
    assert (d.valid, d.names, d.classes, d.difficult) == ("/x/validlist.txt", "n.txt", 3, None)  # blanks go
    p.write_text("classes=3\nnames=n\n")
    with pytest.raises(DarkbenchError, match="no valid= line"):
        read_data(p)
    p.write_text("valid=v\nclasses=three\n")
    with pytest.raises(DarkbenchError, match=r"x.data:2: classes=three"):
        read_data(p)


BOXES = np.float32([[.2, .2, .2, .2], [.21, .2, .2, .2], [.5, .5, .1, .1]])


def _two_images(iou_thresh=.5, thresh=.25):
    """Image 1: two truths; a hit (.9), its duplicate (.8), a miss (.3). Image 2: one truth hit at .6."""
    t = Tally(1, iou_thresh, thresh)
    t.add(BOXES, [[.9], [.8], [.3]], Truth(np.array([0, 0]), np.float32([[.2, .2, .2, .2], [.7, .7, .2, .2]])))
    t.add([[.5, .5, .4, .4]], [[.6]], Truth(np.array([0]), np.float32([[.5, .5, .4, .4]])))
    return t


def test_ap_by_hand():
    """Ranked .9 TP, .8 FP (same truth), .6 TP, .3 FP of 3 truths: recall 1/3 1/3 2/3 2/3, precision 1 .5 2/3 .5.
    Area: 1/3 * 1 + 1/3 * 2/3 = 5/9. 11 points: recall <= .3 at precision 1 (4 points), .4-.6 at 2/3 (3):
    6/11. 101 points: 0-.33 at 1 (34), .34-.66 at 2/3 (33): 56/101."""
    t = _two_images()
    assert t.result(0).map == pytest.approx(5 / 9, abs=1e-15)
    assert t.result(11).map == pytest.approx(6 / 11, abs=1e-15)
    assert t.result(101).map == pytest.approx(56 / 101, abs=1e-15)
    r = t.result(0)
    # at .25: both hits TP, the duplicate and the miss FP; average IoU = (1 + 1) / (TP + FP), as the fork divides
    assert (r.tp, r.fp, r.fn, r.detections, r.truths) == (2, 2, 1, 4, 3)
    # (identical boxes have an IoU of 0.99999994 in the fork's float arithmetic)
    assert (r.precision, r.f1) == (0.5, pytest.approx(4 / 7, rel=1e-6)) and r.avg_iou == pytest.approx(.5, rel=1e-6)
    lines = r.lines()
    assert lines[1] == "class_id = 0, name = 0, ap = 55.56%   \t (TP = 2, FP = 2) "
    assert lines[-1] == " mean average precision (mAP@0.50) = 0.555556, or 55.56 % "
    assert lines[-2] == " IoU threshold = 50 %, used Area-Under-Curve for each unique Recall "
    assert t.result(101).lines()[-2] == " IoU threshold = 50 %, used 101 Recall-points "


def test_thresholds():
    # at .95 IoU the duplicate-free hits still match exactly; at thresh .7 only the .9 and .8 count
    r = _two_images(thresh=.7).result()
    assert (r.tp, r.fp, r.fn) == (1, 1, 2)
    # nothing above .95 (a C float .95 IoU) but the exact hits: the same ranking
    assert _two_images(iou_thresh=.95).result().map == pytest.approx(5 / 9, abs=1e-15)
    r = _two_images(thresh=.95).result()   # nothing above thresh: 0/0 as the fork prints it
    assert r.lines()[-5] == " for conf_thresh = 0.95, precision = -nan, recall = 0.00, F1-score = -nan "
    assert r.to_json()["precision"] is None


def test_first_in_array_order_is_the_tp_at_thresh():
    """The fork counts a detection at thresh as TP only if no earlier detection of the image (in the array's
    order, whatever its probability) matched the same truth: a .1 detection first makes the .9 one an FP.
    The ranking (AP) goes by probability: the .9 one is the TP there."""
    t = Tally(1)
    truth = Truth(np.array([0]), np.float32([[.5, .5, .2, .2]]))
    t.add([[.5, .5, .2, .2], [.5, .5, .2, .21]], [[.1], [.9]], truth)
    r = t.result()
    assert (r.tp, r.fp, r.map) == (0, 1, 1.0)


def test_classes_without_truth_count_zero():
    t = Tally(4)
    t.add([[.5, .5, .2, .2]], [[0, .9, 0, 0]], Truth(np.array([1]), np.float32([[.5, .5, .2, .2]])))
    r = t.result()
    assert [c.ap for c in r.classes] == [0, 1, 0, 0] and r.map == .25


def test_difficult_truths_leave_detections_out():
    t = Tally(1)
    hard = Truth(np.array([0]), np.float32([[.2, .2, .2, .2]]))
    t.add([[.2, .2, .2, .2], [.7, .7, .2, .2]], [[.9], [.8]], Truth(np.array([0]), np.float32([[.7, .7, .2, .2]])),
          difficult=hard)
    r = t.result()
    # the .9 detection of the difficult object is not ranked (AP 1), yet the fork counts it FP at thresh
    assert (r.detections, r.map, r.tp, r.fp) == (1, 1.0, 1, 1)


def test_average_precision_edges():
    assert average_precision([], 3) == 0
    assert average_precision([-1, -1], 0) == 0
    assert average_precision([0, 1], 2, 0) == 1.0
    assert average_precision([-1, 0], 1, 11) == 0.5


# -- COCO ---------------------------------------------------------------------------------------------------------

def _coco_case():
    """A 100x100 image: truth A [0, 0, 50, 50] px found exactly (.9); truth B [50, 50, 40, 40] found at IoU .62
    ([50, 50, 40, 24.8], .8)."""
    t = Tally(2, names=["a", "b"])
    truth = Truth(np.array([0, 0]), np.float32([[.25, .25, .5, .5], [.7, .7, .4, .4]]))
    t.add([[.25, .25, .5, .5], [.7, .624, .4, .248]], [[.9, 0], [.8, 0]], truth, width=100, height=100)
    return t


@pytest.mark.parametrize("library", coco.LIBRARIES)
def test_coco_perfect_detections_give_one(library):
    module(library.replace("-", "_"))
    t = Tally(2)
    truth = Truth(np.array([0, 1]), np.float32([[.3, .3, .2, .2], [.6, .6, .5, .5]]))
    t.add(truth.boxes, [[.9, 0], [0, .7]], truth, width=640, height=480)
    m = coco.metrics(t.images, ["a", "b"], library)
    for k in ("AP", "AP50", "AP75", "AR100"):
        assert m[k] == pytest.approx(1.0, abs=1e-12), k
    assert m["APs"] == -1  # no small truths: COCO has nothing to average


@pytest.mark.parametrize("library", coco.LIBRARIES)
def test_coco_by_hand(library):
    """IoU .62 matches at .50, .55, .60 (recall 1) and not at .65-.95 (recall .5, precision 1 up to it: 51 of
    COCO's 101 recall points). AP = (3 + 7 * 51/101) / 10; AR = (3 + 7 * .5) / 10. Both truths are medium."""
    module(library.replace("-", "_"))
    m = coco.metrics(_coco_case().images, ["a", "b"], library)
    assert m["AP"] == pytest.approx((3 + 7 * 51 / 101) / 10, abs=1e-12)
    assert m["AP50"] == 1.0 and m["AP75"] == pytest.approx(51 / 101, abs=1e-12)
    assert m["AR100"] == pytest.approx(.65, abs=1e-12) and m["APm"] == m["AP"] and m["APl"] == -1


def test_coco_libraries_agree():
    """faster-coco-eval (what darkbench uses) against pycocotools on 30 images of random truths and detections."""
    module("pycocotools")
    module("faster_coco_eval")
    rng = np.random.default_rng(3)
    t = Tally(5)
    for _ in range(30):
        m = rng.integers(0, 6)
        xy = rng.uniform(.2, .8, (m, 2))
        truth = Truth(rng.integers(0, 5, m), np.float32(np.concatenate([xy, rng.uniform(.02, .4, (m, 2))], 1)))
        near = truth.boxes + np.float32(rng.normal(0, .03, truth.boxes.shape))
        far = np.float32(rng.uniform(.1, .6, (rng.integers(0, 8), 4)))
        boxes = np.concatenate([near, far])
        probs = np.where(rng.random((len(boxes), 5)) < .3, rng.random((len(boxes), 5)), 0)
        probs[np.arange(m), truth.ids] = rng.uniform(.3, 1, m)
        t.add(boxes, np.float32(probs), truth, width=int(rng.integers(50, 700)), height=int(rng.integers(50, 700)))
    a, b = (coco.metrics(t.images, list("abcde"), lib) for lib in coco.LIBRARIES)
    assert 0 < a["AP"] < 1
    for k in coco.KEYS:
        assert a[k] == pytest.approx(b[k], abs=1e-12), k


def test_read_list_and_names(tmp_path):
    from darkbench.mapeval import read_list, read_names
    (tmp_path / "a.png").write_bytes(b"")
    lst = tmp_path / "list.txt"
    lst.write_text(f"{tmp_path / 'a.png'}\r\n{tmp_path / 'a.png'}\n")
    assert read_list(lst) == [str(tmp_path / "a.png")] * 2   # a CR before the newline goes, as fgetl drops it
    lst.write_text(f"{tmp_path / 'a.png'}\n\n{tmp_path / 'a.png'}\n")
    with pytest.raises(DarkbenchError, match=r"list.txt:2: blank line"):
        read_list(lst)
    lst.write_text("")
    with pytest.raises(DarkbenchError, match="image list is empty"):
        read_list(lst)
    names = tmp_path / "n.names"
    names.write_text("a\nb\nc\n\n")
    assert read_names(names, 3) == ["a", "b", "c"]
    with pytest.raises(DarkbenchError, match="3 names but the network has 4 classes"):
        read_names(names, 4)
