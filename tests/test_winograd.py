"""Winograd's F(4x4, 3x3) (darkbench/winograd.py), the convolution `darkbench map`'s own model runs where it saves
time: the same convolution as torch's direct one in float64 up to float32 rounding, at the layers its rule names."""
import pytest
import torch
import torch.nn.functional as F

import darkbench
from darkbench import winograd
from darkbench.nn import Conv, fused_conv_op


def _rel(a, b):
    return ((a.double() - b).norm() / b.norm()).item()


@pytest.mark.parametrize("n,c,k,h,w,bias", [(1, 64, 128, 52, 52, True), (1, 128, 256, 26, 26, True),
                                            (2, 96, 40, 17, 30, True), (1, 5, 3, 4, 9, False),
                                            (1, 8, 8, 1, 1, True), (3, 16, 7, 13, 13, False)])
def test_winograd_is_the_convolution(n, c, k, h, w, bias):
    """Whole and partial tiles (sizes not a multiple of 4, a 1x1 map), a batch, with and without bias: the
    output of a 3x3 stride-1 convolution with 1 pixel of zeros around, channels-last, within float32 rounding
    of float64's (relative error a few 1e-7; a wrong transform or tile index is off by order 1)."""
    g = torch.Generator().manual_seed(h * w + c)
    x = torch.rand(n, c, h, w, generator=g).contiguous(memory_format=torch.channels_last)
    wt = torch.randn(k, c, 3, 3, generator=g) * .05
    b = torch.randn(k, generator=g) if bias else None
    y = winograd.conv(x, winograd.weight(wt), b)
    ref = F.conv2d(x.double(), wt.double(), None if b is None else b.double(), padding=1)
    assert y.shape == ref.shape and y.dtype == torch.float32
    assert y.is_contiguous(memory_format=torch.channels_last)
    assert _rel(y, ref) < 3e-6
    assert (y.double() - ref).abs().max().item() < 1e-4 * ref.abs().max().item()


def test_winograd_takes_the_layers_it_suits():
    """yolov3-tiny at 416x416 with random weights: Winograd takes exactly the 3x3 layers with 64+ input
    channels on 16-64 pixel maps (64->128 at 52, 128->256 at 26, 384->256 at 26: darknet's layers 6, 8 and 21),
    oneDNN the rest; the prepacked model's heads equal the plain operators' within float32 rounding."""
    if fused_conv_op() is None:
        pytest.skip("this torch has no oneDNN fused convolution (prepack does nothing)")
    torch.manual_seed(0)
    net = darkbench.analyse("yolov3-tiny.cfg")
    m = darkbench.load("yolov3-tiny.cfg", fuse=True)
    x = torch.rand(1, *m.input_shape)
    with torch.inference_mode():
        plain = m(x)
        m.prepack()
        packed = m(x)
    ways = {i: layer.packed[next(iter(layer.packed))][0] for i, layer in enumerate(m.layers)
            if isinstance(layer, Conv) and layer.packed}
    assert sorted(i for i, how in ways.items() if how == "winograd") == [6, 8, 21]
    assert all(net.layers[i].in_shape[0] >= 64 for i, how in ways.items() if how == "winograd")
    assert len(ways) == 13
    for p, q in zip(plain, packed):
        assert _rel(q, p.double()) < 3e-6
    with torch.no_grad():
        m.layers[8].conv.weight.mul_(-1)  # changed in place after packing: transformed anew
    with torch.inference_mode():
        changed = m(x)
    m2 = darkbench.load("yolov3-tiny.cfg", fuse=True)
    m2.load_state_dict(m.state_dict())
    with torch.inference_mode():
        for p, q in zip(m2(x), changed):
            assert _rel(q, p.double()) < 3e-6


def test_winograd_rule():
    conv = torch.nn.Conv2d(64, 128, 3, padding=1)
    assert winograd.suits(conv, (1, 64, 52, 52)) and winograd.suits(conv, (8, 64, 16, 64))
    assert not winograd.suits(conv, (1, 64, 13, 13)) and not winograd.suits(conv, (1, 64, 104, 104))
    assert not winograd.suits(torch.nn.Conv2d(32, 64, 3, padding=1), (1, 32, 52, 52))
    for other in (torch.nn.Conv2d(64, 64, 3, stride=2, padding=1), torch.nn.Conv2d(64, 64, 1),
                  torch.nn.Conv2d(64, 64, 3, padding=2, dilation=2), torch.nn.Conv2d(64, 64, 3, padding=1, groups=2),
                  torch.nn.Conv2d(64, 64, 3, padding=0)):
        assert not winograd.suits(other, (1, 64, 52, 52)), other
