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
