"""Our cfg/ networks count exactly like darknet's own zoo cfgs of the same network."""
import os
from pathlib import Path

import pytest

import darkbench
from darkbench import published

ROOT = Path(__file__).resolve().parent.parent
ZOO = Path("/usr/share/darknet/cfg")


def _zoo(name):
    p = ZOO / name
    if not p.exists():
        if os.environ.get("DARKBENCH_REQUIRE_DARKNET") == "1":
            pytest.fail(f"darknet's zoo cfg {p} is missing (install the darknet package)")
        pytest.skip(f"darknet's zoo cfg {p} is not installed")
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
