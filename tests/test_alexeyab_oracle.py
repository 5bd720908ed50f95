"""The AlexeyAB fork oracle (tests/alexeyab.py) against hand arithmetic, before darkbench reads the fork.

The fork's conventions checked here (see the module): a convolution's BF is
2 * (c / groups) * n * size * size * out_h * out_w / 1e9 with C integer division; maxpool's is
size * size * c * out_h * out_w / 1e9; a shortcut's out_w * out_h * out_c * len(from) / 1e9, doubled with
weights_type; an antialiasing blur is neither counted nor saved; per-layer values are float32 and the
total is their float32 sum, printed with 3 decimals. The weights file starts with int32 0, 2, 5 and a
uint64 seen (20 bytes), then per convolution biases, [scales, mean, variance], weights.
"""
import struct

import numpy as np
import pytest

import alexeyab
from alexeyab import ForkCrash, parse_ops

pytestmark = pytest.mark.alexeyab

HEADER = 20

CONV_POOL = """
[net]
batch=1
width=224
height=160
channels=3

[convolutional]
batch_normalize=1
filters=32
size=3
stride=2
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[convolutional]
filters=10
size=1
stride=1
activation=linear
"""

# c = 6 is not a multiple of groups = 4: the fork's (c / groups) is 1, its stdout `ops` forgets the groups
GROUPED = """
[net]
width=256
height=256
channels=6

[convolutional]
filters=8
groups=4
size=3
stride=1
pad=1
activation=linear
"""

# fork-only options: antialiasing (stride-1 conv + uncounted, unsaved blur at stride 2), shortcut
# weights per channel (the fork refuses weights_type without a weights_normalization), route groups
FORK_OPTIONS = """
[net]
width=256
height=256
channels=3

[convolutional]
filters=16
size=3
stride=2
pad=1
antialiasing=1
activation=leaky

[convolutional]
filters=16
size=1
stride=1
activation=leaky

[convolutional]
filters=16
size=1
stride=1
activation=leaky

[shortcut]
from=-2
weights_type=per_channel
weights_normalization=relu
activation=linear

[route]
layers=-1,-3
groups=2
group_id=1
"""

# 2018 resnets: a shortcut across a stride -> the fork's assert in parse_shortcut
SHORTCUT_ACROSS_STRIDE = """
[net]
width=32
height=32
channels=3

[convolutional]
filters=4
size=3
stride=2
pad=1
activation=leaky

[convolutional]
filters=4
size=1
stride=2
activation=leaky

[shortcut]
from=-2
activation=linear
"""

# no layer with a 2-D output: the fork prints its total, then divides by zero (as on rnn.cfg)
FLAT = """
[net]
inputs=16

[connected]
output=4
activation=linear
"""


@pytest.fixture
def cfg(tmp_path):
    def write(text, name="t.cfg"):
        p = tmp_path / name
        p.write_text(text.lstrip())
        return p
    return write


def f32_total(per_layer):
    """The fork's Total: float32 per-layer values (computed in double), summed in float32."""
    t = np.float32(0)
    for v in per_layer:
        t = np.float32(t + np.float32(v))
    return float(t)


# -- without the fork ---------------------------------------------------------------------------------------
def test_missing_names_the_variable(monkeypatch, tmp_path):
    monkeypatch.delenv(alexeyab.ENV, raising=False)
    assert "DARKBENCH_ALEXEYAB is not set" in alexeyab.missing()
    monkeypatch.setenv(alexeyab.ENV, str(tmp_path))
    assert "has no darknet" in alexeyab.missing()


def test_parse_ops_blocks():
    """Per-layer blocks start at the expected index only; sub-layer and blur lines stay in their block."""
    stderr = """ GPU isn't used
   layer   filters  size/strd(dil)      input                output
   0 conv     16       3 x 3/ 1    256 x 256 x   3 ->  256 x 256 x  16 0.057 BF
conv     16/  16  3 x 3/ 2    256 x 256 x  16 ->  128 x 128 x  16 0.005 BF
   1 route  0 \t\t                           ->  128 x 128 x  16
   2 CRNN Layer: 8 x 8 x 3 image, 4 filters
conv      4       3 x 3/ 1      8 x   8 x   3 ->    8 x   8 x   4 0.000 BF
 3 x 3 whatever
   3 Shortcut Layer: 1,  wt = 0, wn = 0, outputs: 128 x 128 x  16 0.000 BF
Total BFLOPS 0.057 
avg_outputs = 1
"""
    r = parse_ops("Floating Point Operations: 123\n", stderr)
    assert r.total == 0.057 and r.ops == 123
    assert r.bf == [0.057, None, 0.0, 0.0]
    assert r.printed == [[0.057, 0.005], [], [0.0], [0.0]]
    assert r.kinds == ["conv", "route", "CRNN", "Shortcut"]


# -- with the fork ------------------------------------------------------------------------------------------
def test_conv_pool(alexeyab_fork, cfg):
    p = cfg(CONV_POOL)
    per_layer = [2 * 3 * 32 * 3 * 3 * 80 * 112 / 1e9,  # conv 3x3/2, pad 1: 224x160 -> 112x80
                 2 * 2 * 32 * 40 * 56 / 1e9,           # maxpool 2/2, padding size-1: 112x80 -> 56x40
                 2 * 32 * 10 * 40 * 56 / 1e9]          # conv 1x1
    r = alexeyab.fork_ops(p)
    assert r.bf == [round(v, 3) for v in per_layer] == [0.015, 0.0, 0.001]
    assert r.total == 0.017 == round(f32_total(per_layer), 3)
    assert r.ops == 2 * 32 * 3 * 9 * 80 * 112 + 2 * 10 * 32 * 40 * 56
    assert r.crash is None

    layers, size, total = alexeyab.fork_info(p)
    assert [(l.type, l.out_c, l.out_h, l.out_w, l.outputs) for l in layers] == [
        ("convolutional", 32, 80, 112, 32 * 80 * 112), ("maxpool", 32, 40, 56, 32 * 40 * 56),
        ("convolutional", 10, 40, 56, 10 * 40 * 56)]
    assert [l.bflops for l in layers] == pytest.approx(per_layer, rel=1e-7)
    assert total == pytest.approx(f32_total(per_layer), rel=1e-8)
    expect = HEADER + 4 * (32 * 4 + 3 * 9 * 32) + 4 * (10 + 32 * 10)  # bn: biases, scales, mean, variance
    assert size == expect == 5308
    assert alexeyab.fork_weights_bytes(p) == expect
    assert alexeyab.fork_shapes(p) == layers


def test_resized(alexeyab_fork, cfg):
    """Re-sizing writes a copy with [net] width/height replaced; weights do not change."""
    p = cfg(CONV_POOL)
    r = alexeyab.fork_ops(p, width=320, height=96)
    per_layer = [2 * 27 * 32 * 48 * 160 / 1e9, 4 * 32 * 24 * 80 / 1e9, 2 * 320 * 24 * 80 / 1e9]
    assert r.bf == [0.013, 0.0, 0.001]
    assert r.total == round(f32_total(per_layer), 3) == 0.015
    assert [(l.out_h, l.out_w) for l in alexeyab.fork_shapes(p, 320, 96)] == [(48, 160), (24, 80), (24, 80)]
    assert alexeyab.fork_weights_bytes(p, 320, 96) == 5308
    assert "width=320" not in p.read_text()  # the cfg itself is untouched


def test_groups_integer_division(alexeyab_fork, cfg):
    p = cfg(GROUPED)
    r = alexeyab.fork_ops(p)
    nweights = (6 // 4) * 8 * 3 * 3
    assert r.total == r.bf[0] == round(2 * nweights * 256 * 256 / 1e9, 3) == 0.009
    assert r.ops == 2 * 8 * 3 * 3 * 6 * 256 * 256  # the fork's `ops` count leaves out /groups
    assert alexeyab.fork_weights_bytes(p) == HEADER + 4 * (8 + nweights)


def test_fork_options(alexeyab_fork, cfg):
    p = cfg(FORK_OPTIONS)
    host = 2 * 3 * 16 * 9 * 256 * 256 / 1e9   # the convolution at stride 1; its blur is not counted
    one = 2 * 16 * 16 * 128 * 128 / 1e9
    short = 128 * 128 * 16 * 1 / 1e9 * 2      # one `from`, doubled for weights_type
    r = alexeyab.fork_ops(p)
    assert r.bf[:4] == [round(host, 3), round(one, 3), round(one, 3), round(short, 3)] == [0.057, 0.008, 0.008, 0.001]
    assert r.bf[4] is None
    assert len(r.printed[0]) == 2  # the blur prints its own BF line inside layer 0's block
    assert r.total == round(f32_total([host, one, one, short]), 3) == 0.074

    layers, size, _ = alexeyab.fork_info(p)
    assert [(l.type, l.out_c, l.out_h, l.out_w) for l in layers] == [
        ("convolutional", 16, 128, 128), ("convolutional", 16, 128, 128), ("convolutional", 16, 128, 128),
        ("shortcut", 16, 128, 128), ("route", 16, 128, 128)]  # route groups: (16 + 16) / 2
    assert layers[0].antialiasing == 1 and layers[3].nweights == (1 + 1) * 16
    # conv: biases + weights (no batch norm; blur not saved); shortcut per_channel: (len(from)+1) * c
    assert size == HEADER + 4 * (16 + 3 * 16 * 9) + 2 * 4 * (16 + 16 * 16) + 4 * 2 * 16
    assert alexeyab.fork_weights_bytes(p) == size


def test_header(alexeyab_fork, cfg, tmp_path):
    out = alexeyab_fork.save_random(cfg(CONV_POOL), tmp_path / "r.weights")
    data = out.read_bytes()
    assert struct.unpack("<iiiQ", data[:HEADER]) == (0, 2, 5, 0)
    assert len(data) == 5308


def test_crash_error_message(alexeyab_fork, cfg):
    """The fork's error(): exit status 1, its message on stdout, location on stderr."""
    p = cfg(FORK_OPTIONS.replace("weights_normalization=relu\n", ""))
    with pytest.raises(ForkCrash, match=r"exit status 1.*parse_shortcut.*Incorrect weights_normalization"):
        alexeyab.fork_ops(p)


def test_crash_assert(alexeyab_fork, cfg):
    p = cfg(SHORTCUT_ACROSS_STRIDE)
    with pytest.raises(ForkCrash, match="SIGABRT.*parse_shortcut: Assertion") as e:
        alexeyab.fork_ops(p)
    assert e.value.how == "SIGABRT"
    with pytest.raises(ForkCrash, match="SIGABRT"):
        alexeyab.fork_weights_bytes(p)
    with pytest.raises(ForkCrash, match="SIGABRT"):
        alexeyab.fork_shapes(p)


def test_crash_after_total(alexeyab_fork, cfg):
    p = cfg(FLAT)
    r = alexeyab.fork_ops(p)
    assert r.total == 0.0 and r.crash is not None and r.crash.how == "SIGFPE"
    with pytest.raises(ForkCrash, match="SIGFPE"):
        alexeyab.fork_weights_bytes(p)


def test_zoo_entries(alexeyab_fork):
    cfgs = alexeyab_fork.zoo_cfgs()
    assert len(cfgs) == 87
    rows = {z.name: z for z in alexeyab.zoo(["yolov3-tiny", "resnet50", "rnn"])}
    assert set(rows) == {"yolov3-tiny", "resnet50", "rnn"}
    assert rows["yolov3-tiny"].ok and rows["yolov3-tiny"].total == 5.571
    assert not rows["resnet50"].ok and "Assertion" in rows["resnet50"].error and rows["resnet50"].total is None
    assert not rows["rnn"].ok and "SIGFPE" in rows["rnn"].error and rows["rnn"].total == 0.0


def test_zoo_cfg_per_layer_agrees_with_harness(alexeyab_fork):
    """The printed BF is the harness's float32 l.bflops to 3 decimals; the total is their float32 sum."""
    p = alexeyab_fork.cfg_dir / "yolov3-tiny.cfg"
    for size in ((None, None), (320, 192)):
        r = alexeyab.fork_ops(p, *size)
        layers, nbytes, total = alexeyab.fork_info(p, *size)
        assert len(layers) == len(r.bf) == 24
        for l, bf in zip(layers, r.bf):
            assert (bf is None) == (l.bflops == 0) or bf == 0.0
            if bf is not None:
                assert f"{l.bflops:.3f}" == f"{bf:.3f}"
        assert f"{total:.3f}" == f"{r.total:.3f}"
        assert nbytes == alexeyab.fork_weights_bytes(p, *size) == 35434956


def test_published_alexeyab_claims(alexeyab_fork):
    """darkbench/data/published_alexeyab.json against the fork: each figure either rounds from the fork's
    value to its stated digits or records the fork's exact value as a known discrepancy."""
    import json
    from pathlib import Path
    data = json.loads((Path(__file__).parents[1] / "darkbench/data/published_alexeyab.json").read_text())
    ids = [c["id"] for c in data["claims"]]
    assert len(ids) == len(set(ids))
    for c in data["claims"]:
        assert c["source"] in data["sources"], c["id"]
        cfg = alexeyab_fork.cfg_dir / c["cfg"]
        assert cfg.exists(), c["id"]
        if "quoted" in c:
            continue
        size = c.get("width"), c.get("height")
        if c["quantity"] in ("bflops", "fma"):
            value = alexeyab.fork_ops(cfg, *size).total / (2 if c["quantity"] == "fma" else 1)
        else:
            nbytes = alexeyab.fork_weights_bytes(cfg, *size, cutoff=c.get("cutoff", 1000000))
            value = nbytes / 2**20
        if "known" in c:
            assert round(value, c["digits"]) != c["value"] and c["known"]["computed"] == value, c["id"]
            if "computed_bytes" in c["known"]:
                assert c["known"]["computed_bytes"] == nbytes, c["id"]
        else:
            assert round(value, c["digits"]) == c["value"], c["id"]
