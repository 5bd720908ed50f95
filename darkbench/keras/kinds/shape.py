"""Layers that move values without weights: ZeroPadding2D, Cropping2D, UpSampling2D, Resizing, CenterCrop,
Flatten, Reshape, Permute."""
import math

from ..base import MAX_WINDOW, Kind, is_int, pair, positive, short


def zero_pads(p, key="padding"):
    """ZeroPadding2D's padding (or Cropping2D's cropping) as (top, bottom, left, right)."""
    bad = ValueError(f"{key}={short(p)} must be one, two or two pairs of non-negative integers "
                     f"(at most {MAX_WINDOW})")
    if is_int(p):
        t = b = l = r = p
    elif not isinstance(p, (list, tuple)) or len(p) != 2:
        raise bad
    elif is_int(p[0]):
        (t, l), (b, r) = p, p
    elif all(isinstance(x, (list, tuple)) and len(x) == 2 for x in p):
        (t, b), (l, r) = p
    else:
        raise bad
    if not all(is_int(x) and 0 <= x <= MAX_WINDOW for x in (t, b, l, r)):
        raise bad
    return t, b, l, r


def zero_padding(c, shapes):
    (h, w, ch), = shapes
    t, b, l, r = zero_pads(c.get("padding", 1))
    return (h + t + b, w + l + r, ch), 0, 0, 0, ""


def zero_padding_module(layer, where):
    import torch.nn.functional as F

    from ..nn import Op
    top, bottom, left, right = zero_pads(layer.config.get("padding", 1))
    return Op(lambda x: F.pad(x, (left, right, top, bottom)))


def cropping(c, shapes):
    (h, w, ch), = shapes
    t, b, l, r = zero_pads(c.get("cropping", 0), "cropping")
    return (h - t - b, w - l - r, ch), 0, 0, 0, ""


def cropping_module(layer, where):
    from ..nn import Op
    top, bottom, left, right = zero_pads(layer.config.get("cropping", 0))
    h, w = layer.in_keras_shapes[0][:2]
    return Op(lambda x: x[..., top:h - bottom, left:w - right])


def upsampling(c, shapes):
    (h, w, ch), = shapes
    sh, sw = pair(c.get("size", 2), "size")
    return (h * sh, w * sw, ch), 0, 0, 0, ""


def upsampling_module(layer, where):
    import torch.nn.functional as F

    from ...errors import DarkbenchError
    from ..nn import Op, as_pair
    c = layer.config
    mode = c.get("interpolation", "nearest")
    if mode not in ("nearest", "bilinear"):
        raise DarkbenchError(f"{where}: interpolation '{short(mode)}' is not supported in PyTorch")
    size = as_pair(c.get("size", 2))
    opts = dict(align_corners=False) if mode == "bilinear" else {}
    return Op(lambda x: F.interpolate(x, scale_factor=size, mode=mode, **opts))


def resizing(c, shapes):
    """Resizing and CenterCrop: an image of height x width."""
    (h, w, ch), = shapes
    return (positive(c, "height"), positive(c, "width"), ch), 0, 0, 0, ""


def resizing_module(layer, where):
    """As Keras' torch backend resizes (bilinear and bicubic without corner alignment)."""
    import torch.nn.functional as F

    from ...errors import DarkbenchError
    from ..nn import Op
    c = layer.config
    (H, W), (h, w) = layer.in_keras_shapes[0][:2], layer.keras_shape[:2]
    mode = c.get("interpolation", "bilinear")
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise DarkbenchError(f"{where}: interpolation '{short(mode)}' is not supported in PyTorch")
    if c.get("pad_to_aspect_ratio"):
        raise DarkbenchError(f"{where}: pad_to_aspect_ratio is not supported in PyTorch")
    ch, cw = H, W
    if c.get("crop_to_aspect_ratio"):  # Keras' own arithmetic
        ch, cw = max(min(H, int(float(W * h) / w)), 1), max(min(W, int(float(H * w) / h)), 1)
    top, left = int(float(H - ch) / 2), int(float(W - cw) / 2)
    opts = dict(mode="nearest-exact") if mode == "nearest" else dict(
        mode=mode, align_corners=False, antialias=bool(c.get("antialias")))
    return Op(lambda x: F.interpolate(x[..., top:top + ch, left:left + cw], size=(h, w), **opts))


def center_crop_module(layer, where):
    from ...errors import DarkbenchError
    from ..nn import Op
    (H, W), (h, w) = layer.in_keras_shapes[0][:2], layer.keras_shape[:2]
    if h > H or w > W:  # Keras then crops to the aspect ratio and resizes
        raise DarkbenchError(f"{where}: a crop larger than its {H}x{W} input is not supported in PyTorch")
    top, left = (H - h) // 2, (W - w) // 2
    return Op(lambda x: x[..., top:top + h, left:left + w])


def flatten(c, shapes):
    (s,) = shapes
    return (math.prod(s),), 0, 0, 0, " * ".join(map(str, s)) + f" = {math.prod(s):,} units"


def flatten_module(layer, where):  # Keras flattens in H, W, C order
    from ..nn import Op, nhwc
    return Op(lambda x: nhwc(x).flatten(1))


def reshape(c, shapes):
    (s,) = shapes
    if not isinstance(c["target_shape"], (list, tuple)):
        raise ValueError(f"target_shape={short(c['target_shape'])} must be a list of sizes")
    target = list(c["target_shape"])
    n = math.prod(s)
    if not all(is_int(t) and (t > 0 or t == -1) for t in target) or target.count(-1) > 1:
        raise ValueError(f"target_shape={short(tuple(target))} must be positive integers and at most one -1")
    if -1 in target:
        known = math.prod(t for t in target if t != -1)
        target[target.index(-1)] = n // known
    if math.prod(target) != n:
        raise ValueError(f"cannot reshape {s} into {tuple(c['target_shape'])}")
    return tuple(target), 0, 0, 0, ""


def reshape_module(layer, where):
    from ..nn import Op, nchw, nhwc
    target = tuple(layer.keras_shape)
    return Op(lambda x: nchw(nhwc(x).reshape(x.shape[0], *target)))


def permute(c, shapes):
    (s,) = shapes
    dims = c["dims"]
    if not isinstance(dims, (list, tuple)) or sorted(dims) != list(range(1, len(s) + 1)):
        raise ValueError(f"dims={short(dims)} must order the axes 1..{len(s)}")
    return tuple(s[d - 1] for d in dims), 0, 0, 0, ""


def permute_module(layer, where):
    from ..nn import Op, nchw, nhwc
    dims = (0, *layer.config["dims"])
    return Op(lambda x: nchw(nhwc(x).permute(dims)))


KINDS = {
    "ZeroPadding2D": Kind(zero_padding, zero_padding_module, image=True),
    "Cropping2D": Kind(cropping, cropping_module, image=True),
    "UpSampling2D": Kind(upsampling, upsampling_module, image=True),
    "Resizing": Kind(resizing, resizing_module, image=True),
    "CenterCrop": Kind(resizing, center_crop_module, image=True),
    "Flatten": Kind(flatten, flatten_module),
    "Reshape": Kind(reshape, reshape_module),
    "Permute": Kind(permute, permute_module),
}
