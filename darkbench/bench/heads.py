"""A bench backend as a detector's engine: the heads' outputs of a network from a backend's prepared runner, so
detections (darkbench/detect.py) and mAP (darkbench/evaluation.py) can be made from any backend that gives
outputs. OpenCV's [yolo]/[region] layers emit boxes of their own, so it gives the heads' inputs (compare_at),
activated here as each head's family does (its ACTIVATE trait)."""
import contextlib
import os
import tempfile

import numpy as np

from .. import models
from ..errors import DarkbenchError
from .backends import registry
from .backends.base import Skip
from .model import Model


def names():
    """The backends whose runners give outputs, in registry order."""
    return tuple(n for n, cls in registry.backends().items() if cls.gives_outputs)


class BackendEngine:
    """engine(x) for x (N, c, h, w) float32 -> {detection head layer index: (N, ...) array}, run by the bench
    backend `name` prepared for `batch` images at a time (a smaller last batch is padded). model: a cfg path
    (with weights) or a loaded darkbench model (its weights are written to a temporary file for the engine)."""

    def __init__(self, name, model, weights=None, dialect=None, batch=8):
        from ..detect import heads
        if name not in names():
            raise DarkbenchError(f"unknown backend {name!r} for detections (choose from {', '.join(names())})")
        self.name, self.batch, self._tmp, self._runner = name, batch, None, None  # name: as results say it
        if isinstance(model, (str, os.PathLike)):
            if weights is None:
                raise DarkbenchError("a cfg needs its weights (weights=) to detect with", model)
            self.net = models.analyse(model, dialect=dialect, weights=weights)
            heads(self.net)  # before the weights are read: a network without heads is refused as such
        else:
            self.net = model.spec
            heads(self.net)
            fd, weights = tempfile.mkstemp(suffix=".weights", prefix="darkbench-detect-")
            os.close(fd)
            self._tmp = weights
            model.save_weights(weights, overwrite=True)
        net = self.net
        try:
            r = registry.prepare(name, Model(net.path, net, weights=os.fspath(weights)), "cpu", "fp32", batch)
        except Skip as e:
            self.close()
            raise DarkbenchError(f"the {name} backend cannot run it: {e}", net.path) from None
        except BaseException:
            self.close()
            raise
        self._attach(r)

    @classmethod
    def around(cls, name, net, runner, batch=1):
        """The engine of a Runner already prepared for `net` (bench/pipeline.py prepares and times it itself);
        closing the engine closes the runner."""
        self = cls.__new__(cls)
        self.name, self.batch, self._tmp, self._runner, self.net = name, batch, None, None, net
        self._attach(runner)
        return self

    def _attach(self, r):
        """Read the runner's outputs as the heads' (at their inputs when it gives those: compare_at)."""
        from ..detect import heads
        net, name = self.net, self.name
        self._runner = r
        try:
            self._at = gives(net, r, name)
        except DarkbenchError:
            self.close()
            raise

    def __call__(self, x):
        x = np.ascontiguousarray(x, dtype=np.float32)
        n = len(x)
        if n < self.batch:  # the engines were prepared for one batch size
            x = np.concatenate([x, np.zeros((self.batch - n, *x.shape[1:]), np.float32)])
        return head_outputs(self.net, self._at, self._runner.outputs(x), n)

    def close(self):
        if self._runner is not None:
            self._runner.close()
            self._runner = None
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._tmp)
            self._tmp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def gives(net, runner, name):
    """[(layer, raw)]: what each of a prepared runner's outputs is, the detection head `layer`'s output or (raw)
    its input; a DarkbenchError where they are not every head's."""
    from ..detect import heads
    by_input = {l.index - 1: l for l in heads(net)}
    if runner.compare_at:
        missing = [i for i in runner.compare_at if i not in by_input]
        if missing or len(runner.compare_at) != len(by_input):
            raise DarkbenchError(f"the {name} backend gives layers {list(runner.compare_at)}, not every "
                                 "detection head's input", net.path)
        return [(by_input[i], True) for i in runner.compare_at]
    missing = [l.index for l in heads(net) if l.index not in net.returned]
    if missing:
        raise DarkbenchError(f"the {name} backend gives the network's outputs, which leave out "
                             f"detection heads {missing}", net.path)
    return [(net.layers[i], False) for i in net.returned]


def head_outputs(net, at, outputs, n):
    """{head layer index: (n, ...) array} from a runner's outputs (what gives() says they are): a head's input
    activated as its family does (its ACTIVATE trait)."""
    got = {}
    for (layer, raw), y in zip(at, outputs):
        y = np.asarray(y)[:n]
        got[layer.index] = layer.trait("ACTIVATE")(layer, y, net.dialect) if raw else y
    return got
