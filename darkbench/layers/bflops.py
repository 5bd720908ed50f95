"""The AlexeyAB fork's float arithmetic: its per-layer BF are float32 (l.bflops), summed in float32."""
import struct


def f32(x):
    """x rounded to float32, as the fork stores l.bflops."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def conv_bflops(c, n, groups, size, oh, ow):
    """The fork's convolution BF: 2 * (c/groups)*n*size*size * out_h*out_w / 1e9 (C int division)."""
    return f32(2.0 * (c // groups) * n * size * size * oh * ow / 1e9)
