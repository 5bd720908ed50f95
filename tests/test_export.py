"""ONNX export runs in ONNX Runtime with the PyTorch model's outputs."""
import os

import numpy as np
import pytest
import torch

import darkbench
from darkbench import weights
from darkbench.cli import main
from darkbench.export import export_onnx
from require import require_module


ort = require_module("onnxruntime")


CASES = [
    ("tiny.cfg", 64, 1),                     # conv + BN + leaky, maxpool, avgpool, softmax
    ("yolov3-tiny.cfg", 96, 2),              # two yolo heads, upsample, route, maxpool size=2 stride=1
    ("yolov2.cfg", 96, 1),                   # reorg, route of two layers, region
    ("cfg/squeezenet.cfg", None, 1),         # fire modules: routes
    ("tests/cfgs/pools_routes.cfg", None, 1),  # maxpool paddings (size=2 stride=1 among them), shortcut
    # alpha/beta and differing shapes, upsample scale and negative stride, reorg both ways, softmax groups
]


def _randomise(model, seed=0):
    """Plausible weights and non-trivial batch-norm statistics (a fresh batch norm is the identity)."""
    arrays = weights.random_arrays(model.spec, seed)
    with torch.no_grad():
        for l, name, t in model.named_weights():
            t.copy_(torch.from_numpy(arrays[(l.index, name)]).reshape(t.shape))
    return model


def _onnx(path, x):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {"input": x.numpy()})


def _check(model, path, batch):
    x = torch.rand(batch, *model.input_shape)
    with torch.no_grad():
        y = model(x)
    ys = y if isinstance(y, tuple) else (y,)
    got = _onnx(path, x)
    assert len(got) == len(ys)
    for a, b in zip(ys, got):
        a = a.numpy()
        assert b.shape == a.shape
        # max relative error, relative to the output's scale (entries near 0 make a per-entry ratio meaningless)
        assert np.abs(a - b).max() / np.abs(a).max() <= 1e-4
    return len(ys)


@pytest.mark.parametrize("name,size,heads", CASES, ids=[os.path.basename(c[0]) for c in CASES])
def test_onnx_matches_torch(tmp_path, name, size, heads):
    model = _randomise(darkbench.load(name, width=size, height=size))
    path = export_onnx(model, tmp_path / "m.onnx", batch=2)
    assert _check(model, path, 2) == heads


def test_fused_model_exports(tmp_path):
    """The form the benchmark exports: batch norm folded into the convolutions."""
    model = _randomise(darkbench.load("yolov3-tiny.cfg", width=64, height=64)).fuse()
    assert _check(model, export_onnx(model, tmp_path / "m.onnx"), 1) == 2


def test_cli_with_weights(tmp_path, capsys):
    net = darkbench.analyse("yolov3-tiny.cfg", 64, 64)
    w = tmp_path / "w.weights"
    weights.write(w, net, weights.random_arrays(net, 2))
    out = tmp_path / "m.onnx"
    assert main(["export", "yolov3-tiny.cfg", str(w), "-o", str(out), "--width", "64", "--height", "64",
                 "--opset", "13"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out} (cfg read in the pjreddie dialect)"  # issue 14: states it
    assert _check(darkbench.load("yolov3-tiny.cfg", w, width=64, height=64), out, 1) == 2


def test_export_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "m.onnx"
    out.write_text("mine")
    assert main(["export", "tiny.cfg", "-o", str(out)]) == 2
    assert out.read_text() == "mine" and "not overwriting" in capsys.readouterr().err
    with pytest.raises(darkbench.DarkbenchError, match="not overwriting"):
        export_onnx(darkbench.load("tiny.cfg", width=32, height=32), out, overwrite=False)
    assert main(["export", "tiny.cfg", "-o", str(out), "--force", "--width", "32", "--height", "32"]) == 0
    assert out.stat().st_size > 1000 and len(_onnx(out, torch.rand(1, 3, 32, 32))[0][0]) == 1000
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]  # no temporary file left behind


@pytest.mark.parametrize("args,message", [
    (["tiny.cfg", "-o", "{tmp}/no/m.onnx"], "does not exist"),
    (["tiny.cfg", "-o", "{tmp}"], "is a directory"),
    (["tiny.cfg", "-o", "{tmp}/m.onnx", "--opset", "99"], "--opset 99"),
    (["tiny.cfg", "{tmp}/none.weights", "-o", "{tmp}/m.onnx"], "no such weights file"),
    (["tests/cfgs/recurrent.cfg", "-o", "{tmp}/m.onnx"], "analytic only"),
    (["cfg/inception.json", "x.weights", "-o", "{tmp}/m.onnx"], "WEIGHTS is for darknet cfgs"),
    # the exporter fails (ONNX has no Where before opset 9) and prints its whole graph: not to the user
    (["yolov3-tiny.cfg", "-o", "{tmp}/m.onnx", "--opset", "7", "--width", "32", "--height", "32"],
     "ONNX export failed"),
], ids=["no-dir", "dir", "opset", "no-weights", "recurrent", "keras-weights", "exporter-fails"])
def test_clear_errors(tmp_path, capfd, args, message):
    assert main(["export"] + [a.format(tmp=tmp_path) for a in args]) == 2
    out, err = capfd.readouterr()
    assert out == "" and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m.onnx").exists() and not list(tmp_path.glob(".darkbench-*"))
