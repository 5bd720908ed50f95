"""Measuring: warm-up until settled, then interleaved rounds until every median's CI is tight."""
import json
import math
import os
import tempfile
import time

import numpy as np

from .. import models
from ..errors import DarkbenchError
from . import backends, stats
from .env import environment, sha256


def _timer(device):
    if device == "cuda":
        import torch

        def timed(fn):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            fn()
            b.record()
            b.synchronize()
            return a.elapsed_time(b)
        return timed

    def timed(fn):
        t = time.perf_counter()
        fn()
        return (time.perf_counter() - t) * 1000
    return timed


def warm_up(runner, timed, max_s=3.0):
    """Run until the median of the last 5 calls moves less than 5%, or max_s."""
    end, prev = time.perf_counter() + max_s, None
    while time.perf_counter() < end:
        cur = float(np.median([timed(runner) for _ in range(5)]))
        if prev is not None and abs(cur - prev) <= 0.05 * prev:
            return
        prev = cur


def interleaved(runners, timed, min_time, max_time, target=0.02, min_samples=10, progress=None):
    """Round-robin A B C A B C ... so drift hits all alike; stop when every CI half-width <= target."""
    samples = {k: [] for k in runners}
    start = time.perf_counter()
    while True:
        for k, r in runners.items():
            samples[k].append(timed(r))
        if progress:
            progress()
        elapsed = time.perf_counter() - start
        done = all(len(s) >= min_samples and stats.relative_halfwidth(s) <= target for s in samples.values())
        if elapsed >= max_time or (elapsed >= min_time and done):
            return samples


def per_layer(path, device, width, height, timed, reps=20):
    """Each layer's median time on cached inputs, joined with the analytic FLOPs and bytes."""
    import torch
    import darkbench
    model = darkbench.load(path, width=width, height=height).to(device)
    spec = model.spec
    if not hasattr(spec, "layers") or not hasattr(model, "layer_outputs"):
        raise DarkbenchError("per-layer timing needs a darknet cfg")
    x = torch.rand(1, *model.input_shape, device=device)
    with torch.inference_mode():
        outs = model.layer_outputs(x)
        rows = []
        for i, (layer, l) in enumerate(zip(model.layers, spec.layers)):
            inp = x if i == 0 else outs[i - 1]
            fn = lambda: layer(inp, outs)  # noqa: E731
            for _ in range(3):
                fn()
            ms = float(np.median([timed(fn) for _ in range(reps)]))
            flops = 2 * l.macs
            nbytes = l.bytes_read + l.bytes_written
            rows.append(dict(index=l.index, type=l.type, median_ms=ms, flops=flops, bytes=nbytes,
                             intensity=l.intensity, gflops=flops / ms / 1e6 if ms > 0 else 0.0))
    return rows


def _entry(name, path, net, backend, device, dtype, batch, threads, env):
    return dict(model=name, path=path, model_sha256=sha256(path), backend=backend, device=device, dtype=dtype,
                batch=batch, threads=threads, input=[net.channels, net.height, net.width],
                median_ms=None, mean_ms=None, min_ms=None, iqr_ms=None, p90_ms=None, p99_ms=None, ci95_ms=None,
                samples=0, first_ms=None, compile_s=None, peak_mem_mb=None, error=None, skipped=None, note="",
                ops=net.ops, macs=net.macs, params=net.params, layers=None, peak_gflops=None, env=env)


def write_atomic(path, data):
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".bench-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


def _resized_cfg(path, width, height):
    """darknet speed reads sizes from the cfg: a temporary copy with [net] width/height replaced."""
    lines, in_net = [], False
    for line in open(path).read().splitlines():
        s = "".join(line.split())
        if s.startswith("["):
            if in_net:
                lines += [f"width={width}", f"height={height}"]
            in_net = s in ("[net]", "[network]")
        elif in_net and s.partition("=")[0] in ("width", "height"):
            continue
        lines.append(line)
    fd, tmp = tempfile.mkstemp(suffix=".cfg")
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    return tmp


def run(model_names, backend_names, devices, batches, dtypes, threads, min_time, max_time, out_path=None,
        width=None, height=None, layers=False, on_progress=None, log=print):
    import torch
    torch.set_num_threads(threads)
    results, peaks = [], {}
    save = (lambda: write_atomic(out_path, results)) if out_path else (lambda: None)
    for device in devices:
        env = environment(device)
        timed = _timer(device)
        if device == "cuda":
            torch.backends.cudnn.benchmark = True
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
            env.update(cudnn_benchmark=True, tf32=False)
        for name in model_names:
            try:
                path = models.resolve(name)
                net = models.analyse(path, width, height)
            except DarkbenchError as e:
                results.append(dict(model=name, path=name, backend=None, device=device, error=str(e), env=env))
                save()
                continue
            for batch in batches:
                for dtype in dtypes:
                    key = (device, dtype)
                    if key not in peaks and not (device == "cpu" and dtype == "fp16"):
                        if device == "cpu" or torch.cuda.is_available():
                            peaks[key] = backends_peak(device, dtype)
                    runners, entries = {}, {}
                    for b in backend_names:
                        e = _entry(net.name, path, net, b, device, dtype, batch, threads, env)
                        e["peak_gflops"] = peaks.get(key)
                        entries[b] = e
                        results.append(e)
                        if b == "darknet":
                            continue
                        try:
                            if device == "cuda":
                                torch.cuda.reset_peak_memory_stats()
                            r = backends.PREPARE[b](path, device, dtype, batch, width, height, threads)
                            e["first_ms"] = timed(r)
                            e["compile_s"], e["note"] = r.compile_s, r.note
                            warm_up(r, timed)
                            runners[b] = r
                        except backends.Skip as s:
                            e["skipped"] = str(s)
                        except Exception as ex:  # noqa: BLE001 - recorded, the run goes on
                            e["error"] = _reason(ex)
                    if runners:
                        try:
                            samples = interleaved(runners, timed, min_time, max_time, progress=on_progress)
                        except Exception as ex:  # noqa: BLE001
                            for b in runners:
                                entries[b]["error"] = _reason(ex)
                            samples = {}
                        for b, s in samples.items():
                            entries[b].update(stats.summarize(s))
                            entries[b]["samples_ms"] = [round(v, 5) for v in s]
                            if device == "cuda":
                                entries[b]["peak_mem_mb"] = torch.cuda.max_memory_allocated() / 2 ** 20
                    if "darknet" in entries:
                        _darknet(entries["darknet"], path, device, dtype, batch, width, height, min_time)
                    if layers and "eager" in entries and not entries["eager"]["error"]:
                        try:
                            rows = per_layer(path, device, width, height, timed)
                            peak = peaks.get(key)
                            for r in rows:
                                r["pct_peak"] = 100 * r["gflops"] / peak if peak else None
                            entries["eager"]["layers"] = rows
                        except Exception as ex:  # noqa: BLE001
                            entries["eager"]["note"] += f" per-layer timing failed: {_reason(ex)}"
                    save()
                    for e in entries.values():
                        log(e)
    return results


def backends_peak(device, dtype):
    from .peak import gemm_peak
    try:
        return gemm_peak(device, dtype)
    except Exception:  # noqa: BLE001 - a missing roof is not fatal
        return None


def _darknet(e, path, device, dtype, batch, width, height, budget):
    if device != "cpu" or dtype != "fp32" or batch != 1:
        e["skipped"] = "darknet's `speed` runs batch 1 fp32 on the CPU only"
        return
    if models.is_keras(path):
        e["skipped"] = "darknet cannot run Keras models"
        return
    cfg = _resized_cfg(path, width or e["input"][2], height or e["input"][1]) if (width or height) else path
    try:
        first, mean, n = backends.darknet_speed(cfg, seconds=max(budget, 1.0))
        e.update(first_ms=first, median_ms=mean, mean_ms=mean, samples=n,
                 note=f"darknet speed: mean of {n} evals (darknet reports no per-eval times)")
    except backends.Skip as s:
        e["skipped"] = str(s)
    except Exception as ex:  # noqa: BLE001
        e["error"] = _reason(ex)
    finally:
        if cfg != path:
            os.unlink(cfg)


def _reason(ex):
    text = str(ex).strip().splitlines()
    return f"{type(ex).__name__}: {text[0] if text else ''}"[:300]
