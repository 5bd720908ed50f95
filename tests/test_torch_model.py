"""The torch model without darknet: hand-computed values of darknet's rules, output layout, errors.

Layer-by-layer equality with the real darknet is in test_torch_parity.py."""
import math
from pathlib import Path

import pytest
import torch

import darkbench
from darkbench import weights
from darkbench.errors import DarkbenchError
from darkbench.layers.softmax import read_tree
from darkbench.nn import ACTIVATIONS

MISC = Path(__file__).with_name("cfgs") / "misc.cfg"


def _cfg(tmp_path, text, name="n.cfg"):
    p = tmp_path / name
    p.write_text(text)
    return p


# darknet's activations.h, evaluated by hand at a few points
HAND = {
    "leaky": [(-2, -0.2), (3, 3)],
    "relu": [(-2, 0), (3, 3)],
    "relie": [(-2, -0.02), (3, 3)],
    "ramp": [(-2, -0.2), (2, 2.2)],
    "plse": [(-5, -0.01), (5, 1.01), (2, 0.75)],
    "lhtan": [(-1, -0.001), (2, 1.001), (0.5, 0.5)],
    "hardtan": [(-3, -1), (0.5, 0.5), (3, 1)],
    "loggy": [(0, 0), (math.log(3), 0.5)],
    "logistic": [(0, 0.5)],
    "elu": [(-1, math.exp(-1) - 1), (2, 2)],
    "selu": [(1, 1.0507), (-1, 1.0507 * 1.6732 * (math.exp(-1) - 1))],
    "tanh": [(0.5, math.tanh(0.5))],
    "linear": [(-7, -7)],
    # n = floor(x); even n: floor(x/2); odd n (C's n % 2 != 0, also for negatives): x - n + floor(x/2)
    "stair": [(2.5, 1), (3.5, 1.5), (-0.5, -0.5), (-1.5, -1)],
}


@pytest.mark.parametrize("name", sorted(HAND))
def test_activations_by_hand(name):
    fn = ACTIVATIONS[name] or (lambda x: x)
    xs, want = zip(*HAND[name])
    got = fn(torch.tensor(xs, dtype=torch.float64))
    assert torch.allclose(got, torch.tensor(want, dtype=torch.float64), atol=1e-12)


def test_maxpool_pads_with_minus_infinity_on_the_right(tmp_path):
    x = -torch.arange(1.0, 10.0).view(1, 1, 3, 3)
    out = []
    for stride in (1, 2):
        cfg = _cfg(tmp_path, f"[net]\nwidth=3\nheight=3\nchannels=1\n[maxpool]\nsize=2\nstride={stride}\n")
        with torch.no_grad():
            out.append(darkbench.load(cfg)(x))
    # windows start at 0 and run over the right/bottom edge; -inf there, so negative values win
    assert out[0].tolist() == x.tolist()
    assert out[1].tolist() == [[[[-1, -3], [-7, -9]]]]  # 3 -> 2, rounding up


def test_batch_norm_is_darknets_cpu_formula(tmp_path):
    cfg = _cfg(tmp_path, "[net]\nwidth=1\nheight=1\nchannels=1\n[convolutional]\nfilters=1\nsize=1\n"
                         "batch_normalize=1\nactivation=linear\n")
    net = darkbench.analyse(cfg)
    w = tmp_path / "n.weights"
    arrays = {(0, "biases"): [0.5], (0, "scales"): [3.0], (0, "rolling_mean"): [1.0],
              (0, "rolling_variance"): [4.0], (0, "weights"): [[[[2.0]]]]}
    weights.write(w, net, arrays)
    for fuse in (False, True):
        m = darkbench.load(cfg, w, fuse=fuse)
        with torch.no_grad():
            y = m(torch.full((1, 1, 1, 1), 5.0)).item()
        assert y == pytest.approx((10 - 1) / (2 + 1e-6) * 3 + 0.5, rel=1e-6)  # (x-mean)/(sqrt(var)+1e-6)


def test_reorg_flatten_is_chw_to_hwc(tmp_path):
    cfg = _cfg(tmp_path, "[net]\nwidth=2\nheight=2\nchannels=2\n[reorg]\nstride=1\nflatten=1\n"
                         "[reorg]\nstride=1\nextra=2\n")
    m = darkbench.load(cfg)
    with torch.no_grad():
        flat, extra = m.layer_outputs(torch.arange(8.0).view(1, 2, 2, 2))
    assert flat.flatten().tolist() == [0, 4, 1, 5, 2, 6, 3, 7]
    assert extra.tolist() == [[0, 4, 1, 5, 2, 6, 3, 7, 0, 0]]


def test_read_tree_groups_like_darknet(tmp_path):
    # sscanf("%s %d"): a missing or non-numeric parent is -1; an empty line is a node too
    tree = _cfg(tmp_path, "a 2\nb 2\nc -1\n\nd x\ne 0\n", "t.tree")
    cfg = _cfg(tmp_path, f"[net]\nwidth=1\nheight=1\nchannels=6\n[softmax]\ntree={tree}\n")
    net = darkbench.analyse(cfg)
    assert read_tree(str(tree), net.layers[0], net) == [2, 3, 1]
    m = darkbench.load(cfg)
    with torch.no_grad():
        y = m(torch.tensor([1.0, 1, 0, 0, 0, 5]).view(1, 6, 1, 1))[0]
    assert torch.allclose(y, torch.tensor([0.5, 0.5, 1 / 3, 1 / 3, 1 / 3, 1]))


def test_missing_tree_file_is_clear(tmp_path):
    cfg = _cfg(tmp_path, "[net]\nwidth=1\nheight=1\nchannels=6\n[softmax]\ntree=nowhere/t.tree\n")
    with pytest.raises(DarkbenchError, match=r"n.cfg:5 layer 0: \[softmax\] tree file nowhere/t.tree not found"):
        darkbench.load(cfg)


def test_region_tree_is_refused(tmp_path):
    tree = _cfg(tmp_path, "a -1\nb -1\n", "t.tree")
    cfg = _cfg(tmp_path, "[net]\nwidth=2\nheight=2\nchannels=7\n[region]\ncoords=4\nclasses=2\nnum=1\n"
                         f"softmax=1\ntree={tree}\n")
    with pytest.raises(DarkbenchError, match="NaN"):
        darkbench.load(cfg)


def test_output_layout(tmp_path):
    m = darkbench.load("tiny.cfg", width=64, height=64)
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        y = m(x)
        outs = m.layer_outputs(x)
        one = m(x[1:])
    assert y.shape == (2, 1000)  # softmax: flat (N, outputs)
    assert torch.equal(y, outs[m.spec.output_index])
    assert torch.allclose(y.sum(1), torch.ones(2))
    assert torch.allclose(y[1:], one, rtol=1e-5, atol=1e-7)  # a batch is independent images

    m = darkbench.load("yolov3-tiny.cfg", width=96, height=64)
    with torch.no_grad():
        heads = m(torch.rand(1, 3, 64, 96))
    assert [h.shape for h in heads] == [(1, 255, 2, 3), (1, 255, 4, 6)]  # one per [yolo], in layer order


def test_recurrent_is_analytic_only():
    with pytest.raises(DarkbenchError, match=r"rnn.cfg:\d+ layer 0: \[rnn\] layers are analytic only"):
        darkbench.load("rnn.cfg")


def test_wrong_input_shape_is_clear():
    m = darkbench.load("tiny.cfg")
    with pytest.raises(DarkbenchError, match=r"expected \(N, 3, 224, 224\)"):
        m(torch.zeros(1, 3, 100, 100))


@pytest.mark.parametrize("name,size", [("tiny.cfg", 96), ("yolov3-tiny.cfg", 96), (str(MISC), None)])
def test_fused_equals_unfused(tmp_path, name, size):
    """misc.cfg: batch norm folded into a transposed convolution too."""
    net = darkbench.analyse(name, size, size)
    w = tmp_path / "w.weights"
    weights.write(w, net, weights.random_arrays(net, 9))
    a = darkbench.load(name, w, width=size, height=size)
    b = darkbench.load(name, w, width=size, height=size, fuse=True)
    assert all(l.bn is None for l in b.layers if hasattr(l, "bn") and hasattr(l, "conv"))
    x = torch.rand(1, *a.input_shape)
    with torch.no_grad():
        ya, yb = a(x), b(x.contiguous(memory_format=torch.channels_last))
    for p, q in zip(ya if isinstance(ya, tuple) else [ya], yb if isinstance(yb, tuple) else [yb]):
        assert (torch.linalg.norm(p - q) / torch.linalg.norm(p)).item() <= 1e-5


def _outputs(y):
    return y if isinstance(y, tuple) else (y,)


# name, convolutional layers in the cfg, those without batch_normalize (oneDNN takes them unfused too)
PACKED = [("yolov3-tiny.cfg", 13, 2), ("tiny.cfg", 16, 1)]


@pytest.mark.parametrize("name,convs,plain", PACKED)
def test_prepacked_equals_plain(tmp_path, name, convs, plain):
    """prepack(): oneDNN's convolutions with the bias and activation inside (darkbench map's own model) give what
    the plain operators give; unfolded batch norm keeps a layer on the plain path; weights changed afterwards
    are used; with gradients (nightmare) every layer takes the plain path."""
    from darkbench.nn import fused_conv_op
    if fused_conv_op() is None:
        pytest.skip("this torch has no oneDNN fused convolution (prepack does nothing)")
    torch.manual_seed(0)
    net = darkbench.analyse(name, 96, 96)
    w = tmp_path / "w.weights"
    weights.write(w, net, weights.random_arrays(net, 9))
    assert darkbench.load(name, w, width=96, height=96).prepack() == plain
    m = darkbench.load(name, w, width=96, height=96, fuse=True)
    x = torch.rand(2, *m.input_shape)

    def reference():  # gradients on: the plain operators
        with torch.enable_grad():
            return [t.detach() for t in _outputs(m(x))]

    with torch.inference_mode():
        before = _outputs(m(x))
    assert m.prepack() == convs
    with torch.inference_mode():
        after, one = _outputs(m(x)), _outputs(m(x[1:]))  # a second input shape: reordered anew
    for p, q, r in zip(before, after, one):
        assert torch.allclose(p, q, rtol=1e-6, atol=1e-6) and torch.allclose(p[1:], r, rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        m.layers[0].conv.weight.mul_(-2)  # changed in place after packing
    with torch.inference_mode():
        changed = _outputs(m(x))
    for p, q, r in zip(before, changed, reference()):
        assert not torch.allclose(p, q) and torch.allclose(q, r, rtol=1e-6, atol=1e-6)
    xg = x.clone().requires_grad_()
    sum((t ** 2).sum() for t in _outputs(m(xg))).backward()  # squares: a softmax output's plain sum is constant
    assert xg.grad is not None and xg.grad.abs().sum() > 0


@pytest.mark.parametrize("size,stride,padding", [(1, 2, 0), (2, 2, 1), (2, 1, 1), (3, 2, 2), (3, 1, 2)])
def test_small_pools_as_strided_maxima(size, stride, padding):
    """Windows up to 3x3 run as maxima of strided views without gradients: torch's pooling of the same
    -FLT_MAX-padded input gives the same values; with gradients a tie sends all of it to the first maximum in
    the window (darknet's backward: its index of the maximum), not half to each."""
    from darkbench.carith import maxpool_pads
    from darkbench.nn import maxpool
    x = torch.rand(2, 5, 13, 11).contiguous(memory_format=torch.channels_last)
    lo, right, bottom = maxpool_pads(13, 11, size, stride, padding)
    padded = torch.nn.functional.pad(x, (lo, right, lo, bottom), value=-torch.finfo(torch.float32).max)
    oh, ow = (13 + padding - size) // stride + 1, (11 + padding - size) // stride + 1
    with torch.no_grad():
        got = maxpool(x, size, stride, padding)
    want = torch.nn.functional.max_pool2d(padded, size, stride)[..., :oh, :ow]
    assert got.shape == (2, 5, oh, ow) and torch.equal(got, want)
    tie = torch.tensor([[[[1., 1.], [0., 1.]]]], requires_grad=True)
    maxpool(tie, 2, 2, 0).sum().backward()
    assert tie.grad.tolist() == [[[[1., 0.], [0., 0.]]]]


def test_memory_estimate_refuses_huge_networks():
    with pytest.raises(DarkbenchError, match="GiB"):
        darkbench.load("yolov3.cfg", width=32 * 400, height=32 * 400)
