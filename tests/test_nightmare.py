"""darkbench nightmare: the objective climbs, zoom/rotate do what darknet's do, one file per round."""
import ctypes
import math
import os
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import darkbench
from darkbench import nightmare, weights
from darkbench.cli import main
from darkbench.errors import DarkbenchError
from darkbench.image import load_color, resize
from test_classify import Libdarknet


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
        out, _ = d.step(out, 5, 1.0, 0.05, 1.0, 1, random.Random(1))
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
    out = nightmare.zoom(im, 2.0)  # zooming out reaches outside: darknet's crop repeats the edge pixels
    assert np.array_equal(out[:, 0, 0], im[:, 0, 0]) and np.array_equal(out[:, -1, -1], im[:, -1, -1])
    with pytest.raises(DarkbenchError, match="leaves no pixels"):
        nightmare.zoom(im, 0.01)


@pytest.mark.darknet
def test_crop_and_rotate_are_darknets(darknet):
    lib = Libdarknet()
    im = np.random.default_rng(3).random((3, 20, 16)).astype(np.float32)
    for args in ((-3, 4, 16, 20), (5, -7, 30, 10), (-40, 3, 8, 8), (2, 2, 12, 18)):
        assert np.array_equal(nightmare.crop(im, *args), lib.crop_image(im, *args)), args
    for rad in (0.1, 1.0, 3.14159, -0.7):
        assert np.abs(nightmare.rotate(im, rad) - lib.rotate_image(im, rad)).max() < 1e-6, rad


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
    dotted_cfg, dotted_img = tmp_path / "tiny.v2.cfg", tmp_path / "my.photo.png"  # darknet cuts at the first dot
    dotted_cfg.write_text(Path(cfg).read_text())
    dotted_img.write_bytes(img.read_bytes())
    darknet.nightmare(dotted_cfg, w, dotted_img, 5, "-rounds", "2", "-iters", "1", "-octaves", "1", cwd=theirs)
    assert main(["nightmare", str(dotted_cfg), str(w), str(dotted_img), "5", "--rounds", "2", "--iters", "1",
                 "--octaves", "1", "--prefix", str(ours)]) == 0
    assert sorted(p.name for p in theirs.iterdir()) == sorted(p.name for p in ours.iterdir())
    assert sorted(p.name for p in ours.iterdir()) == ["my_tiny_5_000000.jpg", "my_tiny_5_000001.jpg"]


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


def test_bad_options(setup, tmp_path):
    cfg, w, img = setup
    with pytest.raises(DarkbenchError, match="no such directory"):
        nightmare.dream(cfg, w, img, 2, prefix=str(tmp_path / "nope"), progress=False)
    with pytest.raises(DarkbenchError, match="-zoom 0 must be > 0"):
        nightmare.dream(cfg, w, img, 2, zoom_=0, save=False, progress=False)


SMALL = """[net]
width=32
height=32
channels=3
""" + "".join(f"""
[convolutional]
filters={f}
size={k}
stride={s}
pad=1
activation={a}
""" for f, k, s, a in ((8, 3, 1, "leaky"), (8, 3, 2, "leaky"), (16, 3, 1, "leaky"), (16, 1, 1, "linear")))


class GlibcRand:
    """darknet's draws: glibc rand() after srand(0), past the ones load_network spends on initial weights."""

    def __init__(self, skip):
        self.libc = ctypes.CDLL("libc.so.6")
        self.libc.srand(0)
        for _ in range(skip):
            self.libc.rand()

    def randrange(self, n):
        return self.libc.rand() % n


@pytest.mark.darknet
@pytest.mark.parametrize("options", [
    dict(rounds=3, iters=3, octaves=3, range=3, rate=0.1, zoom=0.9, rotate=0.2),
    dict(rounds=2, iters=3, norm=0, thresh=0.5, rate=2.0, zoom=1.2),
])
def test_same_images_as_darknet(darknet, tmp_path, monkeypatch, options):
    """With darknet's random draws, every round's image is darknet's to the byte (both encoded by darknet's
    JPEG writer). A max-pool-free net: jitter repeats edge pixels, and where that ties a max-pool window darknet
    takes the first maximum while our convolution need not produce exact ties."""
    cfg = tmp_path / "small.cfg"
    cfg.write_text(SMALL)
    w = darknet.save_random(cfg, tmp_path / "small.weights", seed=5)
    yy, xx = np.mgrid[0:40, 0:48]
    picture = np.stack([xx / 47, yy / 39, 0.5 + 0.3 * np.sin(xx / 5.0)], -1)
    img = tmp_path / "pic.png"
    Image.fromarray((picture * 255).astype(np.uint8)).save(img)
    theirs, ours = tmp_path / "theirs", tmp_path / "ours"
    theirs.mkdir()
    ours.mkdir()
    darknet.nightmare(cfg, w, img, 2, *[x for k, v in options.items() for x in (f"-{k}", str(v))], cwd=theirs)

    # darknet's load_network draws one rand() per convolution weight (Box-Muller, in pairs) after srand(0)
    n = sum(int(np.prod(shape)) for l in darkbench.analyse(cfg).layers for name, shape in l.weights
            if name == "weights")
    lib = Libdarknet()
    monkeypatch.setattr("darkbench.image.save", lambda im, path: lib.save_jpg(im, os.path.splitext(path)[0]))
    o = dict(options)
    written, _ = nightmare.dream(cfg, w, img, 2, rounds=o.pop("rounds"), iters=o.pop("iters"),
                                 range_=o.pop("range", 1), zoom_=o.pop("zoom", 1.0), rotate_=o.pop("rotate", 0.0),
                                 prefix=str(ours), progress=False, rng=GlibcRand(n + n % 2), **o)
    assert [Path(p).name for p in written] == sorted(p.name for p in theirs.iterdir())
    for p in written:
        assert Path(p).read_bytes() == (theirs / Path(p).name).read_bytes(), Path(p).name


def test_only_layers_up_to_the_target_must_fit_the_image(tmp_path):
    """darknet resizes layers 0..target only: a connected layer further on (sized for the cfg's 32x32) is no
    obstacle, and targeting it is a clear error rather than a wrong shape."""
    cfg = tmp_path / "small.cfg"
    cfg.write_text(SMALL + "\n[connected]\noutput=10\nactivation=linear\n")
    w = tmp_path / "small.weights"
    net = darkbench.analyse(cfg)
    weights.write(w, net, weights.random_arrays(net, 1))
    img = tmp_path / "pic.png"
    Image.fromarray((np.random.default_rng(0).random((40, 48, 3)) * 255).astype(np.uint8)).save(img)
    _, losses = nightmare.dream(cfg, w, img, 2, iters=2, octaves=2, save=False, progress=False)
    assert len(losses) == 2
    with pytest.raises(DarkbenchError, match="layer 4 \\(connected\\): its weights' shape depends on the input"):
        nightmare.dream(cfg, w, img, 4, iters=1, save=False, progress=False)
