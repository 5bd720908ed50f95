"""Orchestration: every group of a run prepared through its backends, measured interleaved, recorded.

One group = one device and dtype: every model x backend x batch of the run is prepared, then measured
round-robin (A B C A B C ...) so drift and neighbours hit all alike: latencies across backends and images/s
across batch sizes are compared within the same rounds (--batch auto, which decides the next batch from the
last one, measures a group per batch). Results are written atomically as
each one is final, so an interrupted run keeps everything finished."""
import dataclasses
import importlib
import itertools
import json
import os
import shutil
import tempfile

from .. import files, models
from ..errors import DarkbenchError
from . import agreement, batching, memory, stats
from .backends import Case, Skip
from .env import environment, loadavg, sha256
from .measure import balance, interleaved, timer, warm_up
from .record import Record, reason
from .registry import REGISTRY


def write_atomic(path, data):
    """The results so far, replacing the run's file as a whole (a reader never sees half of it)."""
    d = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(d, exist_ok=True)
    except OSError as e:
        raise DarkbenchError(f"cannot create the directory {d}: {e.strerror or e}", path) from None
    with files.replacing(path, overwrite=True, suffix=".json") as tmp, open(tmp, "w") as f:
        json.dump(data, f, indent=1)


def _entry(name, path, net, backend, device, dtype, batch, threads, env):
    """A complete result (the shared results contract), measurements still empty."""
    return Record(model=name, path=path, model_sha256=sha256(path) if os.path.isfile(path) else None,
                  backend=backend, device=device, dtype=dtype, batch=batch, threads=threads,
                  input=[net.channels, net.height, net.width] if net else None,
                  ops=net.ops if net else None, macs=net.macs if net else None, params=net.params if net else None,
                  env=env, dialect=getattr(net, "dialect", None))


def _stem(name):
    return os.path.splitext(os.path.basename(os.fspath(name)))[0]


def _random_weights(net, d, i, seed):
    """Plausible random weights shared by every backend of a model (the same numbers everywhere;
    torch's default init shrinks activations layer by layer towards denormals, which time differently)."""
    from .. import weights
    path = os.path.join(d, f"{i}.weights")
    weights.write(path, net, weights.random_arrays(net, seed), for_loading=True)  # read back by the backends
    return path


@dataclasses.dataclass
class _Group:
    """One device and dtype of a run, its batches ((index, batch) pairs), and what its results carry."""
    device: str
    dtype: str
    batches: list
    timed: object
    env: dict
    peak: float | None
    refs: dict = dataclasses.field(default_factory=dict)
    checked: dict = dataclasses.field(default_factory=dict)


def run(config, log=print, on_progress=None):
    """Every group of config measured; the Records in the order of the command line (devices, batches,
    dtypes, models, backends), also written to config.out_path as they are final."""
    from .env import set_wait_policy, strict_fp32
    spin, policy = set_wait_policy(config.spin)  # before torch is imported, when it is not yet
    config = dataclasses.replace(config, spin=spin)
    import torch
    torch.set_num_threads(config.threads)
    strict_fp32()
    chosen = {b: REGISTRY[b](config) for b in config.backends}
    results, order, peaks = [], {}, {}

    def ordered():
        return sorted(results, key=lambda e: order[id(e)])

    def save():
        if config.out_path:
            write_atomic(config.out_path, [r.to_json() for r in ordered()])

    def add(e, key):
        order[id(e)] = key
        results.append(e)
        save()
        log(e)

    bi = {b: i for i, b in enumerate(config.backends)}
    for di, device in enumerate(config.devices):
        if device == "cuda" and torch.cuda.is_available():
            torch.backends.cudnn.benchmark = config.cudnn_benchmark
            torch.backends.cuda.matmul.allow_tf32 = config.tf32  # off: "fp32" means fp32, not TF32
            torch.backends.cudnn.allow_tf32 = config.tf32
        env = dict(environment(device), omp_wait_policy=policy, ort_spinning=spin)
        timed = timer(device)
        tmp = tempfile.mkdtemp(prefix="darkbench-bench-")
        refs = {}  # the reference outputs of each model (bench/agreement.py)
        try:
            nets = []
            for mi, name in enumerate(config.models):
                try:
                    path = models.resolve(name)
                    net = models.analyse(path, config.width, config.height)
                    nets.append((mi, path, net,
                                 _random_weights(net, tmp, mi, config.seed) if net.supports_weights else None))
                except DarkbenchError as e:
                    bad = _entry(_stem(name), os.fspath(name), None, None, device, None, None, config.threads, env)
                    bad.error = str(e)
                    add(bad, (di, -1, -1, mi, -1))
            checked = {}  # (model, backend, dtype) -> agreement fields, checked at its first batch
            active = {d: {(mi, b) for mi, *_ in nets for b in chosen} for d in config.dtypes}  # --batch auto
            last = {}  # --batch auto: (dtype, model, backend) -> the Record at the previous batch
            for step in itertools.count():
                if config.auto_batch:
                    batches = [(step, 2 ** step)]
                    if not any(active.values()):
                        break
                elif step == 0:
                    batches = list(enumerate(config.batches))  # one group: every batch interleaved
                else:
                    break
                for dj, dtype in enumerate(config.dtypes):
                    if config.auto_batch and not active[dtype]:
                        continue
                    genv = dict(env, loadavg=loadavg())  # before the GEMM peak loads the CPU
                    key = (device, dtype)
                    if key not in peaks:
                        wants = any(b.torch for b in chosen.values())
                        ok = device == "cpu" or torch.cuda.is_available()
                        peaks[key] = gemm_peak(device, dtype) if wants and ok and key != ("cpu", "fp16") else None
                    group = _Group(device, dtype, batches, timed, genv, peaks[key], refs, checked)
                    done = _measure_group(config, chosen, nets, group, on_progress,
                                          lambda e, mi, b, bj: add(e, (di, bj, dj, mi, bi[b])), save,
                                          only=active[dtype] if config.auto_batch else None)
                    if config.auto_batch:
                        _next_batch(config, nets, dtype, done, active, last)
                        save()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return ordered()


def _prepare(backend, case, group, e):
    """The backend's runner for this case, timed once and warmed up; its first call and notes in e."""
    base = memory.allocated(group.device)
    for m in backend.modules:  # loaded once per process: library code is not this model's memory
        try:
            importlib.import_module(m)
        except ImportError:
            pass
    memory.free(group.device)
    rss = memory.rss_reset()
    r = backend.prepare(case, group.timed)
    try:
        e.prepare_rss_mib = memory.rss_peak_since(rss)
        ran = memory.rss_reset() if rss is not None else None  # high-water mark from here: running only
        e.first_ms = r.first_ms if r.first_ms is not None else group.timed(r)
        r.estimate_ms = group.timed(r) if r.measure else warm_up(r, group.timed)
        e.peak_rss_mib = memory.rss_peak_since(rss) if ran is not None else None  # above the pre-prepare size
        e.rss_base_mib = rss / memory.MIB if rss is not None else None
        if r.child_rss:  # a separate program ran it (darknet): that process's own peak
            e.peak_rss_mib, e.prepare_rss_mib, e.rss_base_mib = max(r.child_rss) / memory.MIB, None, None
    except BaseException:
        r.close()
        raise
    r.resident_bytes = memory.allocated(group.device) - base
    e.compile_s, e.note = r.compile_s, r.note
    e.update(r.extra)
    return r


def _agreement(r, case, group, key):
    """The entry's agreement fields: checked at the first batch this model/backend/dtype is prepared at,
    the same fields (naming that batch) after."""
    if key not in group.checked:
        try:
            group.checked[key] = agreement.check(r, case, group.refs)
        except Exception as ex:  # noqa: BLE001 - the timing stands; say why there is no check
            group.checked[key] = dict(agreement=f"not checked: {reason(ex, case.batch)}")
        memory.free(group.device)
    return group.checked[key]


def _measure_group(config, chosen, nets, group, on_progress, add, save, only=None):
    """Prepare and measure every batch x model x backend of the group (only the (model, backend) pairs in
    `only` when given); returns every entry made, by (model index, backend, batch index)."""
    runners, entries, made = {}, {}, {}
    try:
        for bj, batch in group.batches:
            for mi, path, net, wfile in nets:
                case = Case(path, group.device, group.dtype, batch, config.width, config.height, config.threads,
                            wfile)
                for b, backend in chosen.items():
                    if only is not None and (mi, b) not in only:
                        continue
                    e = _entry(net.name, path, net, b, group.device, group.dtype, batch, config.threads, group.env)
                    e.peak_gflops = group.peak
                    e.weights = backend.weights_note(case)
                    est = backend.estimated_bytes(net, batch)
                    e.estimated_mib = est / memory.MIB if est is not None else None
                    k = (mi, b, bj)
                    made[k] = e
                    try:
                        runners[k] = r = _prepare(backend, case, group, e)
                        entries[k] = e
                        e.update(_agreement(r, case, group, (mi, b, group.device, group.dtype)))
                    except Skip as s:
                        e.skipped = str(s)
                        add(e, *k)
                    except Exception as ex:  # noqa: BLE001 - recorded, the run goes on
                        e.error = reason(ex, batch)
                        memory.free(group.device)
                        add(e, *k)
        if not runners:
            return made
        samples, errors = {}, {}
        try:
            interleaved(runners, group.timed, config.min_time, config.max_time, config.target, progress=on_progress,
                        reps=balance({k: r.estimate_ms for k, r in runners.items()}), errors=errors,
                        samples=samples, rebalance=True)
        except KeyboardInterrupt:
            for k, e in entries.items():
                if samples.get(k):
                    e.update(dict(stats.summarize(samples[k]), samples_ms=[round(v, 5) for v in samples[k]]))
                e.error = f"interrupted after {len(samples.get(k) or [])} samples"
                add(e, *k)
            raise
        for k, e in entries.items():
            if k in errors:
                e.error = reason(errors[k], e.batch)
            if samples.get(k) and k not in errors:
                e.update(stats.summarize(samples[k]))
                e.samples_ms = [round(v, 5) for v in samples[k]]
                e.images_per_s, e.images_per_s_ci95 = batching.images_per_s(e.batch, e.median_ms, e.ci95_ms)
                if group.device == "cuda" and runners[k].events:
                    e.peak_mem_mb = memory.peak_mem_mb(runners[k])
        for k, e in entries.items():
            add(e, *k)
        for r in runners.values():  # free the group's models before per-layer timing loads its own
            r.close()
        runners.clear()
        memory.free(group.device)
        if config.layers:
            _layers(config, chosen, nets, entries, group)
            save()
        return made
    finally:
        for r in runners.values():
            r.close()
        runners.clear()
        memory.free(group.device)


def _next_batch(config, nets, dtype, done, active, last):
    """--batch auto: drop from `active` each (model, backend) of this dtype whose throughput stopped rising
    (or that ran out of room), naming why in its entry's batch_stop."""
    byindex = {mi: net for mi, _, net, _ in nets}
    for (mi, b, _), e in done.items():
        prev = last.get((dtype, mi, b))
        why = batching.stop_reason(prev, e, byindex[mi], config.max_batch)
        last[(dtype, mi, b)] = e
        if why:
            active[dtype].discard((mi, b))
            e.batch_stop = why


def _layers(config, chosen, nets, entries, group):
    from .layers import per_layer
    timing = [b for b in REGISTRY if b in chosen and chosen[b].layers is not None]  # registry order: eager first
    for bj, batch in group.batches:
        for mi, path, net, wfile in nets:
            e = next((entries[(mi, b, bj)] for b in timing if (mi, b, bj) in entries), None)
            if e is None or e.error or not e.samples:
                continue
            if not net.has_darknet_layers:  # its layers are not darknet's: no per-layer table to join
                e.note += "; per-layer timing: darknet cfgs only"
                continue
            try:
                e.layers = per_layer(path, group.device, group.dtype, batch, group.timed, config.width,
                                     config.height, wfile, fuse=chosen[e.backend].layers, peak_gflops=group.peak)
            except Exception as ex:  # noqa: BLE001 - the whole-network result stands
                e.note += f"; per-layer timing failed: {reason(ex, batch)}"
            memory.free(group.device)


def gemm_peak(device, dtype):
    from .peak import gemm_peak as peak
    try:
        return peak(device, dtype)
    except Exception:  # noqa: BLE001 - a missing roof is not fatal
        return None
