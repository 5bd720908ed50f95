"""darkbench's analytic side against the real darknet: `darknet ops`, the size of the .weights file
libdarknet saves, and every layer's type, output shape, outputs and inputs as libdarknet parses them.

Zoo cfgs at their own size and re-sized to odd, non-square inputs; our own small cfgs (tests/cfgs,
tests/cfgs/analytic: analytic only, darknet's forward of those is not comparable) and the project's."""
from pathlib import Path

import pytest

import darkbench
from darkbench.errors import DarkbenchError
from darknet import ZOO
from require import params, require

ROOT = Path(__file__).resolve().parent.parent
CFGS = ROOT / "tests" / "cfgs"
ZOO_CFGS = sorted(ZOO.glob("*.cfg")) if ZOO.exists() else []
NO_ZOO = f"darknet's zoo ({ZOO}) is not installed (apt-get install darknet)"
OWN = ([pytest.param(p, id=f"own-{p.stem}") for p in sorted(CFGS.glob("*.cfg"))]
       + [pytest.param(p, id=f"own-analytic-{p.stem}") for p in sorted((CFGS / "analytic").glob("*.cfg"))]
       + [pytest.param(p, id=f"project-{p.stem}") for p in sorted((ROOT / "cfg").glob("*.cfg"))])
HEADS = {"yolo", "region", "detection"}
ODD = (225, 161)        # odd and non-square
HEAD = (416, 288)       # non-square multiples of 32 for detection heads (their routes need them)
CROP = (259, 233)       # odd, non-square and no smaller than the zoo's 224x224 crops


def _ours(net):
    # darknet's l.inputs of a route is what it reads from its sources; darkbench keeps route.inputs at 0
    # (it does not read the previous layer) and counts its sources in extra_read
    return [(l.index, l.type, *l.out_shape, l.outputs, l.extra_read if l.type == "route" else l.inputs)
            for l in net.layers]


def _theirs(shapes):
    return [(s["index"], s["type"], s["c"], s["h"], s["w"], s["outputs"], s["inputs"]) for s in shapes]


def _check(darknet, cfg, width=None, height=None, clean=None):
    """clean: the cfg darknet reads instead (darknet cannot read CRLF or a BOM)."""
    net = darkbench.analyse(cfg, width, height)
    src = clean or cfg
    dcfg = darknet.resized(src, net.width, net.height) if width else darknet.batch1(src)
    shapes, size = darknet.info(dcfg)
    assert _ours(net) == _theirs(shapes), "per layer: index, type, c, h, w, outputs, inputs"
    assert net.ops == darknet.ops(dcfg), "darknet ops"
    assert net.weights_bytes == size, "size of the .weights file darknet saves"


def _types(cfg):
    return {l.type for l in darkbench.analyse(cfg).layers}


def test_zoo_is_complete():
    if not ZOO.exists():
        require(NO_ZOO)
    assert len(ZOO_CFGS) == 45


@pytest.mark.darknet
@pytest.mark.parametrize("cfg", params([pytest.param(p, id=f"zoo-{p.stem}") for p in ZOO_CFGS], NO_ZOO))
def test_zoo_native(darknet, cfg):
    _check(darknet, cfg)


def _resized_cases():
    out = []
    for p in ZOO_CFGS:
        if not darkbench.analyse(p).channels:
            continue  # rnn/gru text models: no image input to re-size
        types = _types(p)
        w, h = HEAD if types & HEADS else CROP if "crop" in types else ODD
        out.append(pytest.param(p, w, h, id=f"zoo-{p.stem}-{w}x{h}"))
    return params(out, NO_ZOO, arity=3)


@pytest.mark.darknet
@pytest.mark.parametrize("cfg,width,height", _resized_cases())
def test_zoo_resized(darknet, cfg, width, height):
    _check(darknet, cfg, width, height)


def _odd_head_cases():
    return params([pytest.param(p, id=f"zoo-{p.stem}-{ODD[0]}x{ODD[1]}") for p in ZOO_CFGS if _types(p) & HEADS],
                  NO_ZOO)


@pytest.mark.darknet
@pytest.mark.parametrize("cfg", _odd_head_cases())
def test_zoo_heads_at_odd_size(darknet, cfg):
    """Heads at 225x161: where darknet runs it we match it; where darknet aborts (a route or reorg
    whose sizes no longer fit) darkbench refuses with an error naming the layer."""
    try:
        darkbench.analyse(cfg, *ODD)
    except DarkbenchError as e:
        assert f"{cfg}:" in str(e) and "layer" in str(e)
        with pytest.raises(RuntimeError, match="Assertion"):
            darknet.info(darknet.resized(cfg, *ODD))
        return
    _check(darknet, cfg, *ODD)


@pytest.mark.darknet
@pytest.mark.parametrize("cfg", OWN)
def test_own_cfgs(darknet, cfg):
    _check(darknet, cfg)


@pytest.mark.darknet
@pytest.mark.parametrize("name", ["grammar", "pools_routes", "heads"])
def test_crlf_and_bom(darknet, tmp_path, name):
    """darknet misreads CRLF and a UTF-8 BOM; darkbench reads them as the clean file darknet reads."""
    clean = CFGS / f"{name}.cfg"
    dirty = tmp_path / f"{name}.cfg"
    dirty.write_bytes(b"\xef\xbb\xbf" + clean.read_bytes().replace(b"\n", b"\r\n"))
    _check(darknet, dirty, clean=clean)


@pytest.mark.darknet
@pytest.mark.parametrize("cfg", [ZOO / "tiny.cfg", CFGS / "recurrent.cfg", CFGS / "misc.cfg"],
                         ids=["tiny", "recurrent", "misc"])
def test_fast_ops_is_darknet_ops(darknet, cfg):
    """The preloaded fast rand() (tests/harness/fastrand.c) changes darknet's initial values only."""
    if not cfg.exists():
        require(f"{cfg} is not installed (apt-get install darknet)")
    dcfg = darknet.batch1(cfg)
    assert darknet.ops(dcfg, fast=True) == darknet.ops(dcfg, fast=False)


@pytest.mark.darknet
def test_crop_larger_than_its_input_is_counted_not_built(darknet, tmp_path):
    """darknet accepts a crop larger than its input (its forward then reads outside the input buffer):
    darkbench counts it as darknet does, warns, and refuses to build it (tests/test_crop_oversized.py)."""
    cfg = tmp_path / "crop.cfg"
    cfg.write_text("[net]\nwidth=20\nheight=12\nchannels=3\n\n[crop]\ncrop_width=16\ncrop_height=16\n")
    assert darknet.shapes(cfg)[0]["h"] == 16
    net = darkbench.analyse(cfg)
    assert net.layers[0].out_shape == (3, 16, 16)
    assert any("crop 16x16 is larger than its 20x12 input" in w for w in net.warnings)


@pytest.mark.darknet
@pytest.mark.parametrize("section,want", [
    ("[maxpool]\nsize=4\nstride=3\npadding=0", (3, 1, 1)),
    ("[convolutional]\nfilters=2\nsize=4\nstride=3\nactivation=linear", (2, 1, 1)),
], ids=["maxpool", "convolutional"])
def test_window_larger_than_its_input_as_darknet(darknet, tmp_path, section, want):
    """(in + pad - size) / stride + 1 with a negative numerator is 1 in C (division truncates toward
    zero), so darknet makes a 1x1 output from a window that hangs over the input (reading zeros, or -inf
    for maxpool, there); darkbench does the same (outputs: tests/test_cfg_strict.py)."""
    cfg = tmp_path / "big-window.cfg"
    cfg.write_text(f"[net]\nwidth=3\nheight=2\nchannels=3\n\n{section}\n")
    s = darknet.shapes(cfg)[0]
    assert (s["c"], s["h"], s["w"]) == want == darkbench.analyse(cfg).layers[0].out_shape
    assert darknet.ops(cfg) == darkbench.analyse(cfg).ops

