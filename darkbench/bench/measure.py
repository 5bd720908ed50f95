"""The measurement method: a timer per device, warm-up until settled, interleaved rounds, the stopping rule.

Every function that waits takes `clock` (seconds, monotonic; time.perf_counter by default) so the stopping
rules can be tested with a fake clock."""
import time

import numpy as np

from . import stats


def timer(device):
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


def warm_up(runner, timed, max_s=3.0, window=5, tol=0.05, clock=time.perf_counter):
    """Run until the medians of two successive windows of calls agree within tol, or max_s has passed
    (checked after every call). Returns the last window's median: the estimate that balances rounds."""
    end, prev = clock() + max_s, None
    while True:
        cur = []
        while len(cur) < window and (not cur or clock() < end):
            cur.append(timed(runner))
        med = float(np.median(cur))
        if (prev is not None and abs(med - prev) <= tol * prev) or clock() >= end:
            return med
        prev = med


def interleaved(runners, timed, min_time, max_time, target=0.02, min_samples=10, progress=None, reps=None,
                errors=None, samples=None, rebalance=False, settle=50.0, clock=time.perf_counter):
    """Round-robin A B C A B C ... so drift hits all alike. Stops when min_time has passed and every
    median's 95% CI half-width is within `target` of it (and min_samples reached), or at max_time
    (checked after each round). reps[k] calls of k per round give fast runners as much time as slow ones;
    rebalance=True recomputes them after each round from the medians so far (warm-up estimates can be off).
    Each runner's block of calls starts with untimed calls for `settle` ms (at least one; 0 = none): the
    runner before it may leave thread pools spinning that take the cores from this one (torch.compile calls
    right after ONNX Runtime run slow for about 40 ms: figures in the README's benchmark section). Blocks keep
    interleaving's protection against drift without timing one backend's leftovers on another.
    A runner that raises is dropped, its exception put in `errors` (re-raised when errors is None).
    `samples` (a dict) is filled in place, so a caller keeps the partial samples on Ctrl-C."""
    samples = {} if samples is None else samples
    for k in runners:
        samples.setdefault(k, [])
    live = dict(runners)
    start = clock()
    while live:
        for k, r in list(live.items()):
            try:
                if settle and len(live) > 1 and getattr(r, "measure", None) is None:
                    end = clock() + settle / 1000
                    r()  # untimed, >= settle ms: the previous runner's spinning threads and caches go first
                    while clock() < end:
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
        elapsed = clock() - start
        done = all(len(samples[k]) >= min_samples and stats.relative_halfwidth(samples[k]) <= target
                   for k in live)
        if elapsed >= max_time or (elapsed >= min_time and done):
            break
    return samples


def balance(estimates, cap=50):
    """Calls per round: the slowest runner once, faster ones about as long in total (at most cap)."""
    slow = max(estimates.values())
    return {k: int(min(cap, max(1, slow / max(v, 1e-6)))) for k, v in estimates.items()}
