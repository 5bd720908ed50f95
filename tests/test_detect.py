"""Detections against both darknets, number for number: 2018 darknet through tests/harness/dkdetect.c
(load_network, network_predict on its own letterboxed image, get_network_boxes, do_nms_sort) and the AlexeyAB
fork's own `detector test -ext_output -out` (its printed lines and its JSON), on darknet's sample images as PNG
(both darknets then read the same pixels). The trained yolov3-tiny COCO weights, and random weights written so
that some boxes pass the threshold for the other heads: every detection (class, box, probability) paired with
one of darknet's, every box within 0.5 px, every probability within 1e-4 (tests/detections.py match())."""
import sys

import numpy as np
import pytest

from darknet import ZOO
from detections import (PICTURES, RANDOM_2018, RANDOM_FORK, compare_rows, opencv, opencv_pairs, png, random_2018,
                        random_fork, trained_2018, trained_fork)


def cli_lines(capsys, *args):
    from darkbench.cli import main
    assert main(["detect", *map(str, args)]) == 0
    return [l for l in capsys.readouterr().out.splitlines() if "Predicted in" not in l]


# -- 2018 darknet ------------------------------------------------------------------------------------------
@pytest.mark.darknet
@pytest.mark.parametrize("picture", PICTURES)
def test_yolov3_tiny_as_2018_darknet(darknet, trained_weights, tmp_path_factory, picture):
    got, theirs, (n, _, _) = trained_2018(darknet, png(picture, tmp_path_factory.getbasetemp()))
    assert n >= 1 and (got.width, got.height) == (theirs["width"], theirs["height"]) and got.letter_box


@pytest.mark.darknet
@pytest.mark.parametrize("picture", ["dog", "person"])
def test_printed_lines_as_2018_detect(darknet, trained_weights, tmp_path_factory, capsys, picture):
    """`darknet detect`'s own lines, in its order (the array's after do_nms_sort), its -thresh .5 default."""
    image = png(picture, tmp_path_factory.getbasetemp())
    cfg = ZOO / "yolov3-tiny.cfg"
    want = darknet.detect(cfg, trained_weights, image)
    assert want and cli_lines(capsys, cfg, trained_weights, image) == want


@pytest.mark.darknet
@pytest.mark.parametrize("name,size,thresh,pixels", RANDOM_2018, ids=[r[0] for r in RANDOM_2018])
def test_random_heads_as_2018_darknet(darknet, tmp_path, name, size, thresh, pixels):
    """[region] (YOLOv2) and [detection] (YOLOv1: darknet gives its boxes in image pixels and corrects none
    of them for the letterbox), with random weights under which some boxes pass."""
    got, (n, _, _), before = random_2018(darknet, name, size, thresh, pixels, tmp_path)
    assert n >= 5 and before > n  # NMS had work to do


# -- the AlexeyAB fork ---------------------------------------------------------------------------------------
@pytest.mark.alexeyab
@pytest.mark.parametrize("picture", PICTURES)
def test_yolov3_tiny_as_the_fork(alexeyab_fork, trained_weights, tmp_path_factory, capsys, picture):
    """Its JSON (-out) box by box, and its -ext_output lines as `darkbench detect --ext-output` prints them."""
    image = png(picture, tmp_path_factory.getbasetemp())
    got, lines, (n, _, _) = trained_fork(alexeyab_fork, image)
    assert n >= 1 and not got.letter_box
    cfg = ZOO / "yolov3-tiny.cfg"
    assert cli_lines(capsys, "--dialect", "alexeyab", "--ext-output", cfg, trained_weights, image) == lines


@pytest.mark.alexeyab
def test_the_forks_letter_box_option(alexeyab_fork, trained_weights, tmp_path_factory, capsys):
    """-letter_box (`--letter-box`): the image letterboxed and the boxes corrected back, as [net] letter_box=1."""
    image = png("dog", tmp_path_factory.getbasetemp())
    got, lines, (n, _, _) = trained_fork(alexeyab_fork, image, letter_box=True)
    assert n >= 1 and got.letter_box
    cfg = ZOO / "yolov3-tiny.cfg"
    assert cli_lines(capsys, "--dialect", "alexeyab", "--ext-output", "--letter-box", cfg, trained_weights,
                     image) == lines


@pytest.mark.alexeyab
@pytest.mark.parametrize("name,what,options,frac", RANDOM_FORK, ids=[f"{r[0]}-{r[1]}" for r in RANDOM_FORK])
def test_random_heads_as_the_fork(alexeyab_fork, tmp_path, name, what, options, frac):
    got, (n, _, _), before = random_fork(alexeyab_fork, name, options, frac, tmp_path)
    assert n >= 5 and before > n  # NMS had work to do
    assert got.letter_box == (name == "yolov4-csp")  # its [net] letter_box=1
    assert got.nms_kind == {"yolov4-tiny": "greedynms", "yolov7-tiny": "diounms", "yolov4-csp": "diounms"}.get(
        name, "default")
    if name == "Gaussian_yolov3_BDD":
        assert got.uncertainty is not None and np.isfinite(got.uncertainty).all()


@pytest.mark.alexeyab
def test_the_forks_region_forward(alexeyab_fork, tmp_path):
    """In the fork's dialect a [region] outputs what the fork's CPU forward leaves in l.output: cell by cell,
    logistic on objectness only, softmax over classes (2018 darknet's layout and activations differ)."""
    import torch

    import darkbench
    from darkbench import weights
    from darknet import rewrite_net
    from test_fork_forward import fork_arrays
    from test_fork_sections import fork_forward
    cfg = rewrite_net(alexeyab_fork.cfg_dir / "yolov2-tiny.cfg", tmp_path / "y.cfg", width=96, height=96, batch=1)
    net = darkbench.analyse(cfg, dialect="alexeyab")
    weights.write(tmp_path / "w.weights", net, fork_arrays(net), overwrite=True)
    x = np.random.default_rng(0).uniform(0, 1, net.inputs).astype("<f4")
    want = fork_forward(alexeyab_fork, cfg, tmp_path / "w.weights", x, tmp_path)[-1]
    model = darkbench.load(cfg, tmp_path / "w.weights", dialect="alexeyab")
    with torch.no_grad():
        got = model(torch.from_numpy(x).reshape(1, *model.input_shape)).reshape(-1).numpy()
    assert np.abs(got - want).max() <= 1e-5 * max(1, np.abs(want).max())


# -- OpenCV DNN, a third implementation ---------------------------------------------------------------------
@pytest.mark.parametrize("picture", ["dog", "person", "horses"])
def test_opencv_detection_model(trained_weights, tmp_path, picture):
    """cv2.dnn_DetectionModel on the same cfg and weights against darkbench in the fork's conventions (resize,
    thresh .25, NMS .45). OpenCV keeps one class per box (its best), so it reports fewer lines than darknet
    (on dog.jpg the fork prints 6, OpenCV 4); it runs its own per-class NMS (cv::dnn::NMSBoxes) on the
    boxes it keeps, returns boxes as integer rectangles clipped at the image's left and top edges, and resizes
    with cv::resize (pixel-centre bilinear, not darknet's corner-aligned resize_image). Given the image already
    resized by darknet's rule, every class OpenCV reports is darkbench's box (to its integer rounding) with
    darkbench's probability within 2e-4: OpenCV's own convolutions leave its [yolo] objectness up to 8e-5 from
    darknet's (darkbench's is within 4e-6 of both darknets'); from the original image its resize moves
    probabilities by a few hundredths and boxes by a few pixels."""
    pytest.importorskip("cv2")
    image = png(picture, tmp_path)
    for resized, tol_px, tol_p in ((True, 1.0, 2e-4), (False, 12.0, .06)):
        cv, found = opencv(image, resized)
        pairs = opencv_pairs(cv, found, tol_px)
        assert 1 <= len(pairs) <= len(found) and max(abs(c - p) for _, c, p, _ in pairs) <= tol_p
        if resized:  # one line per box: each box's best class, as darknet's rows after NMS give them
            best = {d.row for d in found}
            assert len(pairs) == len(best)
    if picture == "dog":
        assert (len(found), len(cv)) == (6, 4)


# -- engines: detections from the backends' outputs --------------------------------------------------------
@pytest.mark.parametrize("backend", ["onnxruntime", "openvino", "opencv"])
def test_backends_give_the_same_detections(trained_weights, tmp_path, backend):
    """The bench backends' outputs through each head's decoding (OpenCV's at the heads' inputs, activated by
    each family's numpy forward): the same rows as eager, boxes within 0.5 px, probabilities within 1e-4."""
    pytest.importorskip({"opencv": "cv2"}.get(backend, backend))
    from darkbench import detect
    images = [png(p, tmp_path) for p in PICTURES[:3]]
    for dialect in ("pjreddie", "alexeyab"):
        want = list(detect.each_network_boxes("yolov3-tiny.cfg", images, .1, weights=trained_weights,
                                              dialect=dialect, batch=2))
        got = list(detect.each_network_boxes("yolov3-tiny.cfg", images, .1, weights=trained_weights,
                                             dialect=dialect, backend=backend, batch=2))
        for w, g in zip(want, got):
            compare_rows(g, [(o, b, p) for o, b, p in zip(w.objectness, w.boxes, w.probs)])


# -- the families' numpy forward (what OpenCV's heads' inputs go through) ---------------------------------
HEADS = {
    "yolo": "[net]\nwidth=32\nheight=32\nchannels=3\n[convolutional]\nfilters=21\nsize=1\nactivation=linear\n"
            "[yolo]\nclasses=2\nnum=6\nmask=0,2,4\nanchors=1,2,3,4,5,6,7,8,9,10,11,12\n",
    "yolo-fork": "[net]\nwidth=32\nheight=32\nchannels=3\n[convolutional]\nfilters=21\nsize=1\nactivation=linear\n"
                 "[yolo]\nclasses=2\nnum=3\nscale_x_y=1.1\nnms_kind=diounms\n",
    "yolo-new-coords": "[net]\nwidth=32\nheight=32\nchannels=3\n[convolutional]\nfilters=21\nsize=1\n"
                       "activation=logistic\n[yolo]\nclasses=2\nnum=3\nscale_x_y=2\nnew_coords=1\n",
    "region": "[net]\nwidth=32\nheight=32\nchannels=3\n[convolutional]\nfilters=24\nsize=1\nactivation=linear\n"
              "[region]\nclasses=3\nnum=3\nsoftmax=1\n",
    "region-logistic": "[net]\nwidth=32\nheight=32\nchannels=3\n[convolutional]\nfilters=24\nsize=1\n"
                       "activation=linear\n[region]\nclasses=3\nnum=3\n",
    "region-background": "[net]\nwidth=32\nheight=32\nchannels=3\n[convolutional]\nfilters=24\nsize=1\n"
                         "activation=linear\n[region]\nclasses=3\nnum=3\nsoftmax=1\nbackground=1\n",
    "gaussian": "[net]\nwidth=32\nheight=32\nchannels=3\n[convolutional]\nfilters=33\nsize=1\nactivation=linear\n"
                "[Gaussian_yolo]\nclasses=2\nnum=3\nscale_x_y=1.2\n",
    "detection": "[net]\nwidth=16\nheight=16\nchannels=3\n[convolutional]\nfilters=2\nsize=1\nactivation=linear\n"
                 "[connected]\noutput=48\nactivation=linear\n"
                 "[detection]\nclasses=2\ncoords=4\nnum=2\nside=2\nsoftmax=1\n",
}


FORK_HEADS = ("yolo-fork", "yolo-new-coords", "gaussian")  # sections or options only the fork has


@pytest.mark.parametrize("name,dialect", [(n, d) for n in HEADS for d in ("pjreddie", "alexeyab")
                                          if d == "alexeyab" or n not in FORK_HEADS])
def test_numpy_forward_of_the_heads_is_the_modules(tmp_path, name, dialect):
    import torch

    import darkbench
    cfg = tmp_path / f"{name}.cfg"
    cfg.write_text(HEADS[name])
    model = darkbench.load(cfg, dialect=dialect)
    head = model.spec.layers[-1]
    x = torch.randn(2, *model.spec.layers[-2].out_shape, generator=torch.Generator().manual_seed(0)) * 3
    with torch.no_grad():
        want = model.layers[-1](x, []).reshape(2, -1).numpy()
    got = head.trait("activate")(head, x.numpy(), model.spec.dialect).reshape(2, -1)
    assert np.abs(got - want).max() <= 2e-6


def test_detections_contract(trained_weights):
    """What `darkbench map` builds on: network_boxes' fields, the model's outputs given instead of run."""
    import darkbench
    from darkbench import detect
    model = darkbench.load("yolov3-tiny.cfg", trained_weights)
    d = detect.network_boxes(model, "/usr/share/darknet/data/dog.jpg", .005)
    assert d.boxes.dtype == np.float64 and d.boxes.shape == (len(d.probs), 4) and d.probs.shape[1] == 80
    assert (d.width, d.height, d.dialect, d.letter_box, d.nms_kind) == (768, 576, "pjreddie", True, "default")
    assert ((d.probs == 0) | (d.probs > .005)).all() and (d.probs != 0).any(axis=1).all()
    x = detect.prepare(model.spec, "/usr/share/darknet/data/dog.jpg")
    import torch
    with torch.no_grad():
        outs = [y[0].numpy() for y in model(torch.from_numpy(x.x[None]))]
    again = detect.network_boxes(model.spec, "/usr/share/darknet/data/dog.jpg", .005, outputs=outs)
    assert np.array_equal(again.boxes, d.boxes) and np.array_equal(again.probs, d.probs)
    many = list(detect.each_network_boxes(model, ["/usr/share/darknet/data/dog.jpg"] * 3, .005, batch=2))
    assert all(np.allclose(m.probs, d.probs, atol=1e-5) for m in many)
    found = darkbench.detect(model, "/usr/share/darknet/data/dog.jpg", .5)[0]
    assert [(f.name, round(f.prob * 100)) for f in found] == [("dog", 56), ("car", 52), ("truck", 55),
                                                               ("car", 62), ("bicycle", 59)]


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
