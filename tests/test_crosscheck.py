"""Analytic conv/connected MACs equal fvcore's exactly and FlopCounterMode's halved, layer by layer."""
from pathlib import Path

import pytest

import darkbench
from darkbench.cli import main
from darkbench.crosscheck import crosscheck

ROOT = Path(__file__).resolve().parent.parent
ZOO = Path("/usr/share/darknet/cfg")
# analytic only: recurrent layers, tree softmax, [reorg] extra=
NOT_BUILDABLE = {"rnn", "rnn.train", "gru", "darknet9000", "yolo9000", "go", "go.test"}


def _size(net):
    """A small input darknet's own rules allow: native for fixed-size nets, else 64 (96 for heads)."""
    types = {l.type for l in net.layers}
    if types & {"connected", "crop", "detection"}:
        return None
    return 96 if types & {"yolo", "region"} else 64


def _cases():
    cfgs = sorted(ZOO.glob("*.cfg")) + sorted((ROOT / "cfg").glob("*.cfg")) + \
        [p for p in sorted((ROOT / "tests" / "cfgs").glob("*.cfg")) if p.stem not in ("recurrent", "crnn")]
    out = []
    for p in cfgs:
        if p.stem in NOT_BUILDABLE and p.parent == ZOO:
            continue
        where = "zoo" if p.parent == ZOO else "project" if p.parent == ROOT / "cfg" else "own"
        out.append(pytest.param(p, id=f"{where}-{p.stem}"))
    return out


@pytest.mark.parametrize("cfg", _cases())
def test_macs_equal_fvcore_and_half_flopcounter(cfg):
    net = darkbench.analyse(cfg)
    s = _size(net)
    rows, total = crosscheck(cfg, s, s)
    for r in rows:
        assert r["fvcore_mm"] == r["macs"], f"layer {r['layer']} {r['type']}"
        assert r["flopcounter"] == 2 * r["macs"], f"layer {r['layer']} {r['type']}"
        assert r["torch_params"] == r["params"], f"layer {r['layer']} {r['type']}"
        if r["type"] in ("convolutional", "connected"):
            assert r["darknet_ops"] == 2 * r["macs"]


def test_zoo_coverage():
    if not ZOO.exists():
        pytest.skip("darknet's zoo is not installed")
    assert len([c for c in _cases() if c.id.startswith("zoo-")]) == 45 - len(NOT_BUILDABLE)


def test_cli_table(capsys):
    assert main(["crosscheck", "tiny.cfg", "--width", "64", "--height", "64"]) == 0
    out = capsys.readouterr().out
    assert "fvcore counts batch norm in eval mode" in out and "FlopCounterMode = 2 per MAC" in out
