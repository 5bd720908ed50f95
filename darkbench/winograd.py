"""Winograd's minimal filtering F(4x4, 3x3) for a 3x3, stride-1, padding-1 convolution at inference (Lavin and
Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016): each 4x4 output tile of a channel pair
from its 6x6 input tile with 36 multiplies where the direct convolution takes 144, the products summed over the
input channels by one batched matrix product (36 of them, torch.bmm) between a transform of the input tiles and
one of the weights (made once). Written with torch's own operators; nn.Conv.prepack uses it only where it
saves time (nn.winograd_suits) and the result differs from a direct convolution's by float rounding only
(relative error ~1e-6, a few times oneDNN's own)."""
import torch

# Lavin and Gray's F(4, 3): input transform B^T, filter transform G, output transform A^T
BT = ((4, 0, -5, 0, 1, 0), (0, -4, -4, 1, 1, 0), (0, 4, -4, -1, 1, 0),
      (0, -2, -1, 2, 1, 0), (0, 2, -1, -2, 1, 0), (0, 4, 0, -5, 0, 1))
G = ((1 / 4, 0, 0), (-1 / 6, -1 / 6, -1 / 6), (-1 / 6, 1 / 6, -1 / 6),
     (1 / 24, 1 / 12, 1 / 6), (1 / 24, -1 / 12, 1 / 6), (0, 0, 1))
AT = ((1, 1, 1, 1, 1, 0), (0, 1, -1, 2, -2, 0), (0, 1, 1, 4, 4, 0), (0, 1, -1, 8, -8, 1))
M, R = 4, 3  # output tile, filter size
T6 = M + R - 1  # input tile
BT_F32, AT_F32 = torch.tensor(BT, dtype=torch.float32), torch.tensor(AT, dtype=torch.float32)


def suits(conv, shape):
    """Whether F(4x4, 3x3) is the faster way for this convolution (an nn.Conv2d) of an input of this shape: 3x3,
    stride 1, 1 pixel of padding, one group, at least 64 input channels, maps of 16 to 64 pixels a side. Measured
    one layer at a time against oneDNN's direct convolution on one core of a Zen 4 at batch 1 (yolov3-tiny's
    shapes and their neighbours): 1.1-1.5x faster there; slower on fewer channels or larger maps (the transforms
    cost more than they save) and on 13x13 maps (partial tiles, a short product)."""
    _, c, h, w = shape
    return (tuple(conv.kernel_size) == (R, R) and tuple(conv.stride) == (1, 1) and tuple(conv.padding) == (1, 1)
            and tuple(conv.dilation) == (1, 1) and conv.groups == 1 and c >= 64 and 16 <= min(h, w)
            and max(h, w) <= 64)


def weight(w):
    """The transformed weight for conv(): (36, C, K) float32 from a (K, C, 3, 3) weight, computed in float64."""
    g = torch.tensor(G, dtype=torch.float64)
    u = g @ w.detach().double() @ g.T  # (K, C, 6, 6)
    return u.permute(2, 3, 1, 0).reshape(T6 * T6, w.shape[1], w.shape[0]).float().contiguous()


def conv(x, u, bias=None):
    """A 3x3 stride-1 convolution with 1 pixel of zeros around x (N, C, H, W) float32 by its transformed weight
    u (weight()), plus bias: (N, K, H, W) in channels-last memory."""
    n, c, h, w = x.shape
    th, tw = -(-h // M), -(-w // M)
    # zeros around, and on the right and bottom up to whole tiles; NHWC memory
    xp = x.new_zeros((n, M * th + 2, M * tw + 2, c))
    xp[:, 1:h + 1, 1:w + 1] = x.permute(0, 2, 3, 1)
    sn, sh, sw, _ = xp.stride()
    d = xp.as_strided((n, th, tw, T6, T6, c), (sn, M * sh, M * sw, sh, sw, 1))
    tiles = n * th * tw
    d = d.reshape(tiles, T6, T6 * c)                      # (T, i, j.c)
    v = torch.matmul(BT_F32, d).view(tiles * T6, T6, c)       # B^T d: (T.a, j, c)
    v = torch.matmul(BT_F32, v).view(tiles, T6 * T6, c)       # (B^T d) B: (T, a.b, c)
    m = torch.bmm(v.transpose(0, 1), u)                   # (a.b, T, K)
    k = u.shape[2]
    y = torch.matmul(AT_F32, m.view(T6, T6 * tiles * k))      # A^T m: (a', b.T.K)
    y = torch.matmul(AT_F32, y.view(M, T6, tiles * k))        # (A^T m) A: (a', b', T.K)
    y = y.view(M, M, n, th, tw, k).permute(2, 3, 0, 4, 1, 5).reshape(n, M * th, M * tw, k)
    out = torch.empty((n, k, h, w), dtype=x.dtype, memory_format=torch.channels_last)
    crop = y[:, :h, :w]
    if bias is None:
        out.permute(0, 2, 3, 1).copy_(crop)
    else:
        torch.add(crop, bias, out=out.permute(0, 2, 3, 1))
    return out
