"""[crop]: centre crop at inference; outputs 2*x-1 unless noadjust=1."""
NAMES = ("crop",)
KEYS = {"crop_height", "crop_width", "flip", "angle", "saturation", "exposure", "noadjust", "shift"}


def DARKNET_FLOATS(layer):
    """make_crop_layer allocates an output and no delta (footprint.py)."""
    return layer.outputs


def build(sec, ctx):
    ch = sec.get_int("crop_height", 1)
    cw = sec.get_int("crop_width", 1)
    for key in ("flip",):
        sec.get_int(key, 0)
    for key in ("angle", "shift"):
        sec.get_float(key, 0.0)
    for key in ("saturation", "exposure"):
        sec.get_float(key, 1.0)
    if ch <= 0 or cw <= 0:
        raise ctx.fail(sec, f"crop {cw}x{ch} must be positive")
    c, h, w = ctx.need_image(sec)
    # darknet counts and saves such a network (vgg-16.cfg below 224x224) but its forward would read outside
    # its input, so it is counted as darknet counts it, with a warning, and refused only when built
    warnings = ((f"{ctx.path}:{sec.line}: layer {ctx.index} [{sec.name}] {oversized(cw, ch, w, h)}: counted as "
                 "darknet counts it; it cannot be built or loaded",) if ch > h or cw > w else ())
    return ctx.layer(sec, "crop", (c, ch, cw), opts=dict(noadjust=sec.get_int("noadjust", 0)),
                     desc=f"{cw}x{ch}", warnings=warnings)


def oversized(cw, ch, w, h):
    return (f"crop {cw}x{ch} is larger than its {w}x{h} input (darknet would read outside its input: its "
            "result would be garbage)")


def module(layer, net):
    from ..errors import DarkbenchError
    from ..nn import Elementwise
    c, h, w = layer.in_shape
    _, oh, ow = layer.out_shape
    if oh > h or ow > w:
        raise DarkbenchError(f"[crop] {oversized(ow, oh, w, h)}; not built", net.path, layer.line, layer.index)
    dh, dw = (h - oh) // 2, (w - ow) // 2
    adjust = not layer.opts["noadjust"]
    return Elementwise(lambda x: (x[:, :, dh:dh + oh, dw:dw + ow] * 2 - 1) if adjust
                       else x[:, :, dh:dh + oh, dw:dw + ow], f"centre {ow}x{oh}, 2x-1={adjust}")
