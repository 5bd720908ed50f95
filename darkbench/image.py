"""Images as darknet handles them: float CHW in [0, 1], its bilinear resize and letterbox, in float32."""
import functools
import os
import struct

import numpy as np

from .errors import DarkbenchError


# darknet reads images with OpenCV, which turns them upright by their EXIF orientation in these formats (not WebP)
ORIENTED = ("JPEG", "MPO", "PNG", "TIFF")
# PIL's modes for 16-bit grey (PNG, TIFF; "I", 32-bit, for 16-bit PGM): its convert("RGB") clips them at 255
SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")
PNG = b"\x89PNG\r\n\x1a\n"
PNG_TEXT = (b"tEXt", b"zTXt", b"iTXt")


def load_color(path):
    """(3, H, W) float32 in [0, 1], like darknet's load_image_color."""
    return floats(load_rgb8(path))


def floats(pixels):
    """load_rgb8's (H, W, 3) uint8 pixels as load_color gives them."""
    x = np.ascontiguousarray(pixels.transpose(2, 0, 1), dtype=np.float32)
    x /= np.float32(255.0)
    return x


def load_rgb8(path):
    """(H, W, 3) uint8: the pixels darknet's loader makes floats of (value / 255, load_color)."""
    path = os.fspath(path)
    try:
        from PIL import UnidentifiedImageError
    except ImportError:  # pragma: no cover
        raise DarkbenchError("pillow is needed to read images (pip install pillow)") from None
    if not os.path.exists(path):
        raise DarkbenchError("no such image", path)
    a = _plain_png(path)
    if a is None:
        try:
            with _open(path) as im:
                a = _rgb8(_upright(im))
        except (UnidentifiedImageError, OSError, ValueError) as e:  # ValueError: e.g. a text chunk too large
            raise DarkbenchError(f"cannot read image: {e.__class__.__name__}", path) from None
    return a


def _plain_png(path):
    """(H, W, 3) uint8 of a plain PNG (8 bits a sample, no EXIF) decoded by libpng through imagecodecs (when
    installed: darkbench[fast]), else None: PIL reads it. PNG is lossless, so any decoder gives these pixels;
    they are made RGB as PIL's convert("RGB") makes them (alpha dropped, grey repeated, a palette looked up).
    imagecodecs decodes in ~40% less time than PIL, the largest cost of `darkbench map` after the network, and
    lets go of Python's lock for the whole image where PIL takes it back every 64 KiB (map decodes in threads
    beside the network's). Other depths, EXIF orientation, a size past max_pixels() and anything libpng refuses
    go PIL's way, with its rules and its errors."""
    png_decode = _png_decoder()
    if png_decode is None:
        return None
    try:
        with open(path, "rb") as f:
            if f.read(len(PNG)) != PNG:  # not a PNG: read once, by PIL
                return None
            data = PNG + f.read()
    except OSError:
        return None
    if len(data) < 33 or data[12:16] != b"IHDR":
        return None
    w, h, depth = struct.unpack(">IIB", data[16:25])
    limit = max_pixels()
    if depth != 8 or (limit and w * h > limit) or _png_exif(data):
        return None
    try:
        a = png_decode(data)
    except (RuntimeError, ValueError):  # imagecodecs' PngError, or its reading of a broken chunk: PIL says why
        return None
    if a.dtype != np.uint8 or a.shape[:2] != (h, w):
        return None
    if a.ndim == 2 or a.shape[2] <= 2:  # grey, grey + alpha
        return np.repeat(a.reshape(h, w, -1)[:, :, :1], 3, axis=2)
    return a[:, :, :3]


@functools.lru_cache(maxsize=None)
def _png_decoder():
    """imagecodecs' png_decode, or None where it is not installed (looked for once)."""
    try:
        from imagecodecs import png_decode
    except ImportError:
        return None
    return png_decode


def _png_exif(data):
    """Whether a PNG's chunks hold EXIF, where an orientation can hide: an eXIf chunk, or the text chunk
    "Raw profile type exif" (ImageMagick's; PIL reads both)."""
    pos = 8
    while pos + 8 <= len(data):
        size, tag = struct.unpack_from(">I4s", data, pos)
        if tag == b"eXIf" or (tag in PNG_TEXT and data.startswith(b"Raw profile type exif\0", pos + 8)):
            return True
        if tag == b"IEND":
            return False
        pos += 12 + size
    return False


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
    """darknet's resize_image of a (c, H, W) float32 image (any memory layout): bilinear in two passes (columns,
    then rows), edges clamped, float32. Returns (c, h, w) channels-last in memory (a view of (h, w, c) data, the
    layout the network takes), or fills `out`, a (c, h, w) float32 array."""
    return _resize(np.moveaxis(np.asarray(im, dtype=np.float32), 0, 2), w, h, out)


def resize_rgb8(pixels, w, h):
    """resize(load_color(...)) from load_rgb8's (H, W, 3) uint8 pixels: only the rows the resize reads become
    floats, and nothing is transposed."""
    return _resize(pixels, w, h)


def _resize(hwc, w, h, out=None):
    """The resize in (H, W, c) layout: each pass takes whole pixels, the rows pass whole rows. The columns pass
    runs only on the rows the rows pass reads. uint8 samples are value / 255 (darknet's loader)."""
    ih, iw, c = hwc.shape
    f32 = np.float32
    hs = f32(ih - 1) / f32(h - 1) if h > 1 else f32(0)
    sy = np.arange(h, dtype=np.float32) * hs
    iy = sy.astype(np.int64)
    dy = (sy - iy.astype(np.float32)).astype(np.float32)[:, None]
    iy1 = np.minimum(iy + 1, ih - 1)
    rows = np.union1d(iy, iy1)  # the rows of `part` the second pass reads
    src = np.ascontiguousarray(hwc[rows] if len(rows) < ih else hwc, dtype=np.float32)
    if hwc.dtype == np.uint8:
        src /= f32(255.0)
    src = src.reshape(len(rows), iw * c)
    iy, iy1 = np.searchsorted(rows, iy), np.searchsorted(rows, iy1)
    if w == 1 or iw == 1:
        part = np.tile(src[:, (iw - 1) * c:], (1, w))
    else:
        ws = f32(iw - 1) / f32(w - 1)
        sx = np.arange(w, dtype=np.float32) * ws
        ix = sx.astype(np.int64)
        dx = np.repeat((sx - ix.astype(np.float32)).astype(np.float32), c)
        sample = np.arange(c)
        part = np.take(src, (ix[:, None] * c + sample).ravel(), axis=1)
        part *= f32(1) - dx
        right = np.take(src, (np.minimum(ix + 1, iw - 1)[:, None] * c + sample).ravel(), axis=1)
        right *= dx
        part += right
        part[:, (w - 1) * c:] = src[:, (iw - 1) * c:]
    y = np.take(part, iy, axis=0)
    y *= f32(1) - dy
    if h > 1 and ih > 1:  # darknet skips the second term on the last row
        add = np.take(part, iy1, axis=0)
        add *= dy
        add[h - 1] = 0
        y += add
    y = y.reshape(h, w, c).transpose(2, 0, 1)
    if out is None:
        return y
    out[...] = y
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
