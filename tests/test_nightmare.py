"""darkbench nightmare: the objective climbs, zoom/rotate do what darknet's do, one file per round."""
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import darkbench
from darkbench import nightmare, weights
from darkbench.cli import main
from darkbench.errors import DarkbenchError
from darkbench.image import load_color, resize


@pytest.fixture
def setup(tmp_path):
    from darkbench.models import resolve
    cfg = resolve("tiny.cfg")
    w = tmp_path / "tiny.weights"
    net = darkbench.analyse(cfg)
    weights.write(w, net, weights.random_arrays(net, 4))
    img = tmp_path / "pic.png"
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((40, 48, 3)) * 255).astype(np.uint8)).save(img)
    return cfg, w, img


def test_objective_increases(setup):
    cfg, w, img = setup
    d = nightmare.Dreamer(cfg, w)
    im = load_color(img)
    _, before = d.gradient(im, 5, 1.0)
    out = im
    for _ in range(8):  # plain steps at scale 1 with a fixed seed
        out, _ = d.step(out, 5, 1.0, 0.05, 1.0, 1, __import__("random").Random(1))
    _, after = d.gradient(out, 5, 1.0)
    assert after > before * 1.05


def test_rotate_by_pi_mirrors_both_axes():
    im = np.random.default_rng(1).random((3, 10, 12)).astype(np.float32)
    r = nightmare.rotate(im, math.pi)
    # darknet rotates about (w/2, h/2): pixel (x, y) reads (w - x, h - y), zero outside
    assert np.allclose(r[:, 1:, 1:], im[:, :0:-1, :0:-1], atol=1e-5)
    assert np.allclose(r[:, 0, :], 0) and np.allclose(r[:, :, 0], 0)


def test_zoom_crops_the_centre_and_resizes_back():
    im = np.random.default_rng(2).random((3, 20, 16)).astype(np.float32)
    z = nightmare.zoom(im, 0.5)
    assert np.allclose(z, resize(im[:, 5:15, 4:12], 16, 20))
    out = nightmare.zoom(im, 2.0)  # zooming out: the image shrinks into a zero border
    assert np.allclose(out[:, 0, :], 0) and out[:, 10, 8].sum() > 0


def test_one_file_per_round_named_like_darknet(setup, tmp_path, capsys):
    cfg, w, img = setup
    out = tmp_path / "out"
    out.mkdir()
    assert main(["nightmare", str(cfg), str(w), str(img), "5", "-rounds", "3", "-iters", "2", "-octaves", "2",
                 "-zoom", "1.1", "-rotate", "0.1", "-prefix", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [f"pic_tiny_5_{e:06d}.jpg" for e in range(3)]
    assert main(["nightmare", str(cfg), str(w), str(img), "5", "-iters", "1", "-prefix", str(out)]) == 2
    assert "not overwriting" in capsys.readouterr().err


def test_bad_layer(setup):
    cfg, w, img = setup
    with pytest.raises(DarkbenchError, match="layer 99 is not in the network"):
        nightmare.dream(cfg, w, img, 99, save=False, progress=False)


@pytest.mark.darknet
def test_names_match_darknet(darknet, setup, tmp_path):
    cfg, w, img = setup
    theirs, ours = tmp_path / "theirs", tmp_path / "ours"
    theirs.mkdir()
    ours.mkdir()
    darknet.nightmare(cfg, w, img, 5, "-rounds", "2", "-iters", "1", "-octaves", "1", cwd=theirs)
    nightmare.dream(cfg, w, img, 5, rounds=2, iters=1, octaves=1, prefix=str(ours), progress=False)
    assert sorted(p.name for p in theirs.iterdir()) == sorted(p.name for p in ours.iterdir())


@pytest.mark.darknet
def test_defaults_are_darknets(darknet, setup, tmp_path):
    """darknet's nightmare is deterministic (srand(0)): no options and our defaults spelled out give the
    same image, so our defaults are the program's (its -rate is .04, not the document's .05)."""
    cfg, w, img = setup
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    darknet.nightmare(cfg, w, img, 5, "-iters", "2", cwd=a)
    explicit = [x for k, v in nightmare.DEFAULTS.items() if k != "iters" for x in (f"-{k}", str(v))]
    darknet.nightmare(cfg, w, img, 5, "-iters", "2", *explicit, cwd=b)
    assert (a / "pic_tiny_5_000000.jpg").read_bytes() == (b / "pic_tiny_5_000000.jpg").read_bytes()
