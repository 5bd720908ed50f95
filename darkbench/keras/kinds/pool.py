"""MaxPooling2D, AveragePooling2D and their global forms (aliases MaxPool2D... included)."""
from ..base import Kind, check_padded, conv_len, pair, padding, window_desc


def _strides(c):
    ph, pw = pair(c.get("pool_size", 2), "pool_size")
    st = c.get("strides")
    return (ph, pw), pair(st, "strides") if st is not None else (ph, pw)


def _desc(c):
    (kh, kw), (sh, sw) = _strides(c)
    return window_desc(kh, kw, sh, sw, c)


def pool(c, shapes):
    (h, w, ch), = shapes
    (ph, pw), (sh, sw) = _strides(c)
    pad = padding(c)
    check_padded(h, w, ch, ph, pw, sh, sw, 1, 1, pad)
    oh, ow = conv_len(h, ph, sh, 1, pad), conv_len(w, pw, sw, 1, pad)
    return (oh, ow, ch), 0, 0, 0, ""


def _window(layer):
    from ..nn import pads
    k, s = _strides(layer.config)
    explicit, same = pads(layer.config, layer, k, s)
    return k, s, explicit, same


def max_module(layer, where):  # padding never wins a max: -inf (torch's own padding does the same)
    import torch.nn.functional as F

    from ..nn import Op
    k, s, explicit, same = _window(layer)
    return Op(lambda x: F.max_pool2d(F.pad(x, explicit, value=float("-inf")) if explicit else x, k, s, same))


def average_module(layer, where):
    import torch
    import torch.nn.functional as F

    from ..nn import Op
    k, s, explicit, same = _window(layer)

    def avg(x):  # TensorFlow and JAX average over the cells inside the image only
        if not explicit:
            return F.avg_pool2d(x, k, s, same, count_include_pad=False)
        inside = F.avg_pool2d(F.pad(torch.ones_like(x[:, :1]), explicit), k, s)  # share of real cells
        return F.avg_pool2d(F.pad(x, explicit), k, s) / inside
    return Op(avg)


def global_pool(c, shapes):
    (h, w, ch), = shapes
    return ((1, 1, ch) if c.get("keepdims") else (ch,)), 0, 0, 0, ""


def global_max_module(layer, where):
    from ..nn import Op
    keep = bool(layer.config.get("keepdims"))
    return Op(lambda x: x.amax((2, 3), keepdim=keep))


def global_average_module(layer, where):
    from ..nn import Op
    keep = bool(layer.config.get("keepdims"))
    return Op(lambda x: x.mean((2, 3), keepdim=keep))


_MAX = Kind(pool, max_module, image=True, desc=_desc)
_AVERAGE = Kind(pool, average_module, image=True, desc=_desc)
_GLOBAL_MAX = Kind(global_pool, global_max_module, image=True)
_GLOBAL_AVERAGE = Kind(global_pool, global_average_module, image=True)
KINDS = {
    "MaxPooling2D": _MAX, "MaxPool2D": _MAX,
    "AveragePooling2D": _AVERAGE, "AvgPool2D": _AVERAGE,
    "GlobalMaxPooling2D": _GLOBAL_MAX, "GlobalMaxPool2D": _GLOBAL_MAX,
    "GlobalAveragePooling2D": _GLOBAL_AVERAGE, "GlobalAvgPool2D": _GLOBAL_AVERAGE,
}
