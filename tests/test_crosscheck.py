"""Analytic conv/connected MACs equal fvcore's exactly and FlopCounterMode's halved, layer by layer."""
import json
from pathlib import Path

import pytest

import darkbench
from darkbench.cli import main
from darkbench.crosscheck import crosscheck
from require import require

ROOT = Path(__file__).resolve().parent.parent
ZOO = Path("/usr/share/darknet/cfg")
RECURRENT = "[rnn]/[gru]/[crnn] layers are analytic only: not built in PyTorch"
NOT_BUILDABLE = {"rnn": RECURRENT, "rnn.train": RECURRENT, "gru": RECURRENT, "recurrent": RECURRENT,
                 "crnn": RECURRENT,
                 "yolo9000": "[region] tree=: darknet's CPU forward gives NaN, so darkbench does not build it"}


def _size(net):
    """A small input darknet's own rules allow: native for fixed-size or small nets, else 64 (96 for heads)."""
    types = {l.type for l in net.layers}
    if types & {"connected", "crop", "detection"} or net.width <= 64:
        return None
    return 96 if types & {"yolo", "region"} else 64


def _cases():
    cfgs = [p for d in (ZOO, ROOT / "cfg", ROOT / "tests" / "cfgs") for p in sorted(d.glob("*.cfg"))]
    out = []
    for p in cfgs:
        where = "zoo" if p.parent == ZOO else "project" if p.parent == ROOT / "cfg" else "own"
        marks = [pytest.mark.skip(reason=NOT_BUILDABLE[p.stem])] if p.stem in NOT_BUILDABLE else []
        out.append(pytest.param(p, id=f"{where}-{p.stem}", marks=marks))
    return out


@pytest.mark.parametrize("cfg", _cases())
def test_macs_equal_fvcore_and_half_flopcounter(cfg):
    net = darkbench.analyse(cfg)
    s = _size(net)
    rows, total = crosscheck(cfg, s, s)
    assert len(rows) == len(net.layers)
    for r in rows:
        where = f"layer {r['layer']} {r['type']}"
        assert r["fvcore_mm"] == r["macs"], where
        assert r["flopcounter"] == 2 * r["macs"], where
        assert r["torch_params"] == r["params"], where  # trainable torch parameters
        assert r["fvcore_params"] == r["params"] + r["torch_frozen"], where  # fvcore counts frozen ones too
        assert not r["fvcore_unsupported"], where  # every op has a handle: nothing silently counted 0
        if r["type"] in ("convolutional", "connected"):
            assert r["darknet_ops"] == 2 * r["macs"], where
    assert total["macs"] == darkbench.analyse(cfg, s, s).macs


def test_handles_by_hand():
    """Our fvcore handles, against hand arithmetic (tiny.cfg at 64x64: 16x64x64 after layer 0)."""
    rows, _ = crosscheck("tiny.cfg", 64, 64)
    assert rows[0]["fvcore_bn"] == 2 * 16 * 64 * 64  # fvcore's own eval-mode rule: scale and shift
    assert rows[0]["fvcore_ops"]["leaky_relu_"] == 16 * 64 * 64
    assert rows[1]["fvcore_ops"] == {"max_pool2d": 2 * 2 * 16 * 32 * 32}
    assert rows[20]["type"] == "avgpool" and rows[20]["fvcore_ops"] == {"mean": 1000 * 4 * 4}
    assert rows[21]["fvcore_ops"] == {"div": 1000, "softmax": 1000}  # temperature, then softmax
    assert rows[0]["file_floats"] - rows[0]["fvcore_params"] == 2 * 16  # running mean and variance
    # maxpool size=2 stride=1 keeps 28x20 (right/bottom padding): window 4 per output
    rows, _ = crosscheck(ROOT / "tests" / "cfgs" / "pools_routes.cfg")
    assert rows[1]["fvcore_ops"] == {"max_pool2d": 4 * 8 * 20 * 28}


def test_frozen_parameters_explained():
    """[batchnorm] stores scales only; torch's zero biases are frozen, and fvcore counts them anyway."""
    rows, _ = crosscheck(ROOT / "tests" / "cfgs" / "misc.cfg")
    r = next(r for r in rows if r["type"] == "batchnorm")
    c = r["file_floats"] // 3  # scales, rolling mean, rolling variance
    assert (r["params"], r["torch_params"], r["torch_frozen"], r["fvcore_params"]) == (c, c, c, 2 * c)
    assert f"fvcore params include {c:,} frozen ones" in r["reason"]


def test_reasons():
    rows, total = crosscheck("yolov3-tiny.cfg", 64, 64)
    r = rows[0]
    assert "FlopCounterMode counts 2 per MAC" in r["reason"] and "fvcore counts batch norm in eval mode" in r["reason"]
    assert "fvcore params exclude BN running stats" in r["reason"]
    assert "activation/pool cost" in rows[1]["reason"]
    assert total["fvcore_other"] == sum(r["fvcore_other"] for r in rows) > 0


def test_cannot_build_is_a_clear_error(capsys):
    with pytest.raises(darkbench.DarkbenchError, match="analytic only"):
        crosscheck(ROOT / "tests" / "cfgs" / "recurrent.cfg")
    assert main(["crosscheck", "cfg/inception.json"]) == 2
    assert main(["crosscheck", "no-such.cfg"]) == 2
    err = capsys.readouterr().err
    assert "darknet cfg" in err and "no such file" in err and "Traceback" not in err


def test_zoo_coverage():
    if not ZOO.exists():
        require(f"darknet's zoo ({ZOO}) is not installed (apt-get install darknet)")
    zoo = [c for c in _cases() if c.id.startswith("zoo-")]
    assert len(zoo) == 45 and len([c for c in zoo if not c.marks]) == 41


def test_cli_formats(capsys):
    assert main(["crosscheck", "tiny.cfg", "--width", "64", "--height", "64"]) == 0
    out = capsys.readouterr().out
    assert "fvcore counts batch norm in eval mode" in out and "FlopCounterMode counts 2 per MAC" in out
    assert "total" in out and "1 per output element" in out  # totals row, conventions footer
    assert main(["crosscheck", "tiny.cfg", "--width", "64", "--height", "64", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["layers"]) == 23 and doc["total"]["macs"] == sum(r["macs"] for r in doc["layers"])
    assert "aten::leaky_relu_" in doc["fvcore_handles"]["1 per output element"]
    assert main(["crosscheck", "tiny.cfg", "--width", "64", "--height", "64", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("layer,type,darknet ops,MACs") and len(lines) == 24
