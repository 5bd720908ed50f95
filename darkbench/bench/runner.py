"""Measuring: warm-up until settled, then interleaved rounds until every median's CI is tight.

One group = one device, batch and dtype: every model x backend of the run is prepared, then measured
round-robin (A B C A B C ...) so drift and neighbours hit all alike. Results are written atomically as
each one is final, so an interrupted run keeps everything finished."""
import gc
import json
import os
import shutil
import tempfile
import time

import numpy as np

from .. import files, models
from ..errors import DarkbenchError
from . import backends, stats
from .env import environment, loadavg, sha256


def _timer(device):
    """ms of one call: CUDA events around torch work on a GPU (synchronised after), perf_counter
    otherwise; a runner with `measure` (darknet) reports its own time."""
    if device == "cuda":
        import torch

    def timed(fn):
        measure = getattr(fn, "measure", None)
        if measure is not None:
            return measure()
        if device == "cuda":
            if getattr(fn, "events", True):
                a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                a.record()
                fn()
                b.record()
                b.synchronize()
                return a.elapsed_time(b)
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        return (time.perf_counter() - t) * 1000
    return timed


def warm_up(runner, timed, max_s=3.0, window=5, tol=0.05):
    """Run until the medians of two successive windows of calls agree within tol, or max_s has passed
    (checked after every call). Returns the last window's median: the estimate that balances rounds."""
    end, prev = time.perf_counter() + max_s, None
    while True:
        cur = []
        while len(cur) < window and (not cur or time.perf_counter() < end):
            cur.append(timed(runner))
        med = float(np.median(cur))
        if (prev is not None and abs(med - prev) <= tol * prev) or time.perf_counter() >= end:
            return med
        prev = med


def interleaved(runners, timed, min_time, max_time, target=0.02, min_samples=10, progress=None, reps=None,
                errors=None, samples=None, rebalance=False, settle=50.0):
    """Round-robin A B C A B C ... so drift hits all alike. Stops when min_time has passed and every
    median's 95% CI half-width is within `target` of it (and min_samples reached), or at max_time
    (checked after each round). reps[k] calls of k per round give fast runners as much time as slow ones;
    rebalance=True recomputes them after each round from the medians so far (warm-up estimates can be off).
    Each runner's block of calls starts with untimed calls for `settle` ms (at least one; 0 = none): the
    runner before it may leave thread pools spinning that take the cores from this one. Measured on tiny.cfg
    (2 threads), torch.compile calls right after ONNX Runtime (which spins by default) took 5, 8, 18, 11,
    7 ms, then 3.0-3.2 from the sixth call on (about 40 ms later); alone, 2.9. Blocks keep interleaving's
    protection against drift without timing one backend's leftovers on another.
    A runner that raises is dropped, its exception put in `errors` (re-raised when errors is None).
    `samples` (a dict) is filled in place, so a caller keeps the partial samples on Ctrl-C."""
    samples = {} if samples is None else samples
    for k in runners:
        samples.setdefault(k, [])
    live = dict(runners)
    start = time.perf_counter()
    while live:
        for k, r in list(live.items()):
            try:
                if settle and len(live) > 1 and getattr(r, "measure", None) is None:
                    end = time.perf_counter() + settle / 1000
                    r()  # untimed, >= settle ms: the previous runner's spinning threads and caches go first
                    while time.perf_counter() < end:
                        r()
                for _ in range((reps or {}).get(k, 1)):
                    samples[k].append(timed(r))
            except Exception as ex:  # noqa: BLE001 - recorded, the others go on
                if errors is None:
                    raise
                errors[k] = ex
                del live[k]
        if progress:
            progress(samples)
        if rebalance and live:
            reps = balance({k: float(np.median(samples[k])) for k in live})
        elapsed = time.perf_counter() - start
        done = all(len(samples[k]) >= min_samples and stats.relative_halfwidth(samples[k]) <= target
                   for k in live)
        if elapsed >= max_time or (elapsed >= min_time and done):
            break
    return samples


def balance(estimates, cap=50):
    """Calls per round: the slowest runner once, faster ones about as long in total (at most cap)."""
    slow = max(estimates.values())
    return {k: int(min(cap, max(1, slow / max(v, 1e-6)))) for k, v in estimates.items()}


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
    """A complete result object (the shared results contract), measurements still empty."""
    return dict(model=name, path=path, model_sha256=sha256(path) if os.path.isfile(path) else None,
                backend=backend, device=device, dtype=dtype, batch=batch, threads=threads,
                input=[net.channels, net.height, net.width] if net else None,
                median_ms=None, mean_ms=None, min_ms=None, iqr_ms=None, p90_ms=None, p99_ms=None, ci95_ms=None,
                samples=0, first_ms=None, compile_s=None, peak_mem_mb=None, error=None, skipped=None, note="",
                ops=net.ops if net else None, macs=net.macs if net else None, params=net.params if net else None,
                layers=None, peak_gflops=None, env=env)


def _stem(name):
    return os.path.splitext(os.path.basename(os.fspath(name)))[0]


def _reason(ex, batch=None):
    text = str(ex).strip().splitlines()
    if "out of memory" in str(ex).lower() and batch is not None:
        return f"out of memory at batch {batch}: {type(ex).__name__}: {text[0] if text else ''}"[:300]
    return f"{type(ex).__name__}: {text[0] if text else ''}"[:300]


def _free(device):
    gc.collect()
    if device == "cuda":
        import torch
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _allocated(device):
    import torch
    return torch.cuda.memory_allocated() if device == "cuda" and torch.cuda.is_available() else 0


def _peak_mem_mb(r):
    """What this runner keeps on the GPU (weights, input) plus the peak of one call above that."""
    import torch
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    r()
    torch.cuda.synchronize()
    return (r.resident + torch.cuda.max_memory_allocated() - before) / 2 ** 20


def _random_weights(net, d, i, seed):
    """Plausible random weights shared by every backend of a model (the same numbers everywhere;
    torch's default init shrinks activations layer by layer towards denormals, which time differently)."""
    from .. import weights
    path = os.path.join(d, f"{i}.weights")
    weights.write(path, net, weights.random_arrays(net, seed), for_loading=True)  # read back by the backends
    return path


def pick_compiled(args, timed, choices, budget):
    """Compile each torch.compile variant, time them briefly side by side, keep the fastest."""
    tried, cands = {}, {}
    for c in choices:
        try:
            r = backends.compiled(*args, choice=c)
            r.first_ms = timed(r)
            warm_up(r, timed, max_s=1.0)
            cands[c] = r
            tried[c] = {"compile_s": round(r.compile_s, 3)}
        except backends.Skip:
            raise
        except Exception as ex:  # noqa: BLE001 - another variant may work
            tried[c] = {"error": _reason(ex)}
            _free(args[1])
    if not cands:
        why = "; ".join(f"{c}: {t['error']}" for c, t in tried.items())
        raise RuntimeError(f"no torch.compile variant worked: {why}")
    best = next(iter(cands))
    if len(cands) > 1:
        s = interleaved(cands, timed, min(1.0, budget), max(1.0, min(3.0, budget)), errors={}, rebalance=True,
                        reps={c: 1 for c in cands})
        for c, v in s.items():
            if v and c in cands:
                tried[c]["median_ms"] = round(float(np.median(v)), 4)
        best = min((c for c in cands if "median_ms" in tried[c]), key=lambda c: tried[c]["median_ms"], default=best)
    for c in list(cands):
        if c != best:
            del cands[c]
    _free(args[1])
    r = cands[best]
    timed_ = ", ".join(f"{c} {t['median_ms']:.3f} ms" if "median_ms" in t else f"{c} failed"
                       for c, t in tried.items())
    r.note = f"torch.compile {best}" + (f" (fastest of {timed_})" if len(tried) > 1 else "")
    r.extra = {"compile_choice": best, "compile_tried": tried}
    return r


def run(model_names, backend_names, devices, batches, dtypes, threads, min_time, max_time, out_path=None,
        width=None, height=None, layers=False, on_progress=None, log=print, compile_choices=None, target=0.02,
        cudnn_benchmark=True, tf32=False, seed=0, spin=None):
    from .env import set_wait_policy, strict_fp32
    spin, policy = set_wait_policy(spin)  # before torch is imported, when it is not yet
    import torch
    torch.set_num_threads(threads)
    strict_fp32()
    results, order, peaks = [], {}, {}

    def ordered():
        return sorted(results, key=lambda e: order[id(e)])

    def save():
        if out_path:
            write_atomic(out_path, ordered())

    def add(e, key):
        order[id(e)] = key
        results.append(e)
        save()
        log(e)

    bi = {b: i for i, b in enumerate(backend_names)}
    for di, device in enumerate(devices):
        if device == "cuda" and torch.cuda.is_available():
            torch.backends.cudnn.benchmark = cudnn_benchmark
            torch.backends.cuda.matmul.allow_tf32 = tf32  # off: "fp32" means fp32, not TF32
            torch.backends.cudnn.allow_tf32 = tf32
        env = dict(environment(device), omp_wait_policy=policy, ort_spinning=spin)
        timed = _timer(device)
        tmp = tempfile.mkdtemp(prefix="darkbench-bench-")
        try:
            nets = []
            for mi, name in enumerate(model_names):
                try:
                    path = models.resolve(name)
                    net = models.analyse(path, width, height)
                    nets.append((mi, path, net, _random_weights(net, tmp, mi, seed) if net.supports_weights else None))
                except DarkbenchError as e:
                    bad = _entry(_stem(name), os.fspath(name), None, None, device, None, None, threads, env)
                    bad["error"] = str(e)
                    add(bad, (di, -1, -1, mi, -1))
            for bj, batch in enumerate(batches):
                for dj, dtype in enumerate(dtypes):
                    genv = dict(env, loadavg=loadavg())
                    key = (device, dtype)
                    if key not in peaks:
                        wants = any(b != "darknet" for b in backend_names)
                        ok = device == "cpu" or torch.cuda.is_available()
                        peaks[key] = gemm_peak(device, dtype) if wants and ok and key != ("cpu", "fp16") else None
                    _group(nets, backend_names, device, dtype, batch, threads, width, height, layers, timed,
                           min_time, max_time, target, compile_choices, genv, peaks[key], on_progress, spin,
                           lambda e, mi, b: add(e, (di, bj, dj, mi, bi[b])), save)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return ordered()


def _group(nets, backend_names, device, dtype, batch, threads, width, height, layers, timed, min_time, max_time,
           target, compile_choices, env, peak, on_progress, spin, add, save):
    runners, entries = {}, {}
    try:
        for mi, path, net, wfile in nets:
            for b in backend_names:
                e = _entry(net.name, path, net, b, device, dtype, batch, threads, env)
                e["peak_gflops"] = peak
                e["weights"] = ("darknet's own initialisation (speed takes no weights)" if b == "darknet" else
                                "random (weights.random_arrays), one file for every backend" if wfile else
                                "the model's own initialisation")
                try:
                    base = _allocated(device)
                    args = (path, device, dtype, batch, width, height, threads, wfile)
                    if b == "compile":
                        choices = compile_choices or backends.COMPILE_DEFAULT[device]
                        r = pick_compiled(args, timed, choices, min_time)
                    elif b == "onnxruntime":
                        r = backends.PREPARE[b](*args, spin=spin)
                    else:
                        r = backends.PREPARE[b](*args)
                    e["first_ms"] = r.first_ms if r.first_ms is not None else timed(r)
                    r.estimate = timed(r) if r.measure else warm_up(r, timed)
                    r.resident = _allocated(device) - base
                    e["compile_s"], e["note"] = r.compile_s, r.note
                    e.update(r.extra)
                    runners[(mi, b)], entries[(mi, b)] = r, e
                except backends.Skip as s:
                    e["skipped"] = str(s)
                    add(e, mi, b)
                except Exception as ex:  # noqa: BLE001 - recorded, the run goes on
                    e["error"] = _reason(ex, batch)
                    _free(device)
                    add(e, mi, b)
        if not runners:
            return
        samples, errors = {}, {}
        try:
            interleaved(runners, timed, min_time, max_time, target, progress=on_progress,
                        reps=balance({k: r.estimate for k, r in runners.items()}), errors=errors, samples=samples,
                        rebalance=True)
        except KeyboardInterrupt:
            for k, e in entries.items():
                if samples.get(k):
                    e.update(stats.summarize(samples[k]), samples_ms=[round(v, 5) for v in samples[k]])
                e["error"] = f"interrupted after {len(samples.get(k) or [])} samples"
                add(e, *k)
            raise
        for k, e in entries.items():
            if k in errors:
                e["error"] = _reason(errors[k], batch)
            if samples.get(k) and k not in errors:
                e.update(stats.summarize(samples[k]))
                e["samples_ms"] = [round(v, 5) for v in samples[k]]
                if device == "cuda" and runners[k].events:
                    e["peak_mem_mb"] = _peak_mem_mb(runners[k])
        for k, e in entries.items():
            add(e, *k)
        for r in runners.values():  # free the group's models before per-layer timing loads its own
            r.close()
        runners.clear()
        _free(device)
        if layers:
            _layers(nets, entries, device, dtype, batch, width, height, timed, peak)
            save()
    finally:
        for r in runners.values():
            r.close()
        runners.clear()
        _free(device)


def _layers(nets, entries, device, dtype, batch, width, height, timed, peak):
    from .layers import per_layer
    for mi, path, net, wfile in nets:
        e = next((entries.get((mi, b)) for b in ("eager", "fused") if entries.get((mi, b))), None)
        if e is None or e["error"] or not e["samples"]:
            continue
        if not net.has_darknet_layers:  # its layers are not darknet's: no per-layer table to join
            e["note"] += "; per-layer timing: darknet cfgs only"
            continue
        try:
            e["layers"] = per_layer(path, device, dtype, batch, timed, width, height, wfile,
                                    fuse=e["backend"] == "fused", peak_gflops=peak)
        except Exception as ex:  # noqa: BLE001 - the whole-network result stands
            e["note"] += f"; per-layer timing failed: {_reason(ex, batch)}"
        _free(device)


def gemm_peak(device, dtype):
    from .peak import gemm_peak as peak
    try:
        return peak(device, dtype)
    except Exception:  # noqa: BLE001 - a missing roof is not fatal
        return None
