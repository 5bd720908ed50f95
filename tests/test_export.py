"""ONNX export runs in ONNX Runtime with the PyTorch model's outputs."""
import numpy as np
import pytest
import torch

import darkbench
from darkbench import weights
from darkbench.cli import main

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is an optional dependency")


@pytest.mark.parametrize("name,size", [("tiny.cfg", 64), ("yolov3-tiny.cfg", 96), ("yolov2.cfg", 96),
                                       ("cfg/squeezenet.cfg", None), ("tests/cfgs/pools_routes.cfg", None)])
def test_onnx_matches_torch(tmp_path, name, size):
    net = darkbench.analyse(name, size, size)
    w = tmp_path / "w.weights"
    weights.write(w, net, weights.random_arrays(net, 2))
    out = tmp_path / "m.onnx"
    args = ["export", name, str(w), "-o", str(out)] + (["--width", str(size), "--height", str(size)] if size else [])
    assert main(args) == 0
    model = darkbench.load(name, w, width=size, height=size)
    x = torch.rand(1, *model.input_shape)
    with torch.no_grad():
        y = model(x)
    ys = y if isinstance(y, tuple) else (y,)
    got = ort.InferenceSession(str(out)).run(None, {"input": x.numpy()})
    assert len(got) == len(ys)
    for a, b in zip(ys, got):
        a = a.numpy()
        assert np.linalg.norm(a - b) / np.linalg.norm(a) <= 1e-4


def test_export_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "m.onnx"
    out.write_text("mine")
    assert main(["export", "tiny.cfg", "-o", str(out)]) == 2
    assert out.read_text() == "mine" and "not overwriting" in capsys.readouterr().err
