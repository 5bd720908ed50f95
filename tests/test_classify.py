"""`darkbench classify` against darknet's own `classify` on lossless images."""
from pathlib import Path

import pytest
from PIL import Image

from darkbench.cli import main

DATA = Path("/usr/share/darknet/data")
ZOO = Path("/usr/share/darknet/cfg")


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
