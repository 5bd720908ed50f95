"""Orchestration: every group of a run prepared through its backends, measured interleaved, recorded.

Each model is analysed once (per input size of a sweep) into a bench Model that every backend, the agreement
check and per-layer timing take. One group = one device: every dtype x model x backend x batch of the run is
prepared, then measured round-robin (A B C A B C ...) so drift and neighbours hit all alike: latencies across
backends, images/s across batch sizes and a reduced precision's speed-up over its backend's fp32 are compared
within the same rounds (--batch auto, which decides the next batch from the last one, measures a group per
batch). Results are written atomically as each one is final, so an interrupted run keeps everything finished."""
import dataclasses
import importlib
import itertools
import json
import os
import shutil
import tempfile

from .. import files
from ..errors import DarkbenchError
from . import accuracy, agreement, batching, memory, stats
from .backends import registry
from .backends.base import Case, Skip, weights_fields
from .env import environment, loadavg, sha256
from .measure import balance, interleaved, timer, warm_up
from .model import Model
from .record import Record, reason


def write_atomic(path, data):
    """The results so far, replacing the run's file as a whole (a reader never sees half of it)."""
    d = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(d, exist_ok=True)
    except OSError as e:
        raise DarkbenchError(f"cannot create the directory {d}: {e.strerror or e}", path) from None
    with files.replacing(path, overwrite=True, suffix=".json") as tmp, open(tmp, "w") as f:
        json.dump(data, f, indent=1)


def _entry(model, name, backend, device, dtype, batch, threads, env):
    """A complete result (the shared results contract) of a Model and the backend `name`, measurements still
    empty."""
    net = model.net
    return Record(model=model.name, path=model.path, model_sha256=model.sha256, backend=name,
                  device=device, dtype=dtype, batch=batch, threads=threads,
                  input=[net.channels, net.height, net.width], ops=net.ops, macs=net.macs, params=net.params,
                  env=env, dialect=model.dialect, traits=backend.traits.to_json())


def _failed(name, device, threads, env, error):
    """The result of a model that could not be analysed."""
    path = os.fspath(name)
    return Record(model=_stem(name), path=path, model_sha256=sha256(path) if os.path.isfile(path) else None,
                  device=device, threads=threads, env=env, error=str(error))


def _stem(name):
    return os.path.splitext(os.path.basename(os.fspath(name)))[0]


def _random_weights(net, path, seed):
    """Plausible random weights shared by every backend of a model (the same numbers everywhere;
    torch's default init shrinks activations layer by layer towards denormals, which time differently)."""
    from .. import weights
    weights.write(path, net, weights.random_arrays(net, seed), for_loading=True)  # read back by the backends
    return path


def model_for(config, name, width, height, spare):
    """The model `name` analysed at this size with the weights every backend shares: the file given for it
    (config.weights: bench --weights), else random ones written to `spare`."""
    given = config.weights.get(name)
    m = Model.analyse(name, width, height, weights=given)
    if given is not None:
        if not m.net.supports_weights:
            raise DarkbenchError(f"{m.net.kind} models take no .weights file ({given})", m.path)
        from .. import weights
        weights.read(given, m.net)  # a file that does not fit is refused once, here, not by every backend
    elif m.net.supports_weights:
        m.weights = _random_weights(m.net, spare, config.seed)
    return m


@dataclasses.dataclass
class _Group:
    """One device of a run, its dtypes and batches ((index, value) pairs), and what its results carry (peaks: the
    GEMM peak by dtype)."""
    device: str
    dtypes: list
    batches: list
    timed: object
    env: dict
    peaks: dict
    refs: dict = dataclasses.field(default_factory=dict)
    checked: dict = dataclasses.field(default_factory=dict)
    tasks: dict = dataclasses.field(default_factory=dict)  # bench --data: the accuracy Task of each model index
    scored: dict = dataclasses.field(default_factory=dict)  # (model, backend, device, dtype) -> accuracy fields, boots


def start(config):
    """The process set up for a run (threads' waiting, torch's threads and fp32 math); (config with the waiting
    decided, the devices to run, each device's environment for the results)."""
    from .env import set_wait_policy, strict_fp32
    spin, policy = set_wait_policy(config.spin)  # before torch is imported (the command leaves it to us)
    config = dataclasses.replace(config, spin=spin)
    import torch
    torch.set_num_threads(config.threads)
    strict_fp32()
    devices = config.devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    if "cuda" in devices and torch.cuda.is_available():
        torch.backends.cudnn.benchmark = config.cudnn_benchmark
        torch.backends.cuda.matmul.allow_tf32 = config.tf32  # off: "fp32" means fp32, not TF32
        torch.backends.cudnn.allow_tf32 = config.tf32
    return config, devices, {d: dict(environment(d), omp_wait_policy=policy, ort_spinning=spin) for d in devices}


def run(config, log=print, on_progress=None, on_refused=None, on_plan=None):
    """Every group of config measured; the Records in the order of the command line (sizes, devices, batches,
    dtypes, models, backends), also written to config.out_path as they are final.

    on_refused(name, (width, height), error): a model that cannot take a size of a sweep (config.sizes), else
    an error result; on_plan(n): how many results the run makes (per batch, for auto_batch), once known."""
    config, devices, envs = start(config)
    import torch
    sizes = config.sizes or [(config.width, config.height)]
    if on_plan:
        on_plan(len(sizes) * len(devices) * len(config.models) * len(config.batches) * len(config.dtypes)
                * len(config.backends))
    chosen = {b: registry.get(b)(config) for b in config.backends}
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
    tmp = tempfile.mkdtemp(prefix="darkbench-bench-")
    try:
        for si, (width, height) in enumerate(sizes):
            loaded = []  # (model index, Model): each analysed once, here
            for mi, name in enumerate(config.models):
                try:
                    m = model_for(config, name, width, height, os.path.join(tmp, f"{si}-{mi}.weights"))
                except DarkbenchError as e:
                    if config.sizes and on_refused:
                        on_refused(name, (width, height), e)
                        continue
                    for di, device in enumerate(devices):
                        add(_failed(name, device, config.threads, envs[device], e), (si, di, -1, -1, mi, -1))
                    continue
                loaded.append((mi, m))
            data = accuracy.load(config.data) if config.data else None
            tasks = {mi: accuracy.task(data, m) for mi, m in loaded} if data else {}  # refused before measuring
            refs = {}  # the reference outputs of each model (bench/agreement.py), for every device
            for di, device in enumerate(devices):
                timed = timer(device)
                checked = {}  # (model, backend, dtype) -> agreement fields, checked at its first batch
                scored = {}  # the same for bench --data's accuracy
                # --batch auto: the (dtype index, model, backend) still doubling
                active = {(dj, mi, b) for dj in range(len(config.dtypes)) for mi, _ in loaded for b in chosen}
                last = {}  # --batch auto: (dtype index, model, backend) -> the Record at the previous batch
                for step in itertools.count():
                    if config.auto_batch:
                        batches = [(step, 2 ** step)]
                        if not active:
                            break
                    elif step == 0:
                        batches = list(enumerate(config.batches))  # one group: every batch interleaved
                    else:
                        break
                    dtypes = [(dj, d) for dj, d in enumerate(config.dtypes)
                              if not config.auto_batch or any(a[0] == dj for a in active)]
                    genv = dict(envs[device], loadavg=loadavg())  # before the GEMM peaks load the CPU
                    for _, dtype in dtypes:
                        key = (device, dtype)
                        if key not in peaks:  # for the torch backends that run this dtype here
                            wants = any(b.torch and not b.unsupported(device, dtype, 1) for b in chosen.values())
                            ok = device == "cpu" or torch.cuda.is_available()
                            peaks[key] = gemm_peak(device, dtype) if wants and ok else None
                    group = _Group(device, dtypes, batches, timed, genv, {d: peaks[(device, d)] for _, d in dtypes},
                                   refs, checked, tasks, scored)
                    done = _measure_group(config, chosen, loaded, group, on_progress,
                                          lambda e, mi, b, bj, dj: add(e, (si, di, bj, dj, mi, bi[b])), save,
                                          only=active if config.auto_batch else None)
                    if config.auto_batch:
                        _next_batch(config, loaded, done, active, last)
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
        if backend.traits.process:  # a separate program ran it: that process's own peak
            peak = max(r.child_rss) / memory.MIB if r.child_rss else None
            e.peak_rss_mib, e.prepare_rss_mib, e.rss_base_mib = peak, None, None
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


def _accuracy(e, r, case, group, mi, key):
    """bench --data: the entry's accuracy on the data (scored at the first batch this model/backend/dtype is
    prepared at, the same fields after); where there is none, the note says why."""
    if key not in group.scored:
        try:
            group.scored[key] = accuracy.score(r, case, group.tasks[mi])
        except Exception as ex:  # noqa: BLE001 - the timing stands; say why there is no accuracy
            group.scored[key] = dict(note=f"accuracy: not measured: {reason(ex, case.batch)}"), {}
        memory.free(group.device)
    fields = dict(group.scored[key][0])
    note = fields.pop("note", None)
    if note:
        e.note = f"{e.note}; {note}" if e.note else note
    e.update(fields)


def _accuracy_changes(entries, group):
    """accuracy_change (and its paired CI) of every non-fp32 entry whose backend's fp32 was scored on the data."""
    dtypes = dict(group.dtypes)
    for (mi, b, bj, dj), e in entries.items():
        fp32 = next((entries.get((mi, b, bj, dk)) for dk, d in dtypes.items() if d == "fp32"), None)
        if dtypes[dj] == "fp32" or fp32 is None:
            continue
        mine, theirs = group.scored.get((mi, b, group.device, dtypes[dj])), group.scored.get((mi, b, group.device,
                                                                                                "fp32"))
        if mine and theirs:
            e.update(accuracy.change(e, mine[1], fp32, theirs[1]))


def _measure_group(config, chosen, loaded, group, on_progress, add, save, only=None):
    """Prepare and measure every batch x dtype x model x backend of the group (only the (dtype index, model,
    backend) in `only` when given); returns every entry made, by (model index, backend, batch index, dtype
    index)."""
    runners, entries, made = {}, {}, {}
    try:
        for bj, batch in group.batches:
            for dj, dtype in group.dtypes:
                for mi, model in loaded:
                    case = Case(model, group.device, dtype, batch, config.threads)
                    for b, backend in chosen.items():
                        if only is not None and (dj, mi, b) not in only:
                            continue
                        e = _entry(model, b, backend, group.device, dtype, batch, config.threads, group.env)
                        e.peak_gflops = group.peaks[dtype]
                        e.update(weights_fields(backend, model))
                        est = backend.estimated_bytes(model.net, batch)
                        e.estimated_mib = est / memory.MIB if est is not None else None
                        k = (mi, b, bj, dj)
                        made[k] = e
                        try:
                            why = backend.unsupported(group.device, dtype, batch)
                            if why:
                                raise Skip(why)
                            runners[k] = r = _prepare(backend, case, group, e)
                            entries[k] = e
                            e.update(_agreement(r, case, group, (mi, b, group.device, dtype)))
                            if mi in group.tasks:
                                _accuracy(e, r, case, group, mi, (mi, b, group.device, dtype))
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
        _speedups(entries, dict(group.dtypes))
        _accuracy_changes(entries, group)
        for k, e in entries.items():
            add(e, *k)
        for r in runners.values():  # free the group's models before per-layer timing loads its own
            r.close()
        runners.clear()
        memory.free(group.device)
        if config.layers:
            _layers(chosen, loaded, entries, group)
            save()
        return made
    finally:
        for r in runners.values():
            r.close()
        runners.clear()
        memory.free(group.device)


def _speedups(entries, dtypes):
    """speedup_vs_fp32 (fp32's median / this one's) and its bootstrap CI on every measured non-fp32 entry whose
    backend ran fp32 in the same rounds (entries by (model, backend, batch index, dtype index))."""
    fp32 = {(mi, b, bj): e for (mi, b, bj, dj), e in entries.items() if dtypes[dj] == "fp32" and e.samples_ms
            and not e.error}
    for (mi, b, bj, dj), e in entries.items():
        base = fp32.get((mi, b, bj))
        if dtypes[dj] == "fp32" or base is None or not e.samples_ms or e.error:
            continue
        a, x = base.samples_ms, e.samples_ms
        e.speedup_vs_fp32, e.speedup_vs_fp32_ci95 = stats.ratio_ci(a, x, paired=len(a) == len(x))


def _next_batch(config, loaded, done, active, last):
    """--batch auto: drop from `active` each (dtype, model, backend) whose throughput stopped rising (or that ran
    out of room), naming why in its entry's batch_stop."""
    byindex = dict(loaded)
    for (mi, b, _, dj), e in done.items():
        prev = last.get((dj, mi, b))
        why = batching.stop_reason(prev, e, byindex[mi].net, config.max_batch)
        last[(dj, mi, b)] = e
        if why:
            active.discard((dj, mi, b))
            e.batch_stop = why


def _layers(chosen, loaded, entries, group):
    from .layers import per_layer
    timing = sorted((b for b in chosen if chosen[b].layers is not None),
                    key=lambda b: chosen[b].traits.order)  # the first in registry order (eager before fused)
    for bj, batch in group.batches:
        for dj, dtype in group.dtypes:
            for mi, model in loaded:
                e = next((entries[(mi, b, bj, dj)] for b in timing if (mi, b, bj, dj) in entries), None)
                if e is None or e.error or not e.samples:
                    continue
                if not model.net.has_darknet_layers:  # its layers are not darknet's: no per-layer table to join
                    e.note += "; per-layer timing: darknet cfgs only"
                    continue
                try:
                    e.layers = per_layer(model, group.device, dtype, batch, group.timed,
                                         fuse=chosen[e.backend].layers, peak_gflops=group.peaks[dtype])
                except Exception as ex:  # noqa: BLE001 - the whole-network result stands
                    e.note += f"; per-layer timing failed: {reason(ex, batch)}"
                memory.free(group.device)


def gemm_peak(device, dtype):
    from .peak import gemm_peak as peak
    try:
        return peak(device, dtype)
    except Exception:  # noqa: BLE001 - a missing roof is not fatal
        return None
