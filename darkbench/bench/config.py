"""What one benchmark run measures and how (built from the command line, or by tests), checked when made: a
DarkbenchError in one line, in the config's own words, for anything it cannot run."""
import dataclasses
import math
import os

from ..errors import DarkbenchError
from .backends.base import DEVICES
from . import dtypes as vocabulary
from .dtypes import NAMES as DTYPES


@dataclasses.dataclass
class BenchConfig:
    models: list
    backends: list = dataclasses.field(default_factory=lambda: ["eager"])
    devices: list | None = dataclasses.field(default_factory=lambda: ["cpu"])  # None: cpu, and cuda when present
    batches: list = dataclasses.field(default_factory=lambda: [1])
    dtypes: list = dataclasses.field(default_factory=lambda: ["fp32"])
    threads: int = 1
    min_time: float = 2.0  # seconds of measurement per group, at least
    max_time: float = 20.0  # and at most, checked after each round
    out_path: str | None = None  # the run's results file, rewritten as results arrive
    width: int | None = None
    height: int | None = None
    layers: bool = False  # also time each layer
    ci: float = 2.0  # stop when every median's 95% CI half-width is within this percentage of it
    cudnn_benchmark: bool = True
    tf32: bool = False
    seed: int = 0  # of the random weights shared by every backend
    spin: bool | None = None  # idle threads spin; None: decided from the load
    auto_batch: bool = False  # batch 1, 2, 4, ... while throughput rises beyond the noise (bench/batching.py)
    max_batch: int = 256  # the largest batch auto_batch tries
    sizes: list | None = None  # [(width, height)]: the run once per input size (a sweep), in place of width/height
    options: dict = dataclasses.field(default_factory=dict)  # the backends' own options by name (backends/base.py)
    calib: str | None = None  # int8's calibration images: a folder, list or .data file (bench/precision.py)
    weights: dict = dataclasses.field(default_factory=dict)  # {model as given: its .weights file}; else random ones
    pipeline: bool = False  # time the whole detection pipeline (bench/pipeline.py) instead of the forward pass
    data: str | None = None  # bench --data: a .data file or a folder of images for each entry's accuracy

    def __post_init__(self):
        from .backends import registry

        def bad(what):
            raise DarkbenchError(what)
        for field, known in (("backends", registry.names()), ("devices", DEVICES), ("dtypes", DTYPES)):
            values = getattr(self, field)
            if values is None and field == "devices":
                continue
            if not values:
                bad(f"no {field} to run")
            for v in values:
                if v not in known:
                    bad(f"unknown {field[:-1]} {v!r} (choose from {', '.join(known)})")
        for b in self.batches:
            if not _integer(b):
                bad(f"batch {b!r}: batches are integers")
            if b < 1:
                bad(f"batch {b}: batches are >= 1")
        for name in ("threads", "max_batch"):
            v = getattr(self, name)
            if not _integer(v) or v < 1:
                bad(f"{name} {v!r}: must be an integer >= 1")
        if not 0 <= self.min_time <= self.max_time < math.inf:
            bad(f"min_time {self.min_time} / max_time {self.max_time}: need 0 <= min_time <= max_time, both finite "
                "(seconds)")
        if not 0 < self.ci < 100:
            bad(f"ci {self.ci}: the CI target is a percentage of the median between 0 and 100")
        for name in ("width", "height"):
            v = getattr(self, name)
            if v is not None and (not _integer(v) or v < 1):
                bad(f"{name} {v!r}: must be an integer >= 1")
        if self.sizes is not None:
            if self.width is not None or self.height is not None:
                bad("sizes replace width and height: give one or the other")
            if not self.sizes or not all(len(s) == 2 and all(_integer(v) and v >= 1 for v in s) for s in self.sizes):
                bad(f"sizes {self.sizes!r}: a list of (width, height), each >= 1")
        if self.calib is not None:
            if not any(vocabulary.DTYPES[d].quantized for d in self.dtypes):
                bad(f"calib {self.calib}: only a quantized dtype calibrates (dtypes: {', '.join(self.dtypes)})")
            from .precision import calibration_images
            calibration_images(self.calib)  # bad images or lists said now, before any work
        if self.pipeline and (self.auto_batch or self.batches != [1] or self.layers):
            bad("pipeline: the detection pipeline takes one image at a time (batch 1; no --batch auto, no --layers)")
        if self.data is not None:
            if self.pipeline:
                bad("data: the accuracy is measured beside the forward pass, not --pipeline (its images are "
                    "darknet's samples)")
            from .accuracy import load
            load(self.data)  # a missing file, a list naming missing images, an empty folder: said now
        for name, path in self.weights.items():
            if name not in self.models:
                bad(f"weights for {name!r}, which is not among the models ({', '.join(map(str, self.models))})")
            if not os.path.isfile(path):
                raise DarkbenchError("no such weights file", path)
        declared = {o.name: (b, o) for b, o in registry.options()}
        for name, value in self.options.items():
            if name not in declared:
                bad(f"unknown backend option {name!r} (the backends' options: {', '.join(declared) or 'none'})")
            backend, opt = declared[name]
            shown = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else value
            if backend not in self.backends:
                bad(f"{name} {shown}: needs the {backend} backend, which the run leaves out "
                    f"(backends: {', '.join(self.backends)})")
            try:
                opt.check(value)
            except ValueError as e:
                bad(f"{name} {shown}: {e}")

    @property
    def target(self):
        """ci as a fraction of the median."""
        return self.ci / 100


def _integer(v):
    return isinstance(v, int) and not isinstance(v, bool)
