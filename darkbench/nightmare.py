"""darknet's `nightmare` (deep dream): amplify what a layer responds to, octave by octave, round by round."""
import math
import os
import random

import numpy as np

from .errors import DarkbenchError
from .image import resize

DEFAULTS = dict(rounds=1, iters=10, range=1, octaves=4, rate=0.04, thresh=1.0, zoom=1.0, rotate=0.0, norm=1)


def crop(im, dx, dy, w, h):
    """darknet's crop_image: out[y, x] = im[y + dy, x + dx], zero outside."""
    c, ih, iw = im.shape
    out = np.zeros((c, h, w), dtype=np.float32)
    x0, y0 = max(0, -dx), max(0, -dy)
    x1, y1 = min(w, iw - dx), min(h, ih - dy)
    if x1 > x0 and y1 > y0:
        out[:, y0:y1, x0:x1] = im[:, y0 + dy:y1 + dy, x0 + dx:x1 + dx]
    return out


def rotate(im, rad):
    """darknet's rotate_image: about the centre, bilinear, zero outside."""
    c, h, w = im.shape
    cx, cy = w / 2.0, h / 2.0
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    rx = math.cos(rad) * (x - cx) - math.sin(rad) * (y - cy) + cx
    ry = math.sin(rad) * (x - cx) + math.cos(rad) * (y - cy) + cy
    ix, iy = np.floor(rx).astype(int), np.floor(ry).astype(int)
    dx, dy = rx - ix, ry - iy
    pad = np.pad(im, ((0, 0), (1, 2), (1, 2)))  # zeros around, indices shifted by 1

    def px(yy, xx):
        return pad[:, np.clip(yy + 1, 0, h + 2), np.clip(xx + 1, 0, w + 2)]
    out = ((1 - dy) * (1 - dx) * px(iy, ix) + (1 - dy) * dx * px(iy, ix + 1)
           + dy * (1 - dx) * px(iy + 1, ix) + dy * dx * px(iy + 1, ix + 1))
    return out.astype(np.float32)


def zoom(im, z):
    """darknet: crop the centre w*z x h*z (z > 1 reaches outside: zeros) and resize back."""
    c, h, w = im.shape
    cw, ch = int(w * z), int(h * z)
    return resize(crop(im, int(w * (1 - z) / 2), int(h * (1 - z) / 2), cw, ch), w, h)


def normalize(a):
    sd = a.std()
    return (a - a.mean()) / sd if sd > 0 else a - a.mean()


def objective(out, thresh):
    """What the step climbs: 0.5 * sum of squares of the activations above mean + thresh * std."""
    mask = out > out.mean() + thresh * out.std(unbiased=False)
    return 0.5 * (out * mask).pow(2).sum(), mask


class Dreamer:
    """Holds one model per input size (octaves change it) and runs darknet's optimize_picture step."""

    def __init__(self, cfg, weights, device="cpu"):
        import torch
        import darkbench
        if device == "cuda" and not torch.cuda.is_available():
            raise DarkbenchError("--device cuda but CUDA is not available")
        self.cfg, self.weights, self.device = cfg, weights, device
        self.models = {}
        self.n_layers = len(darkbench.analyse(cfg).layers)
        self._load = darkbench.load

    def model(self, w, h):
        if (w, h) not in self.models:
            m = self._load(self.cfg, self.weights, width=w, height=h).to(self.device)
            m.requires_grad_(False)
            self.models[(w, h)] = m
        return self.models[(w, h)]

    def gradient(self, im, layer, thresh):
        import torch
        c, h, w = im.shape
        x = torch.from_numpy(np.ascontiguousarray(im))[None].to(self.device).requires_grad_(True)
        out = self.model(w, h).forward_to(x, layer)
        loss, _ = objective(out, thresh)
        loss.backward()
        return x.grad[0].float().cpu().numpy(), float(loss.detach())

    def step(self, orig, layer, scale, rate, thresh, norm, rng):
        c, h, w = orig.shape
        dx, dy, flip = rng.randrange(16) - 8, rng.randrange(16) - 8, rng.randrange(2)
        im = resize(crop(orig, dx, dy, w, h), max(1, int(w * scale)), max(1, int(h * scale)))
        if flip:
            im = im[:, :, ::-1]
        delta, loss = self.gradient(im, layer, thresh)
        if flip:
            delta = delta[:, :, ::-1]
        out = crop(resize(np.ascontiguousarray(delta), w, h), -dx, -dy, w, h)
        out += 0.1 * (0.5 - orig)
        if norm:
            out = normalize(out)
        return np.clip(orig + rate * out, 0, 1).astype(np.float32), loss


def round_name(image, cfg, layer, e, prefix=None):
    base = f"{os.path.splitext(os.path.basename(image))[0]}_{os.path.splitext(os.path.basename(cfg))[0]}_{layer}_{e:06d}.jpg"
    return os.path.join(prefix, base) if prefix else base


def dream(cfg, weights, image, layer, rounds=1, iters=10, range_=1, octaves=4, rate=0.04, thresh=1.0, zoom_=1.0,
          rotate_=0.0, norm=1, prefix=None, device="cpu", seed=0, force=False, progress=True, save=True):
    """Run the rounds; returns ([written paths], [objective per iteration])."""
    from .image import load_color, save as save_image
    dreamer = Dreamer(cfg, weights, device)
    if not 0 <= layer < dreamer.n_layers:
        raise DarkbenchError(f"layer {layer} is not in the network (0..{dreamer.n_layers - 1})", cfg)
    for k, v in (("rounds", rounds), ("iters", iters), ("range", range_), ("octaves", octaves)):
        if v < 1:
            raise DarkbenchError(f"-{k} {v} must be >= 1")
    names = [round_name(image, cfg, layer, e, prefix) for e in range(rounds)]
    if save and not force:
        for n in names:
            if os.path.exists(n):
                raise DarkbenchError("exists; not overwriting (use --force)", n)
    im = load_color(image)
    rng = random.Random(seed)
    losses, written = [], []
    from tqdm import tqdm
    bar = tqdm(total=rounds * iters, desc="nightmare", unit="iter", disable=not progress)
    for e in range(rounds):
        for _ in range(iters):
            target = min(dreamer.n_layers - 1, max(0, layer + rng.randrange(range_) - range_ // 2))
            octave = rng.randrange(octaves)
            im, loss = dreamer.step(im, target, 1 / 1.33333333 ** octave, rate, thresh, norm, rng)
            losses.append(loss)
            bar.update(1)
        if save:
            save_image(im, names[e])
            written.append(names[e])
            bar.write(f"{e} {names[e]}")
        if rotate_:
            im = rotate(im, rotate_)
        if zoom_ != 1:
            im = zoom(im, zoom_)
    bar.close()
    return written, losses
