"""darknet's C integer arithmetic on sizes, shared by the layer specs and the torch building blocks."""


def c_div(a, b):
    """C integer division, truncating toward zero: darknet's output sizes (-1/2 is 0, not -1)."""
    q = a // b
    if q < 0 and q * b != a:  # floor went one below; only ops a traced size (a tensor there) supports
        q = q + 1
    return q


def overhang(size_in, padding, size, stride, out):
    """Cells past the right/bottom edge that darknet's last window covers when C division rounded
    a negative span up to one output; its im2col reads them as 0 (bounds-checked), so zero-pad them."""
    return max(0, (out - 1) * stride + size - size_in - 2 * padding)


def maxpool_pads(h, w, size, stride, padding, stride_x=None):
    """(left/top, right, bottom) cells darknet's maxpool window reads outside an h x w input (windows start at
    -padding/2; the extra goes right and bottom): what a pool fills with -FLT_MAX."""
    sx = stride if stride_x is None else stride_x
    oh = c_div(h + padding - size, stride) + 1
    ow = c_div(w + padding - size, sx) + 1
    lo = padding // 2
    return lo, max(0, (ow - 1) * sx + size - w - lo), max(0, (oh - 1) * stride + size - h - lo)
