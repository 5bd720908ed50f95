"""Our cfg/ networks count exactly like darknet's own zoo cfgs of the same network."""
from pathlib import Path

import pytest

import darkbench
from darkbench import published
from require import require

ROOT = Path(__file__).resolve().parent.parent
ZOO = Path("/usr/share/darknet/cfg")


def _zoo(name):
    p = ZOO / name
    if not p.exists():
        require(f"darknet's zoo cfg {p} is not installed (apt-get install darknet)")
    return p


@pytest.mark.parametrize("name", ["tiny.cfg", "darknet.cfg", "alexnet.cfg", "yolov3-tiny.cfg"])
def test_counts_equal_the_zoo(name):
    ours, theirs = darkbench.analyse(ROOT / "cfg" / name), darkbench.analyse(_zoo(name))
    for attr in ("ops", "macs", "params", "weight_floats", "weights_bytes", "width", "height", "channels"):
        assert getattr(ours, attr) == getattr(theirs, attr), attr
    strip = lambda n: [(l.type, l.out_shape, l.weights) for l in n.layers if l.type != "cost"]
    assert strip(ours) == strip(theirs)


def test_verify_verdicts():
    rows = {r["claim"]: r for r in published.verify()}
    assert rows["table-tiny-ops"]["verdict"] == "reproduced"
    assert rows["table-tiny-size"]["verdict"] == "reproduced"
    assert rows["table-alexnet-size"]["verdict"] == "reproduced"
    assert rows["table-darknet-ops"]["verdict"] == "known discrepancy"
    assert rows["text-squeezenet-2.2b"]["holds_at"] == "259x259"
    assert all(r["verdict"] in ("reproduced", "known discrepancy", "quoted") for r in rows.values())


def test_verify_ignores_a_same_named_cfg_here(tmp_path, monkeypatch):
    # a user's own tiny.cfg in the current directory (or on DARKBENCH_CFG_PATH) is not the page's network
    (tmp_path / "tiny.cfg").write_text("[net]\nwidth=8\nheight=8\nchannels=3\n[convolutional]\nfilters=4\nsize=3\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DARKBENCH_CFG_PATH", str(tmp_path))
    assert darkbench.analyse("tiny.cfg").ops == 2 * 4 * 27 * 6 * 6  # the bare name does find the user's file
    rows = {r["claim"]: r for r in published.verify()}
    assert rows["table-tiny-ops"]["verdict"] == "reproduced" and rows["table-tiny-ops"]["computed"] == 983048192  # `darknet ops tiny.cfg`


def test_published_figures_only_for_the_page_network(tmp_path, capsys):
    from darkbench.cli import main
    other = tmp_path / "tiny.cfg"  # same name, different network
    other.write_text((ROOT / "cfg" / "yolov3-tiny.cfg").read_text())
    copy = tmp_path / "copy" / "tiny.cfg"  # same bytes elsewhere: still the page's network
    copy.parent.mkdir()
    copy.write_bytes((ROOT / "cfg" / "tiny.cfg").read_bytes())
    assert main(["compare", str(other), str(copy), "--format", "json"]) == 0
    import json
    rows = json.loads(capsys.readouterr().out)
    assert "pub_ops" not in rows[0] and rows[1]["pub_ops"] == "0.98 Bn" and rows[1]["network"] == "Tiny Darknet"
    assert main(["compare", str(copy), "--width", "32", "--height", "32", "--format", "json"]) == 0
    assert "pub_ops" not in json.loads(capsys.readouterr().out)[0]  # resized: not the published figure
