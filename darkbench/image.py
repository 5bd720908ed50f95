"""Images as darknet handles them: float CHW in [0, 1], its bilinear resize and letterbox, in float32."""
import os

import numpy as np

from .errors import DarkbenchError


# darknet reads images with OpenCV, which turns them upright by their EXIF orientation in these formats (not WebP)
ORIENTED = ("JPEG", "MPO", "PNG", "TIFF")
# PIL's modes for 16-bit grey (PNG, TIFF; "I", 32-bit, for 16-bit PGM): its convert("RGB") clips them at 255
SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def load_color(path):
    """(3, H, W) float32 in [0, 1], like darknet's load_image_color."""
    path = os.fspath(path)
    try:
        from PIL import UnidentifiedImageError
    except ImportError:  # pragma: no cover
        raise DarkbenchError("pillow is needed to read images (pip install pillow)") from None
    if not os.path.exists(path):
        raise DarkbenchError("no such image", path)
    try:
        with _open(path) as im:
            a = _rgb8(_upright(im))
    except (UnidentifiedImageError, OSError, ValueError) as e:  # ValueError: e.g. a text chunk too large
        raise DarkbenchError(f"cannot read image: {e.__class__.__name__}", path) from None
    x = np.ascontiguousarray(a.transpose(2, 0, 1), dtype=np.float32)
    x /= np.float32(255.0)
    return x


def max_pixels():
    """The most pixels darkbench puts in one image: PIL's decompression-bomb limit (2 GiB as float RGB)."""
    from PIL import Image
    return 2 * Image.MAX_IMAGE_PIXELS if Image.MAX_IMAGE_PIXELS else None


def _open(path):
    """PIL's lazily decoded image; one past max_pixels() is refused naming its size (PIL's own error
    names neither the file nor the size)."""
    from PIL import Image
    limit = max_pixels()
    saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # checked below instead
    try:
        im = Image.open(path)
    finally:
        Image.MAX_IMAGE_PIXELS = saved
    if limit and im.width * im.height > limit:
        im.close()
        raise DarkbenchError(f"image is {im.width}x{im.height} ({im.width * im.height:,} pixels); darkbench reads "
                             f"at most {limit:,} (PIL's decompression-bomb limit)", path)
    return im


def _upright(im):
    """The image turned by its EXIF orientation, in place (a copy of every picture costs the pipeline time)."""
    from PIL import ImageOps
    if im.format in ORIENTED:
        ImageOps.exif_transpose(im, in_place=True)
    return im


def _rgb8(im):
    """(H, W, 3) uint8 as darknet's loader makes it: a 16-bit sample keeps its high byte (value >> 8)."""
    if im.mode in SIXTEEN_BIT:  # grey; PIL already keeps the high byte of 16-bit RGB(A) and grey+alpha
        g = (np.clip(np.asarray(im).astype(np.int64), 0, 65535) >> 8).astype(np.uint8)
        return np.repeat(g[:, :, None], 3, axis=2)
    return np.asarray(im if im.mode == "RGB" else im.convert("RGB"), dtype=np.uint8)


def resize(im, w, h, out=None):
    """darknet's resize_image: bilinear in two passes (columns, then rows), edges clamped, float32 (into `out`, a
    (c, h, w) float32 array, when given). The columns pass runs only on the rows the rows pass reads."""
    c, ih, iw = im.shape
    im = im.astype(np.float32, copy=False)
    f32 = np.float32
    hs = f32(ih - 1) / f32(h - 1) if h > 1 else f32(0)
    sy = np.arange(h, dtype=np.float32) * hs
    iy = sy.astype(np.int64)
    dy = (sy - iy.astype(np.float32)).astype(np.float32)[None, :, None]
    iy1 = np.minimum(iy + 1, ih - 1)
    rows = np.union1d(iy, iy1)  # the rows of `part` the second pass reads
    src = np.take(im, rows, axis=1) if len(rows) < ih else im
    iy, iy1 = np.searchsorted(rows, iy), np.searchsorted(rows, iy1)
    if w == 1 or iw == 1:
        part = np.repeat(src[:, :, -1:], w, axis=2)
    else:
        ws = f32(iw - 1) / f32(w - 1)
        sx = np.arange(w, dtype=np.float32) * ws
        ix = sx.astype(np.int64)
        dx = (sx - ix.astype(np.float32)).astype(np.float32)
        part = np.take(src, ix, axis=2)
        part *= f32(1) - dx
        right = np.take(src, np.minimum(ix + 1, iw - 1), axis=2)
        right *= dx
        part += right
        part[:, :, w - 1] = src[:, :, iw - 1]
    if out is None:
        out = np.empty((c, h, w), np.float32)
    np.take(part, iy, axis=1, out=out)
    out *= f32(1) - dy
    if h > 1 and ih > 1:  # darknet skips the second term on the last row
        add = np.take(part, iy1, axis=1)
        add *= dy
        add[:, h - 1, :] = 0
        out += add
    return out


def letterbox_size(iw, ih, w, h):
    """(width, height) of an iw x ih image inside a w x h letterbox, as letterbox_image (and darknet's box
    correction after it) computes them: ratios compared as C floats, sizes by C int division."""
    if np.float32(w) / np.float32(iw) < np.float32(h) / np.float32(ih):
        return w, (ih * w) // iw
    return (iw * h) // ih, h


def letterbox(im, w, h):
    """darknet's letterbox_image: keep the aspect ratio, pad with 0.5, centre."""
    c, ih, iw = im.shape
    nw, nh = letterbox_size(iw, ih, w, h)
    boxed = np.full((c, h, w), 0.5, dtype=np.float32)
    x0, y0 = (w - nw) // 2, (h - nh) // 2
    resize(im, nw, nh, out=boxed[:, y0:y0 + nh, x0:x0 + nw])
    return boxed


def save(im, path):
    """As darknet's save_image: 255 * value truncated to a byte; JPEG at quality 80 without chroma
    subsampling, as darknet's encoder (PIL's default 4:2:0 smears a dream's fine detail)."""
    from PIL import Image
    a = (np.clip(im, 0, 1).astype(np.float32) * np.float32(255)).astype(np.uint8).transpose(1, 2, 0)
    try:
        Image.fromarray(np.ascontiguousarray(a)).save(path, quality=80, subsampling=0)
    except OSError as e:
        raise DarkbenchError(f"cannot write image: {e.strerror or e}", path) from None
