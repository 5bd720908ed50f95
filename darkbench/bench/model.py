"""One model of a benchmark run, analysed once and handed down: the runner builds it (per size for a sweep) and
every backend's prepare, the agreement check and per-layer timing take it; none of them analyses again."""
import dataclasses
import os
import tempfile

from .. import models
from .env import sha256


@dataclasses.dataclass(eq=False)
class Model:
    path: str  # resolved
    net: object  # models.analyse's network (darknet Network or KerasNetwork) at this size
    width: int | None = None  # the size asked for (None: the model's own), for programs that read the cfg
    height: int | None = None
    weights: str | None = None  # a .weights file every backend shares; None: the model's own initialisation
    sha256: str | None = None
    weights_given: bool = False  # the weights are the user's (bench --weights), not random ones the run wrote
    weights_sha256: str | None = None  # of the user's weights file (none for random ones)

    @classmethod
    def analyse(cls, name, width=None, height=None, weights=None):
        """The model `name` (a path or a name on the search path) analysed at this size, its file's sha256;
        weights: the user's .weights file for it (its header may choose the dialect), else None."""
        path = models.resolve(name)
        net = models.analyse(path, width, height, weights=weights)
        return cls(path, net, width, height, weights, sha256(path) if os.path.isfile(path) else None,
                   weights is not None, sha256(weights) if weights is not None else None)

    @property
    def name(self):
        return self.net.name

    @property
    def dialect(self):
        """The darknet dialect the cfg was read in; None for a Keras model."""
        return getattr(self.net, "dialect", None)

    def build(self, fuse=False):
        """The eval-mode torch module (models.build); without a weights file its own initialisation, seeded (0)
        so every backend and the agreement reference hold the same numbers (torch's global generator is left
        as it was)."""
        import torch
        if self.weights is not None:
            return models.build(self.net, self.weights, fuse)
        with torch.random.fork_rng():
            torch.manual_seed(0)
            return models.build(self.net, None, fuse)

    def sized_cfg(self):
        """The cfg at the run's size, for programs that read sizes from the cfg (darknet, OpenCV): a temporary
        copy with [net] width/height replaced (only the one(s) given: a width alone keeps the cfg's height),
        which the caller removes; the file itself when no size was given."""
        if self.width is None and self.height is None:
            return self.path
        return resized_cfg(self.path, self.width, self.height)


def resized_cfg(path, width, height):
    """A temporary copy of the cfg `path` with [net] width/height replaced by those given (not None)."""
    from .. import cfg as cfgmod
    new = {k: v for k, v in (("width", width), ("height", height)) if v is not None}
    lines, in_net = [], False
    for line in cfgmod.lines(cfgmod.read_text(path)):  # darknet's lines and strip, as darkbench read it
        s = cfgmod.strip(line)
        if s.startswith("["):
            if in_net:
                lines += [f"{k}={v}" for k, v in new.items()]
            in_net = s in ("[net]", "[network]")
        elif in_net and s.partition("=")[0] in new:
            continue
        lines.append(line)
    if in_net:
        lines += [f"{k}={v}" for k, v in new.items()]
    fd, tmp = tempfile.mkstemp(suffix=".cfg", prefix="darkbench-")
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    return tmp
