"""A [crop] larger than its input (darknet's vgg-16.cfg and strided.cfg below 224x224): darknet counts it
and writes its weights file, so darkbench counts it too, with a warning, and refuses only to build or load it
(darknet's forward would read outside its input)."""
import subprocess
import sys

import pytest

import darkbench
from darkbench.errors import DarkbenchError
from darknet import ZOO
from require import require

SIZE = (199, 135)  # odd, non-square, below the 224x224 crop


def _zoo(name):
    cfg = ZOO / name
    if not cfg.exists():
        require(f"{cfg} is not installed (apt-get install darknet)")
    return cfg


@pytest.mark.darknet
@pytest.mark.parametrize("name", ["vgg-16.cfg", "strided.cfg"])
def test_counted_as_darknet_counts_it(darknet, name):
    cfg = darknet.resized(_zoo(name), *SIZE)
    net = darkbench.analyse(cfg)
    shapes, saved = darknet.info(cfg)
    assert net.ops == darknet.ops(cfg)
    assert net.weights_bytes == saved
    assert [(s["c"], s["h"], s["w"]) for s in shapes] == [l.out_shape for l in net.layers]
    assert net.layers[0].out_shape == (3, 224, 224) and net.layers[0].in_shape == (3, 135, 199)
    assert [w for w in net.warnings if "[crop]" in w] == [
        f"{cfg}:17: layer 0 [crop] crop 224x224 is larger than its 199x135 input (darknet would read outside "
        "its input: its result would be garbage): counted as darknet counts it; it cannot be built or loaded"]


def test_building_is_refused_in_one_line_naming_the_layer():
    with pytest.raises(DarkbenchError) as e:
        darkbench.load(_zoo("strided.cfg"), width=SIZE[0], height=SIZE[1])
    msg = str(e.value)
    assert "\n" not in msg and "layer 0" in msg and "[crop] crop 224x224 is larger than its 199x135 input" in msg
    assert msg.endswith("not built")


def test_the_cli_counts_and_warns_once():
    r = subprocess.run([sys.executable, "-m", "darkbench", "ops", str(_zoo("vgg-16.cfg")), "--width", "199",
                        "--height", "135"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "Floating Point Operations: 30940528640" in r.stdout
    assert r.stderr.count("[crop] crop 224x224 is larger") == 1


def test_a_crop_that_fits_builds():
    text = "[net]\nwidth=9\nheight=7\nchannels=2\n[crop]\ncrop_width=5\ncrop_height=7\n"
    net = darkbench.analyse("fits.cfg", text=text)
    assert not net.warnings and net.layers[0].out_shape == (2, 7, 5)
