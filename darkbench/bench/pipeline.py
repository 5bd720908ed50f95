"""bench --pipeline: the whole detection pipeline timed in stages, per model, backend and dtype.

One sample is one pass over a fixed list of images (images(): darknet's sample pictures by default), each image
taken from its file to its detections and every stage stamped with the run's clock inside that pass, so the
stages and the end to end come from the same runs (their sum per pass is the pass's time: backends/passes.py).
Figures are ms per image (a pass's time / its images). darkbench's own pipeline: decode the file, letterbox or
resize (darkbench.detect.prepare), forward on the backend (its prepared runner's outputs read as the heads', as
bench/heads.py does), the heads' boxes (detect.head_rows), NMS (detect.suppressed): what darkbench.detect runs.
A backend with a pipeline of its own (Backend.pipeline: OpenCV's DetectionModel, darknet's detector loop) is
timed in the stages it can be split into. Passes interleave across backends (A B A B ...) as the forward-pass
benchmark's do (bench/measure.py), and stop by its rule. Cold start, per backend: load (the model's analysis,
weights and building), compile/export, the first image, and the steady state (the end-to-end median)."""
import dataclasses
import glob
import os
import shutil
import tempfile
import time

import numpy as np

from .. import detect
from ..errors import DarkbenchError
from ..image import load_color
from . import memory, stats
from .backends import registry
from .backends.base import Case, Skip, given_note
from .backends.passes import Stamps
from .heads import BackendEngine
from .measure import interleaved, warm_up
from .model import Model
from .record import reason
from .runner import _entry, _failed, model_for, start, write_atomic
from .stages import DARKBENCH

SAMPLES = "/usr/share/darknet/data"  # darknet's sample pictures (dog.jpg, horses.jpg, ...)
NMS = .45  # both darknets' detectors
CLOCK = time.perf_counter  # the run's clock (seconds, monotonic) unless run() is given one: a test sets a fake


def images(spec=None):
    """The images a pass goes through, in order: spec None: darknet's sample pictures (SAMPLES/*.jpg), a
    directory: its .jpg/.jpeg/.png files, a list: those paths. The one place a pipeline run's images come from."""
    if spec is None:
        found = sorted(glob.glob(os.path.join(SAMPLES, "*.jpg")))
        if not found:
            raise DarkbenchError(f"no images for the pipeline: darknet's sample pictures ({SAMPLES}/*.jpg) are not "
                                 "here (apt-get install darknet)")
        return found
    if isinstance(spec, (str, os.PathLike)):
        if not os.path.isdir(spec):
            raise DarkbenchError("not a directory of images", spec)
        found = sorted(os.path.join(spec, f) for f in os.listdir(spec)
                       if f.lower().endswith((".jpg", ".jpeg", ".png")))
        if not found:
            raise DarkbenchError("no .jpg/.jpeg/.png images in the directory", spec)
        return found
    found = [os.fspath(p) for p in spec]
    missing = [p for p in found if not os.path.isfile(p)]
    if missing or not found:
        raise DarkbenchError("no such image" if missing else "no images for the pipeline",
                             missing[0] if missing else None)
    return found


@dataclasses.dataclass(eq=False)
class _Counted(Model):
    """A Model whose builds (reading the weights, building the torch module) are timed: a backend's load, apart
    from what it does with the module (compile, export)."""
    clock: object = time.perf_counter
    built_s: float = 0.0

    def build(self, fuse=False):
        t = self.clock()
        try:
            return super().build(fuse)
        finally:
            self.built_s += self.clock() - t


def darkbench_image(engine, net, path, stamps, thresh, nms=NMS):
    """One image through darkbench's pipeline on an engine (bench/heads.py's BackendEngine, or detect.Engine),
    each stage stamped: the same calls darkbench.detect makes. Returns its Detections."""
    im = load_color(path)
    stamps.stamp("decode")
    p = detect.prepare(net, im)
    stamps.stamp("prepare")
    outs = {i: y[0] for i, y in engine(p.x[None]).items()}
    stamps.stamp("forward")
    rows = detect.head_rows(net, outs, p, thresh)
    stamps.stamp("boxes")
    dets = detect.suppressed(rows, nms)
    stamps.stamp("nms")
    return dets


def _darkbench(name, backend, case, timed, thresh, clock):
    """darkbench's pipeline around the backend's prepared runner (passes.Pipeline)."""
    from .backends.passes import Pipeline
    model = case.model
    t = clock()
    runner = backend.prepare(case, timed)
    prepare_s = clock() - t
    try:
        engine = BackendEngine.around(name, model.net, runner, batch=1)
    except BaseException:
        runner.close()
        raise
    net = model.net
    compile_s = runner.compile_s if runner.compile_s is not None else max(prepare_s - model.built_s, 0.0)
    return Pipeline(lambda path, st: darkbench_image(engine, net, path, st, thresh), dict(DARKBENCH),
                    note=runner.note, load_s=model.built_s, compile_s=compile_s, prepare_s=prepare_s,
                    cleanup=engine.close, extra=dict(runner.extra))


class _Entry:
    """A prepared pipeline as interleaved() runs it: a call (untimed, to settle between backends) runs its first
    image; `one_pass` (timed) a whole pass, keeping the stage times of each pass it completes."""

    def __init__(self, pipe, paths, clock):
        self.pipe, self.paths, self.clock = pipe, paths, clock
        self.stage_samples = []  # per completed pass: {stage: ms per image}
        # a program of its own has nothing here to settle: interleaved() settles only runners without `measure`
        self.measure = (lambda: None) if pipe.process else None

    def __call__(self):
        self.pipe.image(self.paths[0], Stamps(self.clock))

    def run_pass(self):
        st = Stamps(self.clock)
        for p in self.paths:
            self.pipe.image(p, st)
        return st


def _pass_ms(e):
    """A pass's ms per image (warm-up: nothing kept)."""
    return e.run_pass().total() / len(e.paths)


def _recorded_ms(e):
    """A pass's ms per image, its stages kept (interleaved's samples are the end to end of the same passes)."""
    st = e.run_pass()
    n = len(e.paths)
    e.stage_samples.append({k: v / n for k, v in st.ms.items()})
    return st.total() / n


def _prepared(name, backend, case, timed, thresh, clock, analyse_s):
    """A backend's pipeline for the case, its own or darkbench's around its runner; Skip when there is neither."""
    why = backend.unsupported(case.device, case.dtype, 1)
    if why:
        raise Skip(why)
    pipe = backend.pipeline(case, thresh, NMS, clock)
    if pipe is None:
        if not backend.gives_outputs:
            raise Skip(f"the {name} backend gives no outputs and has no pipeline of its own")
        pipe = _darkbench(name, backend, case, timed, thresh, clock)
        pipe.load_s += analyse_s  # darkbench's analysis of the cfg is part of its load
    return pipe


def _detects(net):
    """Why the network cannot be run as a detector (None when it can)."""
    if net.kind != "darknet":
        return f"{net.kind} models have no detection heads"
    try:
        detect.heads(net)
    except DarkbenchError as e:
        return e.message
    return None


def run(config, log=print, on_progress=None, clock=None, paths=None, on_plan=None):
    """Every model x dtype x backend of config timed as a detection pipeline over `paths` (images() by default),
    interleaved per device (and size of a sweep); the Records, also written to config.out_path as they are
    final. clock: seconds, monotonic (default CLOCK)."""
    clock = clock or CLOCK
    paths = images(paths)
    config, devices, envs = start(config)
    sizes = config.sizes or [(config.width, config.height)]
    chosen = {b: registry.get(b)(config) for b in config.backends}
    if on_plan:
        on_plan(len(sizes) * len(devices) * len(config.models) * len(config.dtypes) * len(chosen))
    results, order = [], {}

    def add(e, key):
        order[id(e)] = key
        results.append(e)
        if config.out_path:
            write_atomic(config.out_path, [r.to_json() for r in sorted(results, key=lambda r: order[id(r)])])
        log(e)

    tmp = tempfile.mkdtemp(prefix="darkbench-pipeline-")
    try:
        for si, (width, height) in enumerate(sizes):
            loaded = []  # (model index, Model, seconds its analysis and weights took)
            for mi, name in enumerate(config.models):
                t = clock()
                try:
                    m = model_for(config, name, width, height, os.path.join(tmp, f"{si}-{mi}.weights"))
                except DarkbenchError as e:
                    for di, device in enumerate(devices):
                        add(_failed(name, device, config.threads, envs[device], e), (si, di, mi, -1, -1))
                    continue
                loaded.append((mi, m, clock() - t))
            for di, device in enumerate(devices):
                _group(config, chosen, loaded, device, envs[device], paths, clock, on_progress,
                       lambda e, mi, dj, bi: add(e, (si, di, mi, dj, bi)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return sorted(results, key=lambda r: order[id(r)])


def _group(config, chosen, loaded, device, env, paths, clock, on_progress, add):
    """Prepare every model x dtype x backend on the device, time each one's first image, warm it up, then
    interleave their passes; each result added once final."""
    from .measure import timer
    timed = timer(device)
    entries, made = {}, {}
    names = [os.path.basename(p) for p in paths]
    try:
        for mi, model, analyse_s in loaded:
            why = _detects(model.net)
            for dj, dtype in enumerate(config.dtypes):
                for bi, (b, backend) in enumerate(chosen.items()):
                    e = _entry(model, b, backend, device, dtype, 1, config.threads, env)
                    e.pipeline_images = names
                    e.weights = (given_note(model) if model.weights_given else
                                 "random (weights.random_arrays), one file for every backend")
                    e.weights_sha256 = model.weights_sha256
                    k = (mi, dj, bi)
                    made[k] = e
                    counted = _Counted(**{f.name: getattr(model, f.name) for f in dataclasses.fields(Model)},
                                       clock=clock)
                    case = Case(counted, device, dtype, 1, config.threads)
                    thresh = detect.THRESH[model.dialect] if model.dialect else .5
                    try:
                        if why:
                            raise Skip(why)
                        pipe = _prepared(b, backend, case, timed, thresh, clock, analyse_s)
                    except Skip as s:
                        e.skipped = f"pipeline: {s}"
                        add(e, *k)
                        continue
                    except Exception as ex:  # noqa: BLE001 - recorded, the run goes on
                        e.error = f"pipeline: {reason(ex)}"
                        memory.free(device)
                        add(e, *k)
                        continue
                    entries[k] = _Entry(pipe, paths, clock)
                    try:
                        _cold(entries[k], e, thresh)
                    except Exception as ex:  # noqa: BLE001
                        entries.pop(k).pipe.close()
                        e.error = f"pipeline: {reason(ex)}"
                        add(e, *k)
        if not entries:
            return
        samples, errors = {}, {}
        try:
            interleaved(entries, _recorded_ms, config.min_time, config.max_time, config.target, progress=on_progress,
                        errors=errors, samples=samples, clock=clock)
        except KeyboardInterrupt:
            for k, en in entries.items():
                _finish(made[k], en, samples.get(k) or [])
                made[k].error = f"interrupted after {len(samples.get(k) or [])} passes"
                add(made[k], *k)
            raise
        for k, en in entries.items():
            if k in errors:
                made[k].error = f"pipeline: {reason(errors[k])}"
            else:
                _finish(made[k], en, samples[k])
            add(made[k], *k)
    finally:
        for en in entries.values():
            en.pipe.close()
        memory.free(device)


def _cold(en, e, thresh):
    """The first image timed alone (cold), then warm-up passes (not for a program of its own: its passes are
    long and nothing of it warms here); the cold start fields so far and the entry's note."""
    st = Stamps(en.clock)
    en.pipe.image(en.paths[0], st)
    pipe = en.pipe
    e.cold_start = dict(load_s=pipe.load_s, compile_s=pipe.compile_s, first_ms=st.total(), prepare_s=pipe.prepare_s)
    if not pipe.process:
        warm_up(en, _pass_ms, clock=en.clock)
    e.note = (f"pipeline over {len(en.paths)} images, thresh {thresh:g}, nms {NMS:g}"
              + (f"; {pipe.note}" if pipe.note else ""))
    e.update(pipe.extra)


def _finish(e, en, ends):
    """The entry's stages and end to end from the passes (the same passes: interleaved's samples and ours)."""
    kept = en.stage_samples[:len(ends)]
    if not ends:
        return
    e.samples = len(ends)
    e.pipeline_samples_ms = [round(v, 5) for v in ends]
    s = stats.summarize(ends)
    e.pipeline_ms, e.pipeline_ci95_ms = s["median_ms"], s["ci95_ms"]
    e.stages = {}
    for k, what in en.pipe.stages.items():
        v = [p.get(k, 0.0) for p in kept]
        s = stats.summarize(v)
        e.stages[k] = dict(median_ms=s["median_ms"], ci95_ms=s["ci95_ms"], samples_ms=[round(x, 5) for x in v],
                           what=what)
    e.cold_start = dict(e.cold_start or {}, steady_ms=e.pipeline_ms)


def post_share(r):
    """Per pass, darkbench's post-processing (boxes + nms) over the end to end, of a pipeline Record or row:
    (median share, its 95% CI), None without those stages."""
    get = r.get if isinstance(r, dict) else lambda k: getattr(r, k)
    st, ends = get("stages") or {}, get("pipeline_samples_ms") or []
    if "boxes" not in st or "nms" not in st or not ends:
        return None
    share = np.add(st["boxes"]["samples_ms"], st["nms"]["samples_ms"]) / np.asarray(ends)
    ci = stats.median_ci(share) if len(share) >= stats.MIN_CI_SAMPLES else None
    return float(np.median(share)), list(ci) if ci else None
