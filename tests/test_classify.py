"""`darkbench classify` against darknet's own `classify` on lossless images."""
from pathlib import Path

import ctypes

import numpy as np
import pytest
from PIL import Image

from darkbench.cli import main
from darkbench.image import floats, letterbox, load_color, resize, resize_rgb8

DATA = Path("/usr/share/darknet/data")
ZOO = Path("/usr/share/darknet/cfg")


class Image_(ctypes.Structure):  # darknet.h: typedef struct { int w, h, c; float *data; } image;
    _fields_ = [("w", ctypes.c_int), ("h", ctypes.c_int), ("c", ctypes.c_int), ("data", ctypes.POINTER(ctypes.c_float))]


class Libdarknet:
    """darknet's own image functions through its public C API, as an oracle (they leak: test sizes only)."""

    def __init__(self):
        self.lib = ctypes.CDLL("/usr/lib/darknet/libdarknet.so")
        img, i, f = Image_, ctypes.c_int, ctypes.c_float
        for name, args in (("make_image", [i, i, i]), ("load_image_color", [ctypes.c_char_p, i, i]),
                           ("resize_image", [img, i, i]), ("letterbox_image", [img, i, i]),
                           ("crop_image", [img, i, i, i, i]), ("rotate_image", [img, f])):
            fn = getattr(self.lib, name)
            fn.restype, fn.argtypes = img, args
        self.lib.save_image_options.argtypes = [img, ctypes.c_char_p, i, i]

    def image(self, a):
        c, h, w = a.shape
        m = self.lib.make_image(w, h, c)
        ctypes.memmove(m.data, np.ascontiguousarray(a, dtype=np.float32).ctypes.data, a.size * 4)
        return m

    @staticmethod
    def array(m):
        return np.ctypeslib.as_array(m.data, (m.c * m.h * m.w,)).reshape(m.c, m.h, m.w).copy()

    def __getattr__(self, name):  # resize_image(array, ...) -> array
        fn = getattr(self.lib, name)
        return lambda a, *args: self.array(fn(self.image(a), *args))

    def load(self, path):
        return self.array(self.lib.load_image_color(str(path).encode(), 0, 0))

    def save_jpg(self, a, base):
        """darknet's save_image: BASE.jpg at quality 80 (IMTYPE JPG = 3)."""
        self.lib.save_image_options(self.image(a), str(base).encode(), 3, 80)


@pytest.fixture(scope="module")
def libdarknet(darknet):
    return Libdarknet()


@pytest.mark.darknet
def test_image_loading_and_resizing_are_darknets(libdarknet, tmp_path):
    png = tmp_path / "eagle.png"
    Image.open(DATA / "eagle.jpg").save(png)
    assert np.array_equal(load_color(png), libdarknet.load(png))
    # JPEG decoders may round differently; this one agrees with darknet's to the byte
    assert np.abs(load_color(DATA / "dog.jpg") - libdarknet.load(DATA / "dog.jpg")).max() <= 2 / 255
    im = np.random.default_rng(0).random((3, 23, 31)).astype(np.float32)
    for w, h in ((7, 9), (31, 23), (64, 48), (100, 17), (3, 3)):  # darknet divides by zero below 2 rows
        assert np.array_equal(resize(im, w, h), libdarknet.resize_image(im, w, h)), (w, h)
        assert np.array_equal(letterbox(im, w, h), libdarknet.letterbox_image(im, w, h)), (w, h)
    big = np.random.default_rng(1).random((3, 301, 163)).astype(np.float32)  # shrunk > 2x: rows the first pass skips
    for w, h in ((40, 30), (160, 90), (17, 300)):
        assert np.array_equal(resize(big, w, h), libdarknet.resize_image(big, w, h)), (w, h)
        assert np.array_equal(letterbox(big, w, h), libdarknet.letterbox_image(big, w, h)), (w, h)
    # from the bytes (darkbench map's path): the same floats, in the channels-last layout the network takes
    for shape, sizes in (((23, 31, 3), ((7, 9), (64, 48), (100, 17))), ((301, 163, 3), ((40, 30), (17, 300)))):
        pixels = np.random.default_rng(2).integers(0, 256, shape, dtype=np.uint8)
        for w, h in sizes:
            x = resize_rgb8(pixels, w, h)
            assert np.array_equal(x, libdarknet.resize_image(floats(pixels), w, h)), (shape, w, h)
            assert x.transpose(1, 2, 0).flags.c_contiguous


def _ours(capsys, cfg, weights, image):
    assert main(["classify", str(cfg), str(weights), str(image)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{image}: Predicted in ") and lines[0].endswith(" seconds.")
    return [(l.rsplit(": ", 1)[0], float(l.rsplit(": ", 1)[1])) for l in lines[1:]]


@pytest.mark.darknet
@pytest.mark.parametrize("net,gain", [("tiny", 40), ("darknet", 40)])
@pytest.mark.parametrize("picture", ["dog", "eagle", "person"])
def test_same_top5_as_darknet(darknet, tmp_path, capsys, net, gain, picture):
    png = tmp_path / f"{picture}.png"
    Image.open(DATA / f"{picture}.jpg").save(png)  # lossless: both read the same pixels
    weights = darknet.save_random(ZOO / f"{net}.cfg", tmp_path / "w.weights", seed=11, gain=gain)
    theirs = darknet.classify(ZOO / f"{net}.cfg", weights, png)
    ours = _ours(capsys, ZOO / f"{net}.cfg", weights, png)
    assert [l for l, _ in ours] == [l for l, _ in theirs]
    for (_, p), (_, q) in zip(ours, theirs):
        assert abs(p - q) <= 0.5e-4 + 1e-6  # darknet prints percent with 2 decimals


@pytest.mark.darknet
@pytest.mark.parametrize("net", ["tiny", "darknet"])
def test_all_probabilities_match_darknets_forward(darknet, tmp_path, net):
    """Beyond the 2 printed decimals: every class's probability against darknet's forward pass of the
    letterboxed image (letterbox checked against darknet's own above)."""
    import darkbench
    from darkbench.classify import classify
    png = tmp_path / "dog.png"
    Image.open(DATA / "dog.jpg").save(png)
    weights = darknet.save_random(ZOO / f"{net}.cfg", tmp_path / "w.weights", seed=11, gain=40)
    model = darkbench.load(ZOO / f"{net}.cfg", weights)
    c, h, w = model.input_shape
    theirs = darknet.forward(ZOO / f"{net}.cfg", weights, letterbox(load_color(png), w, h))[-1]
    ours, _ = classify(model, png)
    assert ours.shape == theirs.shape and abs(theirs.sum() - 1) < 1e-4
    assert np.abs(ours - theirs).max() < 1e-5


def test_errors(tmp_path, capsys):
    from darkbench import weights, analyse
    cfg = "tiny.cfg"
    w = tmp_path / "w.weights"
    weights.write(w, analyse(cfg), weights.random_arrays(analyse(cfg), 0))
    assert main(["classify", cfg, str(w), str(tmp_path / "none.png")]) == 2
    assert "no such image" in capsys.readouterr().err
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    assert main(["classify", cfg, str(w), str(bad)]) == 2
    assert "cannot read image" in capsys.readouterr().err
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\n")
    Image.new("RGB", (10, 10)).save(tmp_path / "ok.png")
    assert main(["classify", cfg, str(w), str(tmp_path / "ok.png"), "--labels", str(labels)]) == 2
    assert "2 labels but the network has 1000 outputs" in capsys.readouterr().err
