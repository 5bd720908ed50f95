"""The AlexeyAB fork's networks through every command: export (ONNX Runtime against PyTorch), crosscheck
(fvcore, FlopCounterMode), bench (eager and the fork's own program), report, classify (the fork's forward)."""
import json
from pathlib import Path

import numpy as np
import pytest

import darkbench
from darkbench.cli import main
from require import require_module

HERE = Path(__file__).resolve().parent
OWN = HERE / "cfgs" / "alexeyab"
# weighted shortcuts, share_index, route groups and antialiasing, conv_lstm, crnn
OWN_CFGS = ("forward_shortcut", "forward_share", "forward", "forward_conv_lstm", "pool_route_shortcut")


def yolov4_tiny(fork):
    return fork.root / "cfg" / "yolov4-tiny.cfg"


def cases(fork):
    return [(yolov4_tiny(fork), 160)] + [(OWN / f"{n}.cfg", None) for n in OWN_CFGS]


# -- export ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("which", range(1 + len(OWN_CFGS)))
def test_onnx_matches_torch(alexeyab_fork, tmp_path, which, capsys):
    require_module("onnxruntime")
    import torch
    cfg, size = cases(alexeyab_fork)[which]
    w = tmp_path / "w.weights"
    assert main(["weights", "init", str(cfg), str(w), "--dialect", "alexeyab"]) == 0
    args = ["--width", str(size), "--height", str(size)] if size else []
    out = tmp_path / "m.onnx"
    assert main(["export", str(cfg), str(w), "-o", str(out), "--dialect", "alexeyab"] + args) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"wrote {out} (cfg read in the alexeyab dialect)"
    model = darkbench.load(cfg, w, width=size, height=size, dialect="alexeyab")
    from test_export import _onnx
    x = torch.rand(1, *model.input_shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        y = model(x)
    ys = y if isinstance(y, tuple) else (y,)
    got = _onnx(out, x)
    assert len(got) == len(ys) == (2 if which == 0 else 1)
    for a, b in zip(ys, got):
        a = a.numpy()
        assert b.shape == a.shape and np.isfinite(a).all()
        assert np.abs(a - b).max() <= 1e-4 * max(1.0, np.abs(a).max())


# -- crosscheck -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("which", range(1 + len(OWN_CFGS)))
def test_crosscheck_macs_equal_fvcore_and_half_flopcounter(alexeyab_fork, which):
    require_module("fvcore")
    from darkbench.crosscheck import crosscheck
    cfg, size = cases(alexeyab_fork)[which]
    net = darkbench.analyse(cfg, size, size, dialect="alexeyab")
    rows, total = crosscheck(cfg, size, size, dialect="alexeyab")
    assert len(rows) == len(net.layers)
    for l, r in zip(net.layers, rows):
        where = f"layer {r['layer']} {r['type']}"
        blur = l.trait("UNCOUNTED_MACS")(l)[0]  # maxpool antialiasing: a fixed blur the fork's BF leaves out
        if r["reason"].startswith("fvcore's trace drops it"):  # a layer nothing reads (a route skips it)
            assert r["fvcore_mm"] == 0 and r["flopcounter"] == 2 * (r["macs"] + blur), where
            continue
        assert r["fvcore_mm"] == r["macs"] + blur, where
        assert r["flopcounter"] == 2 * (r["macs"] + blur), where
        if blur:
            assert "fork's antialiasing blur" in r["reason"]
        assert r["torch_params"] == r["params"], where
        assert not r["fvcore_unsupported"], where
    assert total["macs"] == net.macs > 0


# -- bench, then report from its results -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def bench_results(alexeyab_fork, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    cfg = OWN / "forward_shortcut.cfg"
    rc = main(["bench", str(cfg), "--backend", "eager,darknet", "--threads", "1", "--dialect", "alexeyab",
               "--min-time", "0.2", "--max-time", "0.5", "--out", str(out), "--json"])
    assert rc == 0
    return cfg, out


def test_bench_eager_and_the_forks_program(bench_results, capsys):
    cfg, out = bench_results
    data = json.loads(next(out.glob("bench-*.json")).read_text())
    assert {r["backend"] for r in data} == {"eager", "darknet"}
    for r in data:
        assert r["error"] is None and r["median_ms"] > 0, r
        assert r["dialect"] == "alexeyab", r


def test_report_lists_the_fork_cfg(bench_results, tmp_path):
    from test_report import FIX  # noqa: F401  (same results format as the fixtures)
    import darkbench.bench.runner as runner
    cfg, out = bench_results
    rep = tmp_path / "rep"
    saved = runner.run
    runner.run = lambda *a, **k: pytest.fail("the report must not measure")
    try:
        assert main(["report", "--results", str(out), "--out", str(rep), "--dialect", "alexeyab"]) == 0
    finally:
        runner.run = saved
    text = "\n".join(p.read_text() for p in rep.rglob("*.md"))
    assert cfg.stem in text


# -- classify ----------------------------------------------------------------------------------------------------

def test_classify_matches_the_forks_forward(alexeyab_fork, tmp_path, capsys):
    """A fork classifier (random weights from `darkbench weights init --dialect alexeyab`): every class's
    probability against the fork's own forward pass of the same letterboxed image, and the printed top 5
    follows them."""
    from PIL import Image
    from darkbench.classify import classify
    from darkbench.image import letterbox, load_color
    from test_fork_sections import fork_forward
    cfg = tmp_path / "efficientnet_b0.cfg"
    text = (alexeyab_fork.root / "cfg" / "efficientnet_b0.cfg").read_text()
    cfg.write_text(text.replace("width=224", "width=64").replace("height=224", "height=64"))
    w = tmp_path / "w.weights"
    assert main(["weights", "init", str(cfg), str(w), "--dialect", "alexeyab"]) == 0
    png = tmp_path / "x.png"
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (50, 70, 3), dtype=np.uint8)).save(png)
    capsys.readouterr()
    model = darkbench.load(cfg, w, dialect="alexeyab")
    c, h, wd = model.input_shape
    theirs = fork_forward(alexeyab_fork, cfg, w, letterbox(load_color(png), wd, h), tmp_path)[-1]
    ours, _ = classify(model, png)
    assert ours.shape == theirs.shape and abs(theirs.sum() - 1) < 1e-4
    assert np.abs(ours - theirs).max() < 1e-5
    assert main(["classify", str(cfg), str(w), str(png), "--dialect", "alexeyab"]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    top = np.argsort(-theirs, kind="stable")[:5]
    assert len(lines) == 5
    for line, i in zip(lines, top):
        assert abs(float(line.rsplit(": ", 1)[1]) - theirs[i]) <= 0.5e-4 + 1e-6


def test_classify_top5_equals_the_forks_classify(alexeyab_fork, tmp_path, capsys):
    """The fork's own `darknet classify` (labels from ./cfg/imagenet1k.data, as it reads them): the same
    five classes in the same order, probabilities as it prints them (6 decimals)."""
    import subprocess
    from PIL import Image
    text = (alexeyab_fork.root / "cfg" / "efficientnet_b0.cfg").read_text()
    cfg = tmp_path / "e.cfg"
    cfg.write_text(text.replace("width=224", "width=64").replace("height=224", "height=64"))
    w = tmp_path / "w.weights"
    assert main(["weights", "init", str(cfg), str(w), "--dialect", "alexeyab", "--seed", "4"]) == 0
    (tmp_path / "cfg").mkdir()
    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"class{i}\n" for i in range(1000)))
    (tmp_path / "cfg" / "imagenet1k.data").write_text(f"classes=1000\nlabels={labels}\ntop=5\n")
    png = tmp_path / "x.png"
    Image.fromarray(np.random.default_rng(5).integers(0, 256, (50, 70, 3), dtype=np.uint8)).save(png)
    r = subprocess.run([str(alexeyab_fork.exe), "classify", str(cfg), str(w), str(png)], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    theirs = [l.rsplit(": ", 1) for l in r.stdout.splitlines() if l.startswith("class")]
    capsys.readouterr()
    assert main(["classify", str(cfg), str(w), str(png), "--dialect", "alexeyab", "--labels", str(labels)]) == 0
    ours = [l.rsplit(": ", 1) for l in capsys.readouterr().out.splitlines()[1:]]
    assert len(theirs) == len(ours) == 5
    assert [l for l, _ in ours] == [l for l, _ in theirs]
    for (_, p), (_, q) in zip(ours, theirs):
        assert abs(float(p) - float(q)) <= 0.5e-6 + 1e-7
