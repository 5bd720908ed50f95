"""darkbench's analytic counts against the real darknet: `darknet ops` and the size of the file it saves."""
from pathlib import Path

import pytest

import darkbench
from darknet import ZOO

ROOT = Path(__file__).resolve().parent.parent
ZOO_CFGS = sorted(ZOO.glob("*.cfg")) if ZOO.exists() else []
OWN = sorted((ROOT / "tests" / "cfgs").glob("*.cfg")) + sorted((ROOT / "cfg").glob("*.cfg"))
HEADS = ("yolo", "region", "detection")


def _check(darknet, cfg, width=None, height=None):
    net = darkbench.analyse(cfg, width, height)
    dcfg = darknet.resized(cfg, net.width, net.height) if width else darknet.batch1(cfg)
    assert net.ops == darknet.ops(dcfg), "darknet ops"
    assert net.weights_bytes == darknet.saved_size(dcfg), "size of the .weights file darknet saves"
    shapes = darknet.shapes(dcfg)
    assert len(shapes) == len(net.layers)
    for l, s in zip(net.layers, shapes):
        assert l.outputs == s["outputs"], f"layer {l.index} {l.type} outputs"
        if l.out_shape[0]:  # darknet leaves out_c/h/w at 0 for flat layers
            assert l.out_shape == (s["c"], s["h"], s["w"]), f"layer {l.index} {l.type} shape"


def test_zoo_is_complete():
    if not ZOO.exists():
        pytest.skip("darknet's zoo is not installed")
    assert len(ZOO_CFGS) == 45


@pytest.mark.darknet
@pytest.mark.parametrize("cfg", ZOO_CFGS, ids=[p.stem for p in ZOO_CFGS])
def test_zoo_native(darknet, cfg):
    _check(darknet, cfg)


def _resized_cases():
    out = []
    for p in ZOO_CFGS:
        net = darkbench.analyse(p)
        if not net.channels:
            continue  # rnn/gru text models have no image input
        types = {l.type for l in net.layers}
        if types & {"connected", "detection", "crop"}:
            continue  # sizes fixed by a flat layer or crop: any other input breaks darknet too
        if types & set(HEADS):
            out.append(pytest.param(p, 416, 288, id=f"{p.stem}-416x288"))
        else:
            out.append(pytest.param(p, 225, 161, id=f"{p.stem}-225x161"))
    return out


@pytest.mark.darknet
@pytest.mark.parametrize("cfg,width,height", _resized_cases())
def test_zoo_resized(darknet, cfg, width, height):
    _check(darknet, cfg, width, height)


@pytest.mark.darknet
@pytest.mark.parametrize("cfg", OWN, ids=[p.stem for p in OWN])
def test_own_cfgs(darknet, cfg):
    _check(darknet, cfg)


@pytest.mark.darknet
def test_crlf_and_bom(darknet, tmp_path):
    """darknet crashes on CRLF and a BOM; darkbench reads them as the clean file darknet reads."""
    clean = ROOT / "tests" / "cfgs" / "pools_routes.cfg"
    dirty = tmp_path / "dirty.cfg"
    dirty.write_bytes(b"\xef\xbb\xbf" + clean.read_bytes().replace(b"\n", b"\r\n"))
    net = darkbench.analyse(dirty)
    assert net.ops == darknet.ops(darknet.batch1(clean))
    assert net.weights_bytes == darknet.saved_size(darknet.batch1(clean))
