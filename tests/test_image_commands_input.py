"""Inputs to `classify` and `nightmare` beyond plain 8-bit pictures: 16-bit and rotated (EXIF) images read as
darknet reads them, and bad labels, networks, sizes and options refused with one line before anything is written."""
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin, features

import darkbench
from darkbench import nightmare, weights
from darkbench.cli import main
from darkbench.image import load_color
from require import require_module
from test_classify import Libdarknet
from test_nightmare import SMALL, GlibcRand

# 16-bit samples that tell darknet's rule (the high byte: 511 -> 1) from rounding (511 / 257 -> 2)
TELLING = [511, 0x80FF, 65535, 256, 30000, 0, 1000, 0xFF00]


def png16(path, a):
    """A 16-bit PNG by hand (PIL writes only grey ones): a is (H, W) grey or (H, W, C) with C = 2 (grey+alpha),
    3 (RGB) or 4 (RGBA)."""
    a = np.asarray(a, dtype=">u2")
    a = a[:, :, None] if a.ndim == 2 else a
    h, w, c = a.shape
    raw = b"".join(b"\0" + a[y].tobytes() for y in range(h))  # filter 0 on every row
    ihdr = struct.pack(">IIBBBBB", w, h, 16, {1: 0, 2: 4, 3: 2, 4: 6}[c], 0, 0, 0)  # colour type by channels
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
                           + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b""))
    return Path(path)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png8_interlaced(path, a):
    """An 8-bit RGB PNG in Adam7's seven passes, by hand (PIL does not write interlaced PNGs)."""
    h, w, _ = a.shape
    raw = b""
    for x0, y0, dx, dy in ADAM7:
        sub = np.ascontiguousarray(a[y0::dy, x0::dx])
        if sub.size:
            raw += b"".join(b"\0" + row.tobytes() for row in sub)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 1)
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
                           + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b""))
    return Path(path)


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def huge_png(path, w, h):
    """A w x h 1-bit PNG without pixel data: its size is all there is to read."""
    ihdr = struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IEND", b""))
    return Path(path)


@pytest.fixture(scope="module")
def libdarknet(darknet):
    return Libdarknet()


def _telling(shape, seed=0):
    a = np.random.default_rng(seed).integers(0, 65536, shape).astype(np.uint16)
    a.flat[:len(TELLING)] = TELLING
    return a


@pytest.mark.darknet
@pytest.mark.parametrize("kind,shape", [("grey", (5, 7)), ("grey_alpha", (5, 7, 2)), ("rgb", (5, 7, 3)),
                                        ("rgba", (5, 7, 4))])
def test_16bit_png_read_as_darknet(libdarknet, tmp_path, kind, shape):
    """PIL opens these as I;16 (clipped at 255 by its RGB conversion), RGBA, RGB and RGBA; darknet keeps each
    sample's high byte and drops alpha."""
    a = _telling(shape)
    png = png16(tmp_path / f"{kind}.png", a)
    theirs = libdarknet.load(png)
    hi = (a >> 8).astype(np.float32) / np.float32(255)
    grey = hi if a.ndim == 2 else hi[..., 0]
    expected = np.stack([grey] * 3) if a.ndim == 2 or a.shape[2] == 2 else hi[..., :3].transpose(2, 0, 1)
    assert np.array_equal(theirs, expected)  # the rule, on darknet itself
    assert np.array_equal(load_color(png), theirs)


@pytest.mark.darknet
def test_other_16bit_grey_read_as_darknet(libdarknet, tmp_path):
    """Not only PNG: a 16-bit TIFF (PIL's I;16) and a 16-bit PGM (PIL's 32-bit I)."""
    a = _telling((3, 8), seed=1)
    tif = tmp_path / "grey.tif"
    Image.fromarray(a).save(tif)
    pgm = tmp_path / "grey.pgm"
    pgm.write_bytes(b"P5 8 3 65535\n" + a.astype(">u2").tobytes())
    for path, mode in ((tif, "I;16"), (pgm, "I")):
        assert Image.open(path).mode == mode
        assert np.array_equal(load_color(path), libdarknet.load(path)), path.name
        assert load_color(path)[0, 0, 0] == np.float32(1 / 255), path.name  # 511, the first sample


NET5 = "[net]\nwidth=16\nheight=16\nchannels=3\n\n[avgpool]\n\n[connected]\noutput=5\nactivation=linear\n\n[softmax]\n"


@pytest.mark.darknet
def test_16bit_grey_png_classified_as_darknet(darknet, tmp_path, capsys):
    """The report: a 16x16 I;16 PNG of 30000 through avgpool -> connected(5) -> softmax with weights 2 x identity.
    darknet sees 30000 >> 8 = 117 (26.32% for each of the three colour classes); clipped at 255 it would be 30.57%."""
    cfg = tmp_path / "net5.cfg"
    cfg.write_text(NET5)
    w = tmp_path / "net5.weights"
    weights.write(w, darkbench.analyse(cfg), {(1, "biases"): np.zeros(5), (1, "weights"): 2 * np.eye(5, 3)})
    png = tmp_path / "grey16.png"
    Image.fromarray(np.full((16, 16), 30000, np.uint16)).save(png)
    assert Image.open(png).mode == "I;16"
    theirs = darknet.classify(cfg, w, png)
    assert [p for _, p in theirs] == [0.2632, 0.2632, 0.2632, 0.1052, 0.1052]
    assert main(["classify", str(cfg), str(w), str(png)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{png}: Predicted in ")
    ours = [(l.rsplit(": ", 1)[0], float(l.rsplit(": ", 1)[1])) for l in lines[1:]]
    assert [l for l, _ in ours] == [l for l, _ in theirs]  # darknet's default labels, ties in index order
    for (_, p), (_, q) in zip(ours, theirs):
        assert abs(p - q) <= 0.5e-4 + 1e-6  # darknet prints percent with 2 decimals
    assert abs(ours[0][1] - 0.263233) < 1e-6


@pytest.mark.darknet
def test_exif_orientation_as_darknet(libdarknet, tmp_path):
    """darknet reads through OpenCV, which turns a PNG, JPEG or TIFF upright by its EXIF orientation (5-8 swap
    width and height) but leaves a WebP as stored."""
    a = (np.random.default_rng(2).random((3, 5, 3)) * 255).astype(np.uint8)
    formats = [("png", {}), ("tif", {})] + ([("webp", dict(lossless=True))] if features.check("webp") else [])
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        for ext, options in formats:
            path = tmp_path / f"o{orientation}.{ext}"
            Image.fromarray(a).save(path, exif=exif, **options)
            ours, theirs = load_color(path), libdarknet.load(path)
            assert ours.shape == theirs.shape and np.array_equal(ours, theirs), path.name
        assert load_color(tmp_path / f"o{orientation}.png").shape == ((3, 5, 3) if orientation > 4 else (3, 3, 5))
        jpg = tmp_path / f"o{orientation}.jpg"  # lossy: decoders may round differently
        Image.fromarray(a).save(jpg, exif=exif, quality=95)
        ours, theirs = load_color(jpg), libdarknet.load(jpg)
        assert ours.shape == theirs.shape and np.abs(ours - theirs).max() <= 2 / 255, jpg.name


@pytest.mark.darknet
def test_plain_pngs_decoded_by_libpng_as_darknet(libdarknet, tmp_path):
    """8-bit PNGs without EXIF are decoded by imagecodecs' libpng where it is installed (image._plain_png;
    `darkbench map`'s images): every colour type, a transparent colour, a palette, interlacing, PIL's optimised filters, the same
    pixels as darknet's loader. EXIF and 16 bits go PIL's way (the tests above), a broken file too."""
    from darkbench import image
    a = np.random.default_rng(3).integers(0, 256, (19, 23, 4), dtype=np.uint8)
    rgb = Image.fromarray(a[..., :3])
    cases = {"rgb": (rgb, {}), "rgb_optimised": (rgb, dict(optimize=True)),
             "rgb_trns": (rgb, dict(transparency=tuple(int(v) for v in a[0, 0, :3]))),
             "rgba": (Image.fromarray(a), {}), "grey": (Image.fromarray(a[..., 0]), {}),
             "grey_alpha": (Image.fromarray(a[..., :2], "LA"), {}),
             "palette": (rgb.convert("P"), {}), "palette_trns": (rgb.convert("P"), dict(transparency=3))}
    paths = {}
    for name, (im, options) in cases.items():
        paths[name] = tmp_path / f"{name}.png"
        im.save(paths[name], **options)
    paths["interlaced"] = png8_interlaced(tmp_path / "interlaced.png", a[..., :3])
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "a text chunk before the pixels")
    paths["text"] = tmp_path / "text.png"
    rgb.save(paths["text"], pnginfo=text)
    exif = Image.Exif()
    exif[0x0112] = 6
    rgb.save(tmp_path / "exif.png", exif=exif)
    raw = PngImagePlugin.PngInfo()  # ImageMagick's EXIF (PIL reads it too): the PIL way
    raw.add_text("Raw profile type exif", "\nexif\n       6\n457869660000\n")
    rgb.save(tmp_path / "raw_exif.png", pnginfo=raw)
    require_module("imagecodecs")
    for name, path in paths.items():
        ours, theirs = load_color(path), libdarknet.load(path)
        assert ours.shape == theirs.shape and np.array_equal(ours, theirs), name
        assert image._plain_png(path) is not None, name  # libpng decoded it
    assert image._plain_png(tmp_path / "exif.png") is None  # turned upright by PIL (the test above)
    assert image._plain_png(tmp_path / "raw_exif.png") is None
    assert image._plain_png(png16(tmp_path / "sixteen.png", a[..., :3].astype(np.uint16) << 8)) is None
    broken = tmp_path / "broken.png"
    broken.write_bytes(paths["rgb"].read_bytes()[:60])
    assert image._plain_png(broken) is None
    with pytest.raises(darkbench.DarkbenchError, match="cannot read image"):
        load_color(broken)


# ---- classify: one line for what is wrong, naming the file


@pytest.fixture(scope="module")
def net5(tmp_path_factory):
    d = tmp_path_factory.mktemp("net5")
    cfg = d / "net5.cfg"
    cfg.write_text(NET5)
    w = d / "net5.weights"
    weights.write(w, darkbench.analyse(cfg), {(1, "biases"): np.zeros(5), (1, "weights"): 2 * np.eye(5, 3)})
    img = d / "pic.png"
    Image.new("RGB", (8, 8), (10, 200, 30)).save(img)
    labels = d / "labels.txt"
    labels.write_text("a\nb\nc\nd\ne\n")
    return cfg, w, img, labels


def _error(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Traceback" not in err and "internal error" not in err
    return err.strip()


def test_classify_labels_directory(net5, tmp_path, capsys):
    cfg, w, img, _ = net5
    err = _error(capsys, ["classify", str(cfg), str(w), str(img), "--labels", str(tmp_path)])
    assert err == f"darkbench classify: error: {tmp_path}: is a directory, not a label file (one class name per line)"


def test_classify_multi_output_network(tmp_path, capsys):
    from darkbench.models import resolve
    cfg = resolve("yolov3-tiny.cfg")
    net = darkbench.analyse(cfg)
    w = tmp_path / "y.weights"
    weights.write(w, net, weights.random_arrays(net, 1))
    img = tmp_path / "pic.png"
    Image.new("RGB", (8, 8)).save(img)
    err = _error(capsys, ["classify", str(cfg), str(w), str(img)])
    assert err == (f"darkbench classify: error: {cfg}: classify needs a network with a single output; this one has 2 "
                   "(yolo layers 16, 23)")


def test_classify_huge_image(net5, tmp_path, capsys):
    cfg, w, _, labels = net5
    big = huge_png(tmp_path / "big.png", 20000, 20000)
    err = _error(capsys, ["classify", str(cfg), str(w), str(big), "--labels", str(labels)])
    assert err == (f"darkbench classify: error: {big}: image is 20000x20000 (400,000,000 pixels); darkbench reads "
                   "at most 178,956,970 (PIL's decompression-bomb limit)")


def test_classify_prints_the_tiny_darknet_pages_format(net5, capsys):
    """'label: probability' with 6 decimals, as the Tiny Darknet page shows darknet's classify (the packaged
    darknet prints ' 26.32%: label' instead; darkbench keeps the documented output)."""
    cfg, w, img, labels = net5
    assert main(["classify", str(cfg), str(w), str(img), "--labels", str(labels), "--top", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [l.split(": ")[0] for l in lines[1:]] == ["b", "c"]
    assert all(len(l.split(": ")[1].split(".")[1]) == 6 for l in lines[1:])
    # RGB (10, 200, 30) / 255, doubled: class b leads, then c
    x = 2 * np.array([10, 200, 30, 0, 0]) / 255
    p = np.exp(x) / np.exp(x).sum()
    assert [float(l.split(": ")[1]) for l in lines[1:]] == pytest.approx(p[[1, 2]], abs=1.5e-6)


# ---- nightmare: bad float options and tiny images, refused or handled before any round is written


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    d = tmp_path_factory.mktemp("small")
    cfg = d / "small.cfg"
    cfg.write_text(SMALL)
    w = d / "small.weights"
    net = darkbench.analyse(cfg)
    weights.write(w, net, weights.random_arrays(net, 1))
    img = d / "pic.png"
    Image.fromarray((np.random.default_rng(0).random((40, 48, 3)) * 255).astype(np.uint8)).save(img)
    return cfg, w, img


@pytest.mark.parametrize("option,value,message", [
    ("rate", "nan", "-rate nan must be a finite number"),
    ("rate", "inf", "-rate inf must be a finite number"),
    ("thresh", "nan", "-thresh nan must be a finite number"),
    ("thresh", "-inf", "-thresh -inf must be a finite number"),
    ("zoom", "inf", "-zoom inf must be a finite number"),
    ("zoom", "nan", "-zoom nan must be a finite number"),
    ("zoom", "-1", "-zoom -1.0 must be > 0"),
    ("zoom", "1e30", "-zoom 1e+30 makes a crop of about 4.8e+31x4e+31 pixels from a 48x40 image; darkbench handles "
                     "at most 178,956,970 pixels"),
    ("rotate", "inf", "-rotate inf must be a finite number"),
    ("rotate", "-inf", "-rotate -inf must be a finite number"),
])
def test_nightmare_bad_float_option_writes_nothing(small, tmp_path, capsys, option, value, message):
    """Refused before round 0 (an infinite -rotate used to fail only after it was saved; -rate nan wrote a
    garbage image and exited 0)."""
    cfg, w, img = small
    out = tmp_path / "out"
    out.mkdir()
    err = _error(capsys, ["nightmare", str(cfg), str(w), str(img), "2", "-rounds", "2", "-iters", "1",
                          f"-{option}={value}", "-prefix", str(out)])
    assert err == f"darkbench nightmare: error: {message}"
    assert list(out.iterdir()) == []


def test_nightmare_one_pixel_image(small, tmp_path):
    """darknet crashes on it (its resize divides by zero at 1 row); darkbench dreams at 1x1, flips included."""
    cfg, w, _ = small
    img = tmp_path / "dot.png"
    Image.new("RGB", (1, 1), (100, 150, 200)).save(img)
    out = tmp_path / "out"
    out.mkdir()
    assert main(["nightmare", str(cfg), str(w), str(img), "2", "-rounds", "2", "-iters", "6", "-rotate", "0.3",
                 "-prefix", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["dot_small_2_000000.jpg", "dot_small_2_000001.jpg"]
    assert all(Image.open(out / n).size == (1, 1) for n in names)


def test_nightmare_many_octaves(small, tmp_path):
    """-octaves 100: most draws shrink the image to 1x1 or a 1-pixel-wide strip (flipped: a negative stride)."""
    cfg, w, img = small
    written, losses = nightmare.dream(cfg, w, img, 2, iters=40, octaves=100, prefix=str(tmp_path), progress=False)
    assert len(losses) == 40 and all(math.isfinite(l) for l in losses)
    assert [Image.open(p).size for p in written] == [(48, 40)]
    assert nightmare.octave_scale(10 ** 6) == 0.0  # pow overflows the double: darknet's 1/inf


def test_nightmare_octave_the_network_cannot_take_writes_nothing(tmp_path, capsys):
    """Every octave's size is tried before round 0: a 5x5 unpadded kernel cannot run on the 6x5 of octave 7."""
    cfg = tmp_path / "nopad.cfg"
    cfg.write_text("[net]\nwidth=32\nheight=32\nchannels=3\n\n[convolutional]\nfilters=4\nsize=3\nactivation=leaky\n"
                   "\n[convolutional]\nfilters=4\nsize=5\nactivation=leaky\n")
    w = tmp_path / "nopad.weights"
    net = darkbench.analyse(cfg)
    weights.write(w, net, weights.random_arrays(net, 1))
    img = tmp_path / "pic.png"
    Image.new("RGB", (48, 40)).save(img)
    out = tmp_path / "out"
    out.mkdir()
    err = _error(capsys, ["nightmare", str(cfg), str(w), str(img), "1", "-octaves", "100", "-prefix", str(out)])
    assert err == (f"darkbench nightmare: error: {cfg}:11 layer 1: octave 7 of -octaves 100 puts the 48x40 image at "
                   "6x5: [convolutional] kernel 5x5 with padding 0 is larger than its 4x3 input (darknet's output would be "
                   "0x-1, empty)")
    assert list(out.iterdir()) == []


@pytest.mark.darknet
def test_nightmare_smallest_octaves_darknet_runs_are_its_images(darknet, tmp_path, monkeypatch):
    """-octaves 11 on 48x40 reaches 2x2, the smallest size darknet's resize survives: still darknet's images to
    the byte (both encoded by darknet's JPEG writer), with darknet's random draws."""
    cfg = tmp_path / "small.cfg"
    cfg.write_text(SMALL)
    w = darknet.save_random(cfg, tmp_path / "small.weights", seed=5)
    yy, xx = np.mgrid[0:40, 0:48]
    img = tmp_path / "pic.png"
    Image.fromarray((np.stack([xx / 47, yy / 39, 0.5 + 0.3 * np.sin(xx / 5.0)], -1) * 255).astype(np.uint8)).save(img)
    assert nightmare.octave_size(48, 40, nightmare.octave_scale(10)) == (2, 2)
    theirs, ours = tmp_path / "theirs", tmp_path / "ours"
    theirs.mkdir()
    ours.mkdir()
    darknet.nightmare(cfg, w, img, 2, "-rounds", "2", "-iters", "8", "-octaves", "11", cwd=theirs)
    n = sum(int(np.prod(shape)) for l in darkbench.analyse(cfg).layers for name, shape in l.weights
            if name == "weights")  # darknet's rand() calls for its initial weights, as in test_nightmare
    lib = Libdarknet()
    monkeypatch.setattr("darkbench.image.save", lambda im, path: lib.save_jpg(im, os.path.splitext(path)[0]))
    written, _ = nightmare.dream(cfg, w, img, 2, rounds=2, iters=8, octaves=11, prefix=str(ours), progress=False,
                                 rng=GlibcRand(n + n % 2))
    assert [Path(p).name for p in written] == sorted(p.name for p in theirs.iterdir())
    for p in written:
        assert Path(p).read_bytes() == (theirs / Path(p).name).read_bytes(), Path(p).name
