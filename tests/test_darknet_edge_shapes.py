"""Shapes at darknet's edges, against the real darknet: image layers after [connected] (its output is an
N x 1 x 1 image), routes of flat and of unequal outputs, 1x1 convolutions with stride or padding (darknet
skips im2col and reads the raw input), reverse [upsample] on sizes its stride does not divide (a
reinterpreted buffer, not a crop) and max-pool windows wholly in padding (-FLT_MAX).

The cfgs for these in tests/cfgs/ (connected_image, connected_deconv, route_flat, conv1x1_strided,
upsample_reverse, maxpool_padding_only) also run in the generic parity tests; here: the reported cases
with darknet's own figures, what stays refused, and checks those tests cannot make."""
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import darkbench
from darkbench import models, weights
from darkbench.cli import main
from darkbench.errors import DarkbenchError
from darkbench.export import export_onnx
from require import require_module

CFGS = Path(__file__).resolve().parent / "cfgs"
TOL = 1e-4


def _net(w, h, c, body):
    return f"[net]\nwidth={w}\nheight={h}\nchannels={c}\n\n{body}"


# name, cfg, and what darknet says: `darknet ops`, bytes of the .weights file it saves
CASES = {
    "connected-conv-route-maxpool-shortcut": (_net(9, 7, 2, (
        "[connected]\noutput=12\nactivation=relu\n\n[convolutional]\nfilters=6\nsize=3\npad=1\nactivation=leaky\n\n"
        "[route]\nlayers=0,1\n\n[maxpool]\nsize=2\nstride=1\n\n[shortcut]\nfrom=0\n\n[connected]\noutput=5\n")),
        4500, 9112),
    "connected-batchnorm-avgpool-upsample": (_net(20, 12, 3, (
        "[connected]\noutput=6\n\n[batchnorm]\n\n[avgpool]\n\n[upsample]\nstride=2\n")), 8640, 17396),
    "avgpool-connected-route-conv": (_net(6, 41, 4, (
        "[avgpool]\n\n[connected]\noutput=16\nbatch_normalize=1\n\n[route]\nlayers=1,-2\n\n"
        "[convolutional]\nfilters=4\nsize=1\nstride=2\npad=1\nactivation=relu\n")), 288, 868),
    "connected-route-conv": (_net(9, 7, 2, (
        "[connected]\noutput=12\n\n[route]\nlayers=-1\n\n[convolutional]\nfilters=6\nsize=3\npad=1\n")),
        4320, 8732),
    "conv-1x1-stride-3": (_net(16, 11, 4, (
        "[convolutional]\nfilters=8\nsize=1\nstride=3\npadding=0\nactivation=leaky\n")), 1536, 180),
    "upsample-reverse-9x7": (_net(9, 7, 3, "[upsample]\nstride=-2\n"), 0, 20),
}


@pytest.fixture
def cfg_file(tmp_path):
    def write(text, name="edge.cfg"):
        p = tmp_path / name
        p.write_text(text)
        return p
    return write


def _shapes(net):
    # darknet's l.inputs of a route is what it reads from its sources (darkbench: extra_read)
    return [(l.index, l.type, *l.out_shape, l.outputs, l.extra_read if l.type == "route" else l.inputs)
            for l in net.layers]


def _their_shapes(rows):
    return [(s["index"], s["type"], s["c"], s["h"], s["w"], s["outputs"], s["inputs"]) for s in rows]


def _rel(a, b):
    """relative L2 in float64 (float32 norms overflow on -FLT_MAX)"""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def _forward(darknet, cfg, wfile, seed=None):
    """(model, our outputs, darknet's outputs) for one random image; seed: darknet writes the weights."""
    net = models.analyse(cfg)
    x = torch.rand(1, net.channels, net.height, net.width, generator=torch.Generator().manual_seed(1))
    if seed is None:
        weights.write(wfile, net, weights.random_arrays(net, seed=3))
    theirs = darknet.forward(cfg, wfile, x[0].numpy(), seed=seed)
    model = darkbench.load(cfg, wfile)
    with torch.no_grad():
        ours = [o.flatten().numpy() for o in model.layer_outputs(x)]
    return model, ours, theirs


def _assert_equal_outputs(model, ours, theirs):
    assert len(ours) == len(theirs)
    for spec, a, b in zip(model.spec.layers, ours, theirs):
        assert a.size == b.size, f"layer {spec.index} {spec.type}: {a.size} values, darknet {b.size}"
        err = _rel(a, b)
        assert err <= TOL, f"layer {spec.index} {spec.type}: relative L2 error {err:.3g}"


@pytest.mark.darknet
@pytest.mark.parametrize("name", CASES)
def test_counts_and_shapes_are_darknets(darknet, cfg_file, name):
    text, ops, size = CASES[name]
    cfg = cfg_file(text)
    rows, their_size = darknet.info(cfg)
    assert (darknet.ops(cfg), their_size) == (ops, size)  # the figures reported against darknet
    net = darkbench.analyse(cfg)
    assert _shapes(net) == _their_shapes(rows), "per layer: index, type, c, h, w, outputs, inputs"
    assert (net.ops, net.weights_bytes) == (ops, size)


@pytest.mark.darknet
@pytest.mark.parametrize("writer", ["darknet", "darkbench"])
@pytest.mark.parametrize("name", CASES)
def test_outputs_are_darknets(darknet, cfg_file, tmp_path, name, writer):
    cfg = cfg_file(CASES[name][0])
    model, ours, theirs = _forward(darknet, cfg, tmp_path / "w.weights", seed=7 if writer == "darknet" else None)
    _assert_equal_outputs(model, ours, theirs)


def test_connected_output_keeps_its_flat_torch_shape():
    """(N, outputs) as before; the image layer after it reads it as outputs x 1 x 1."""
    model = darkbench.load(CFGS / "connected_image.cfg")
    x = torch.rand(2, *model.input_shape)
    with torch.no_grad():
        outs = model.layer_outputs(x)
    assert tuple(outs[0].shape) == (2, 12)
    assert tuple(outs[1].shape) == (2, 6, 1, 1)
    assert tuple(outs[2].shape) == (2, 18)     # a flat (connected) and an image source: flat, as darknet
    with torch.no_grad():                      # every image on its own: a batch of 2 is two batches of 1
        single = model.layer_outputs(x[1:])
    for a, b in zip(outs, single):
        torch.testing.assert_close(a[1:], b)


def test_reverse_upsample_differs_from_a_cropped_pool(cfg_file):
    """9x7 summed in 2x2 blocks: darknet reads the flat buffer as if it were 8x6 (its first 3*6*8
    values), not the top-left 8x6 crop; the cropped pool would be wrong almost everywhere."""
    model = darkbench.load(cfg_file(CASES["upsample-reverse-9x7"][0]))
    x = torch.arange(3 * 7 * 9, dtype=torch.float32).reshape(1, 3, 7, 9)
    with torch.no_grad():
        y = model(x)
    flat = x.flatten()[:3 * 6 * 8].reshape(1, 3, 6, 8)
    torch.testing.assert_close(y, F.avg_pool2d(flat, 2) * 4)
    assert not torch.allclose(y, F.avg_pool2d(x[..., :6, :8], 2) * 4)


@pytest.mark.darknet
def test_maxpool_windows_in_padding_only_are_minus_flt_max(darknet, tmp_path):
    cfg = CFGS / "maxpool_padding_only.cfg"
    model, ours, theirs = _forward(darknet, cfg, tmp_path / "w.weights", seed=7)
    lowest = -np.finfo(np.float32).max
    for i in (1, 2):
        pad = theirs[i] == lowest
        assert pad.any() and not pad.all()
        np.testing.assert_array_equal(ours[i][pad], theirs[i][pad])  # exact, not -inf
        assert _rel(ours[i][~pad], theirs[i][~pad]) <= TOL
    assert np.isfinite(ours[2]).all()


@pytest.mark.darknet
def test_conv_1x1_reading_past_its_input_is_refused(darknet, cfg_file):
    """size=1 padding=1: darknet multiplies its 5x4 input buffer as a 7x6 one, reading past its end.
    The analytic side matches darknet; building the torch module is refused in one line."""
    cfg = cfg_file(_net(5, 4, 3, "[convolutional]\nfilters=2\nsize=1\npadding=1\nactivation=linear\n"))
    rows, size = darknet.info(cfg)
    net = darkbench.analyse(cfg)
    assert _shapes(net) == _their_shapes(rows) and net.weights_bytes == size
    assert net.ops == darknet.ops(cfg) == 2 * 2 * 3 * 7 * 6
    with pytest.raises(DarkbenchError, match=r"layer 0: \[convolutional\] size=1 stride=1 padding=1: .* "
                                             r"reads its 5x4 input as 7x6, past the end") as e:
        darkbench.load(cfg)
    assert "\n" not in str(e.value)


@pytest.mark.darknet
@pytest.mark.parametrize("body,words", [
    ("[convolutional]\nfilters=4\nsize=3\npad=1\n\n[maxpool]\nsize=2\nstride=2\n\n[route]\nlayers=-1,-2\n",
     "route of unequal sizes: layer 0 is 8x6, layer 1 is 4x3"),
    ("[connected]\noutput=10\n\n[softmax]\n", "layer 1 (softmax) outputs a flat vector of 10"),
], ids=["unequal-route", "softmax"])
def test_image_layer_after_a_flat_output_is_refused(darknet, cfg_file, body, words):
    """darknet accepts the flat layer (a route of unequal sizes concatenates flat buffers) and aborts
    at the convolution after it; darkbench counts the first and refuses the second, naming why."""
    flat = cfg_file(_net(8, 6, 3, body), "flat.cfg")
    rows, _ = darknet.info(flat)
    assert _shapes(darkbench.analyse(flat)) == _their_shapes(rows)
    cfg = cfg_file(_net(8, 6, 3, body + "\n[convolutional]\nfilters=2\nsize=1\n"))
    with pytest.raises(RuntimeError, match="must output image"):
        darknet.info(cfg)
    with pytest.raises(DarkbenchError, match="needs an image input") as e:
        darkbench.analyse(cfg)
    assert words in str(e.value) and "\n" not in str(e.value)


ONNX = ["connected_image", "connected_deconv", "route_flat", "conv1x1_strided", "upsample_reverse"]


@pytest.mark.parametrize("name", ONNX)
def test_export_and_crosscheck_commands(tmp_path, capsys, name):
    """Once a crash (conv2d on a flat vector, cat of 2-D and 4-D tensors): both commands now run, and
    ONNX Runtime gives the model's outputs at batch 2."""
    rt = require_module("onnxruntime")
    cfg = CFGS / f"{name}.cfg"
    assert main(["crosscheck", str(cfg)]) == 0
    assert main(["export", str(cfg), "-o", str(tmp_path / "cli.onnx")]) == 0
    capsys.readouterr()
    model = darkbench.load(cfg)
    out = export_onnx(model, tmp_path / "m.onnx", batch=2)
    x = torch.rand(2, *model.input_shape)
    with torch.no_grad():
        want = model(x).numpy()
    got = rt.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max()


def test_per_layer_timing_after_connected():
    """Each layer timed alone gets its input as the whole network gives it (N x 1 x 1 after connected)."""
    from darkbench.bench.layers import per_layer
    from darkbench.bench.model import Model

    def timed(fn):
        fn()
        return 0.01
    rows = per_layer(Model.analyse(str(CFGS / "connected_image.cfg")), "cpu", "fp32", 1, timed, budget_s=0)
    assert [r["type"] for r in rows][:3] == ["connected", "convolutional", "route"]
