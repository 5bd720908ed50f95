"""`darkbench detect` on bad input, in a real process: one line naming the file (and line or layer), a non-zero
exit, nothing printed on stdout and nothing written (a bad image anywhere in the list stops the whole run before
a line or a picture comes out); --save never replaces a file."""
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from darkbench import analyse, weights

# a small detector: one convolution and a [yolo] head with 3 classes
NET = ("[net]\nwidth=32\nheight=32\nchannels=3\n[convolutional]\nfilters=8\nsize=3\nstride=2\npad=1\n"
       "activation=leaky\n[convolutional]\nfilters=24\nsize=1\nactivation=linear\n"
       "[yolo]\nclasses=3\nnum=3\nmask=0,1,2\nanchors=4,4,8,8,16,16\n")


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    d = tmp_path_factory.mktemp("detect-input")
    cfg = d / "small.cfg"
    cfg.write_text(NET)
    net = analyse(cfg)
    arrays = weights.random_arrays(net, 0)
    arrays[(1, "biases")][:] = 3  # every box and class above the threshold
    weights.write(d / "small.weights", net, arrays)
    Image.new("RGB", (40, 30), (120, 80, 200)).save(d / "ok.png")
    return d


def run(*args, cwd=None):
    r = subprocess.run([sys.executable, "-m", "darkbench", "detect", *map(str, args)], capture_output=True,
                       text=True, cwd=cwd)
    return r.returncode, r.stdout, r.stderr


def refused(*args, want, cwd=None):
    code, out, err = run(*args, cwd=cwd)
    lines = [l for l in err.splitlines() if not l.startswith("warning:")]
    assert code == 2 and out == "" and "Traceback" not in err, (code, out, err)
    assert len(lines) == 1 and lines[0].startswith("darkbench detect: error: ") and want in lines[0], err
    return lines[0]


def test_a_good_run_prints_and_saves(small, tmp_path):
    code, out, err = run(small / "small.cfg", small / "small.weights", small / "ok.png", "--save", tmp_path / "s")
    assert code == 0 and out.splitlines()[0].startswith(f"{small / 'ok.png'}: Predicted in ")
    assert "names: class ids" in err and (tmp_path / "s" / "ok.jpg").is_file()


def test_an_image_that_does_not_decode(small, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    line = refused(small / "small.cfg", small / "small.weights", small / "ok.png", bad, "--save", tmp_path / "out",
                   want="cannot read image")
    assert str(bad) in line and not (tmp_path / "out").exists()  # the first image's picture was not written


def test_a_truncated_image(small, tmp_path):
    whole = (small / "ok.png").read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(whole[:len(whole) // 2])
    assert str(cut) in refused(small / "small.cfg", small / "small.weights", cut, want="cannot read image")


def test_a_missing_image(small, tmp_path):
    assert str(tmp_path / "none.png") in refused(small / "small.cfg", small / "small.weights", tmp_path / "none.png",
                                                 want="no such image")


def test_fewer_names_than_classes(small, tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("cat\ndog\n")
    line = refused(small / "small.cfg", small / "small.weights", small / "ok.png", "--names", names,
                   want="2 names but the network has 3 classes")
    assert str(names) in line


def test_names_that_are_a_directory(small, tmp_path):
    refused(small / "small.cfg", small / "small.weights", small / "ok.png", "--names", tmp_path,
            want="is a directory, not a names file")


def test_a_network_without_a_detection_head(small, tmp_path):
    cfg = Path(__file__).resolve().parent.parent / "cfg" / "tiny.cfg"
    net = analyse(cfg)
    weights.write(tmp_path / "tiny.weights", net, weights.random_arrays(net, 0))
    line = refused(cfg, tmp_path / "tiny.weights", small / "ok.png", want="has no detection head ([")
    assert str(cfg) in line and "[yolo]" in line and "[region]" in line


def test_weights_that_do_not_fit(small, tmp_path):
    w = tmp_path / "short.weights"
    w.write_bytes((small / "small.weights").read_bytes()[:-40])
    assert str(w) in refused(small / "small.cfg", w, small / "ok.png", want="floats")


def test_save_into_an_existing_file(small, tmp_path):
    f = tmp_path / "taken"
    f.write_text("mine")
    refused(small / "small.cfg", small / "small.weights", small / "ok.png", "--save", f,
            want="exists and is not a directory")
    assert f.read_text() == "mine"


def test_save_never_replaces_a_picture(small, tmp_path):
    d = tmp_path / "out"
    d.mkdir()
    (d / "ok.jpg").write_text("mine")
    code, _, err = run(small / "small.cfg", small / "small.weights", small / "ok.png", "--save", d)
    assert code == 0 and (d / "ok.jpg").read_text() == "mine" and (d / "ok-2.jpg").is_file()
    assert f"saved {d / 'ok-2.jpg'}" in err


@pytest.mark.parametrize("option,value", [("--thresh", "1.5"), ("--nms", "-1"), ("--batch", "0")])
def test_options_out_of_range(small, option, value):
    refused(small / "small.cfg", small / "small.weights", small / "ok.png", option, value,
            want=f"{option} {float(value) if option != '--batch' else value}")


def test_a_backend_that_cannot_run_it(small):
    """OpenCV DNN has no [Gaussian_yolo]: one line, not a traceback."""
    pytest.importorskip("cv2")
    cfg = small / "gauss.cfg"
    cfg.write_text(NET.replace("filters=24", "filters=36").replace("[yolo]", "[Gaussian_yolo]"))
    net = analyse(cfg)
    weights.write(small / "gauss.weights", net, weights.random_arrays(net, 0))
    refused(cfg, small / "gauss.weights", small / "ok.png", "--backend", "opencv", want="backend")
