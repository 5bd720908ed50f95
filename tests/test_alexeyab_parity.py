"""darkbench in the AlexeyAB fork's dialect against the fork itself (tests/alexeyab.py), over its whole zoo:
`Total BFLOPS` as printed, every layer's BF (the fork's float32 l.bflops, and as printed), the size of the
weights file the fork's save_weights writes (the harness's; `darknet partial`'s for our own cfgs here and for
the README's claims in test_verify_alexeyab.py) and every layer's type and output shape.

Each cfg at its own size, at an odd non-square size (where the fork aborts there, darkbench must refuse with
one line naming the layer) and at a non-square multiple of its largest stride (what detection heads and
their routes need). Cfgs the fork cannot read (its shortcut assert on 2018 resnets, its divide by zero on
the rnn text models) are refused in its dialect with one clear line and still read in pjreddie's.

The fork runs once per cfg and size; its results are cached on disk (tests/alexeyab.py), so a second run
takes seconds."""
import struct
from pathlib import Path

import pytest

import alexeyab
import darkbench
from alexeyab import ForkCrash
from darkbench import cfg as cfgmod
from darkbench.errors import DarkbenchError
from require import params

pytestmark = pytest.mark.alexeyab

ROOT = alexeyab.location()
ZOO = ROOT / "cfg" if ROOT else None
# the list comes from the fork's cfg/ folder (no fork run at collection); zoo() would run it
ZOO_CFGS = sorted(ZOO.glob("*.cfg")) if ZOO and ZOO.is_dir() else []
NO_ZOO = alexeyab.missing() or f"the fork's zoo ({ZOO}) has no cfgs"
ODD = (225, 161)         # odd and non-square
CROP = (259, 233)        # odd, non-square and no smaller than the zoo's 224x224 crops
BASE = (416, 288)        # non-square; rounded up to multiples of the cfg's largest stride (>= 32)
ALEXEYAB = "alexeyab"


def _f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def _has_image(cfg):
    try:
        return cfgmod.read(str(cfg))[0].get_int("channels", 0) > 0
    except DarkbenchError:
        return True  # the test then says what is wrong with it


def _sections(cfg):
    return {s.name for s in cfgmod.read(str(cfg))[1:]}


def _ids(cfgs, tag=""):
    return [pytest.param(p, id=f"{p.stem}{tag}") for p in cfgs]


def _one_line(err, cfg):
    msg = str(err)
    assert msg and "\n" not in msg, f"not one line: {msg!r}"
    assert str(cfg) in msg or cfg.name in msg, f"does not name the file: {msg}"
    return msg


def _refused(cfg, width=None, height=None):
    """The fork crashes on cfg: darkbench refuses it in the fork's dialect, reads it in 2018's."""
    with pytest.raises(DarkbenchError) as e:
        darkbench.analyse(cfg, width, height, dialect=ALEXEYAB)
    _one_line(e.value, cfg)
    net = darkbench.analyse(cfg, width, height, dialect="pjreddie")
    assert net.layers and net.dialect == "pjreddie"


def _compare(cfg, width=None, height=None, file_bytes=None):
    """darkbench (dialect alexeyab) equals the fork at this size; the fork has run to the end here."""
    printed = alexeyab.fork_ops(cfg, width, height)  # the fork first: its cache fills even when we fail
    layers, saved, total = alexeyab.fork_info(cfg, width, height)
    net = darkbench.analyse(cfg, width, height, dialect=ALEXEYAB)
    assert net.dialect == ALEXEYAB
    where = f"{cfg.name} at {net.width}x{net.height}"

    assert len(net.layers) == len(layers) == len(printed.bf), f"{where}: number of layers"
    ours = [(l.index, l.type.lower(), *l.out_shape, l.outputs) for l in net.layers]
    theirs = [(f.index, f.type, f.out_c, f.out_h, f.out_w, f.outputs) for f in layers]
    assert ours == theirs, f"{where}: per layer (index, type, c, h, w, outputs)"

    for l, f, bf, shown in zip(net.layers, layers, printed.bf, printed.printed):
        assert _f32(l.bflops) == _f32(f.bflops), f"{where} layer {l.index} [{l.type}]: BF {l.bflops} vs {f.bflops}"
        if len(shown) == 1:  # one figure printed: the layer's own (crnn/antialiasing print sub-layers' too)
            assert f"{l.bflops:.3f}" == f"{bf:.3f}", f"{where} layer {l.index}: printed BF"
        elif not shown:
            assert l.bflops == 0, f"{where} layer {l.index}: the fork prints no BF"

    assert f"{net.bflops:.3f}" == f"{printed.total:.3f}", f"{where}: Total BFLOPS"
    assert _f32(net.bflops) == _f32(total), f"{where}: float32 sum of the layers' BF"
    assert net.weights_bytes == saved, f"{where}: size of the file the fork's save_weights writes"
    if file_bytes is not None:
        assert net.weights_bytes == file_bytes, f"{where}: size of the file `darknet partial` writes"
    return net


def _fork_reads(cfg, width=None, height=None):
    """True when the fork reads cfg at this size; False when it crashes (or gives a 0x0x0 layer: its
    "width and height of the input layers are different" route)."""
    try:
        layers = alexeyab.fork_shapes(cfg, width, height)
        r = alexeyab.fork_ops(cfg, width, height)
    except ForkCrash:
        return False
    return r.crash is None and all(f.outputs > 0 for f in layers)


def test_zoo_is_there():
    """The parameter sets below come from the fork's cfg/ folder: it must hold the 87-cfg zoo."""
    if not ZOO_CFGS:
        from require import require
        require(NO_ZOO)
    assert len(ZOO_CFGS) == 87


@pytest.mark.parametrize("cfg", params(_ids(ZOO_CFGS), NO_ZOO))
def test_zoo_native(alexeyab_fork, cfg):
    # 2018 resnets: the fork's shortcut assert (parser.c); rnn text models: its divide by zero after the table
    if not _fork_reads(cfg):
        _refused(cfg)
        return
    _compare(cfg)


def _stride(cfg):
    """The cfg's largest downsampling at its own size, from the fork's shapes (32 at least)."""
    net = cfgmod.read(str(cfg))[0]
    w, h = net.get_int("width", 0), net.get_int("height", 0)
    most = 32
    for f in alexeyab.fork_shapes(cfg):
        if 1 < f.out_w < w and 1 < f.out_h < h:  # not a global pool's 1x1
            most = max(most, w // f.out_w, h // f.out_h)
    return most


IMAGE_CFGS = [p for p in ZOO_CFGS if _has_image(p)]


@pytest.mark.parametrize("cfg", params(_ids(IMAGE_CFGS, "-stride"), NO_ZOO))
def test_zoo_resized(alexeyab_fork, cfg):
    """At a non-square multiple of the cfg's largest stride (>= 32) near 416x288."""
    if not _fork_reads(cfg):
        _refused(cfg, *BASE)
        return
    s = _stride(cfg)
    width, height = -(-BASE[0] // s) * s, -(-BASE[1] // s) * s
    assert _fork_reads(cfg, width, height), f"the fork cannot read {cfg.name} at {width}x{height}"
    _compare(cfg, width, height)


@pytest.mark.parametrize("cfg", params(_ids(IMAGE_CFGS, "-odd"), NO_ZOO))
def test_zoo_odd_size(alexeyab_fork, cfg):
    """At an odd, non-square size: where the fork reads it we match it; where it aborts (a shortcut, route
    or reorg whose sizes no longer fit) darkbench refuses with one line naming the layer."""
    if not _fork_reads(cfg):
        _refused(cfg, *ODD)
        return
    width, height = CROP if "crop" in _sections(cfg) else ODD
    if _fork_reads(cfg, width, height):
        _compare(cfg, width, height)
        return
    with pytest.raises(DarkbenchError) as e:
        darkbench.analyse(cfg, width, height, dialect=ALEXEYAB)
    assert "layer" in _one_line(e.value, cfg)


OWN = sorted((Path(__file__).parent / "cfgs" / "alexeyab_fuzz").glob("*.cfg"))


@pytest.mark.parametrize("cfg", _ids(OWN))
def test_own_fork_cfgs(alexeyab_fork, cfg):
    """Our own small cfgs of the fork's grammar (no zoo cfg uses multi-from weighted shortcuts, maxpool_depth,
    stride_x/y, antialiasing, empty/silence...), at their own size."""
    _compare(cfg, file_bytes=alexeyab.fork_weights_bytes(cfg))
