"""darknet's `nightmare` (deep dream): amplify what a layer responds to, octave by octave, round by round."""
import math
import os
import random

import numpy as np

from . import cfg as cfgmod, models
from .errors import DarkbenchError
from .image import max_pixels, resize

DEFAULTS = dict(rounds=1, iters=10, range=1, octaves=4, rate=0.04, thresh=1.0, zoom=1.0, rotate=0.0, norm=1)


def crop(im, dx, dy, w, h):
    """darknet's crop_image: out[y, x] = im[y + dy, x + dx], coordinates clamped to the edge (not zeros)."""
    c, ih, iw = im.shape
    ys = np.clip(np.arange(h) + dy, 0, ih - 1)
    xs = np.clip(np.arange(w) + dx, 0, iw - 1)
    return np.ascontiguousarray(im[:, ys][:, :, xs], dtype=np.float32)


def rotate(im, rad):
    """darknet's rotate_image: about the centre, bilinear, zero outside."""
    c, h, w = im.shape
    cx, cy = w / 2.0, h / 2.0
    rad = float(np.float32(rad))
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    # C: double products stored as float, then float weights
    rx = (math.cos(rad) * (x - cx) - math.sin(rad) * (y - cy) + cx).astype(np.float32)
    ry = (math.sin(rad) * (x - cx) + math.cos(rad) * (y - cy) + cy).astype(np.float32)
    ix, iy = np.floor(rx).astype(int), np.floor(ry).astype(int)
    dx, dy = rx - ix.astype(np.float32), ry - iy.astype(np.float32)
    pad = np.pad(im, ((0, 0), (1, 2), (1, 2)))  # zeros around, indices shifted by 1

    def px(yy, xx):
        return pad[:, np.clip(yy + 1, 0, h + 2), np.clip(xx + 1, 0, w + 2)]
    one = np.float32(1)  # darknet's term order, in float
    out = ((one - dy) * (one - dx) * px(iy, ix) + dy * (one - dx) * px(iy + 1, ix)
           + (one - dy) * dx * px(iy, ix + 1) + dy * dx * px(iy + 1, ix + 1))
    return out.astype(np.float32)


def zoom_size(w, h, z):
    """The crop darknet's zoom takes: int * float in C float (40 * 0.9f -> 36, not 35)."""
    zf = float(np.float32(z))
    limit = max_pixels()
    if limit and w * zf * h * zf > limit:  # in double: the float32 product may overflow
        raise DarkbenchError(f"-zoom {z:g} makes a crop of about {w * zf:.4g}x{h * zf:.4g} pixels from a {w}x{h} "
                             f"image; darkbench handles at most {limit:,} pixels")
    cw, ch = int(np.float32(w) * np.float32(zf)), int(np.float32(h) * np.float32(zf))
    if cw < 1 or ch < 1:
        raise DarkbenchError(f"-zoom {z:g} leaves no pixels of a {w}x{h} image")
    return cw, ch


def zoom(im, z):
    """darknet: crop the centre w*z x h*z (z > 1 reaches outside: edge pixels repeat) and resize back."""
    c, h, w = im.shape
    cw, ch = zoom_size(w, h, z)
    z = float(np.float32(z))  # the offset: (1 - float) in double
    return resize(crop(im, int(w * (1 - z) / 2), int(h * (1 - z) / 2), cw, ch), w, h)


def octave_scale(octave):
    """darknet's 1/pow(1.33333333, octave), in double; past the double range it is 0, not an OverflowError."""
    try:
        return 1 / 1.33333333 ** octave
    except OverflowError:
        return 0.0


def octave_size(w, h, scale):
    """The image's size at a scale: (int)(w * scale) in C float, at least 1 pixel (darknet crashes below 2
    rows, so there is no program to follow)."""
    s = np.float32(scale)
    return max(1, int(np.float32(w) * s)), max(1, int(np.float32(h) * s))


def normalize(a):
    sd = a.std()
    return (a - a.mean()) / sd if sd > 0 else a - a.mean()


def objective(out, thresh):
    """What the step climbs: 0.5 * sum of squares of the activations above mean + thresh * std."""
    mask = out > out.mean() + thresh * out.std(unbiased=False)
    return 0.5 * (out * mask).pow(2).sum(), mask


class Dreamer:
    """darknet's optimize_picture step, with one model per input size (octaves change it). Like darknet, which
    resizes only layers 0..target, the models stop at `last` (the deepest layer a step may target), so layers
    past it need not fit the image's size."""

    def __init__(self, cfg, weights, device="cpu", last=None):
        import torch  # torch only when dreaming: importing this module stays light
        if device == "cuda" and not torch.cuda.is_available():
            raise DarkbenchError("--device cuda but CUDA is not available")
        self.path, self.device = models.resolve(cfg), device
        self.full = models.load(self.path, weights)  # at the cfg's own size, as darknet's load_network
        if len(self.full.input_shape) != 3:
            raise DarkbenchError(f"the network has no image input ([net] gives inputs={self.full.input_shape[0]}, "
                                 "not width, height and channels): nothing to dream an image with", self.path)
        self.n_layers = len(self.full.spec.layers)
        self.last = self.n_layers - 1 if last is None else min(max(last, 0), self.n_layers - 1)
        text = cfgmod.read_text(self.path)
        sections = cfgmod.parse(text, self.path)  # [net], then one section per layer
        if self.last + 2 < len(sections):
            text = "\n".join(cfgmod.lines(text)[:sections[self.last + 2].line - 1]) + "\n"  # darknet's lines
        self.text = text
        self.models = {}

    def model(self, w, h, why=None):
        """The model for a w x h input, built once; why: how that size came about, for an error."""
        if (w, h) not in self.models:
            try:
                self.models[(w, h)] = self._build(w, h)
            except DarkbenchError as e:  # name the size: it is the image's, not the cfg's
                raise DarkbenchError(f"{why or 'the image'} at {w}x{h}: {e.message}", e.path, e.line,
                                     e.layer) from None
        return self.models[(w, h)]

    def _build(self, w, h):
        from .torch_model import build  # torch, as above
        m = build(models.analyse(self.path, w, h, text=self.text, dialect=self.full.spec.dialect))
        weights = self.full.state_dict()
        mine = m.state_dict()
        for k, t in mine.items():
            if weights[k].shape != t.shape:
                i = int(k.split(".")[1])
                l = m.spec.layers[i]
                raise DarkbenchError(f"layer {i} ({l.type}): its weights' shape depends on the input size; "
                                     f"target a layer before it", self.path, l.line)
        m.load_state_dict({k: weights[k] for k in mine}, assign=True)  # shared, not copied
        m = m.to(self.device)
        m.requires_grad_(False)
        return m

    def check_octaves(self, w, h, octaves):
        """Build the model for every size the octaves give a w x h image, so that one the network cannot take
        fails before any round is written."""
        for octave in range(octaves):
            size = octave_size(w, h, octave_scale(octave))
            self.model(*size, why=None if size == (w, h) else f"octave {octave} of -octaves {octaves} puts the "
                                                               f"{w}x{h} image")
            if size == (1, 1):  # so is every later octave
                break

    def gradient(self, im, layer, thresh):
        import torch
        c, h, w = im.shape
        x = torch.from_numpy(np.ascontiguousarray(im))[None].to(self.device).requires_grad_(True)
        out = self.model(w, h).forward_to(x, layer)
        with torch.no_grad():
            loss, mask = objective(out, thresh)
            seed = out * mask  # d loss / d out, as darknet seeds the layer's delta
        out.backward(seed)
        return x.grad[0].float().cpu().numpy(), float(loss)

    def step(self, orig, layer, scale, rate, thresh, norm, rng):
        c, h, w = orig.shape
        dx, dy, flip = rng.randrange(16) - 8, rng.randrange(16) - 8, rng.randrange(2)
        im = resize(crop(orig, dx, dy, w, h), *octave_size(w, h, scale))
        if flip:  # a copy: a reversed width-1 view passes as contiguous, and torch refuses its negative stride
            im = im[:, :, ::-1].copy()
        delta, loss = self.gradient(im, layer, thresh)
        if flip:
            delta = delta[:, :, ::-1]
        out = crop(resize(np.ascontiguousarray(delta), w, h), -dx, -dy, w, h)
        out += 0.1 * (0.5 - orig)
        if norm:
            out = normalize(out)
        return np.clip(orig + rate * out, 0, 1).astype(np.float32), loss


def _stem(path):
    """darknet's basecfg: the name after the last '/', cut at its FIRST '.' (my.photo.png -> my)."""
    return os.fspath(path).rsplit("/", 1)[-1].split(".", 1)[0]


def round_name(image, cfg, layer, e, prefix=None):
    base = f"{_stem(image)}_{_stem(cfg)}_{layer}_{e:06d}.jpg"
    return os.path.join(prefix, base) if prefix else base


def check_floats(rate, thresh, zoom_, rotate_):
    """Before anything is read or written: nan or inf would give a garbage image, or fail after a round was saved."""
    for k, v in (("rate", rate), ("thresh", thresh), ("zoom", zoom_), ("rotate", rotate_)):
        if not math.isfinite(v):
            raise DarkbenchError(f"-{k} {v} must be a finite number")
    if zoom_ <= 0:
        raise DarkbenchError(f"-zoom {zoom_} must be > 0")


def dream(cfg, weights, image, layer, rounds=1, iters=10, range_=1, octaves=4, rate=0.04, thresh=1.0, zoom_=1.0,
          rotate_=0.0, norm=1, prefix=None, device="cpu", seed=0, force=False, progress=True, save=True, rng=None):
    """Run the rounds; returns ([written paths], [objective per iteration]). rng: any object with
    randrange(n), drawn in darknet's order (layer, octave, then dx, dy, flip per step); default Random(seed)."""
    from .image import load_color, save as save_image
    for k, v in (("rounds", rounds), ("iters", iters), ("range", range_), ("octaves", octaves)):
        if v < 1:
            raise DarkbenchError(f"-{k} {v} must be >= 1")
    check_floats(rate, thresh, zoom_, rotate_)
    if save and prefix and not os.path.isdir(prefix):
        raise DarkbenchError("-prefix: no such directory", prefix)
    names = [round_name(image, cfg, layer, e, prefix) for e in range(rounds)]
    if save and not force:
        for n in names:
            if os.path.exists(n):
                raise DarkbenchError("exists; not overwriting (use --force)", n)
    im = load_color(image)
    zoom_size(im.shape[2], im.shape[1], zoom_)
    dreamer = Dreamer(cfg, weights, device, last=layer + (range_ - 1) - range_ // 2)
    if not 0 <= layer < dreamer.n_layers:
        raise DarkbenchError(f"layer {layer} is not in the network (0..{dreamer.n_layers - 1})", cfg)
    dreamer.check_octaves(im.shape[2], im.shape[1], octaves)
    rng = rng or random.Random(seed)
    losses, written = [], []
    from tqdm import tqdm
    bar = tqdm(total=rounds * iters, desc="nightmare", unit="iter", disable=not progress)
    for e in range(rounds):
        for _ in range(iters):
            target = min(dreamer.n_layers - 1, max(0, layer + rng.randrange(range_) - range_ // 2))
            octave = rng.randrange(octaves)
            im, loss = dreamer.step(im, target, octave_scale(octave), rate, thresh, norm, rng)
            losses.append(loss)
            bar.update(1)
        if save:
            save_image(im, names[e])
            written.append(names[e])
            bar.write(f"{e} {names[e]}")
        if e == rounds - 1:
            break
        if rotate_:
            im = rotate(im, rotate_)
        if zoom_ != 1:
            im = zoom(im, zoom_)
    bar.close()
    return written, losses
