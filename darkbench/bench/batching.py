"""Throughput against batch size: images/s with its CI, and --batch auto's rule for going on.

A fixed --batch list is measured in one group (its batch sizes interleaved in the same rounds). --batch auto
decides each next batch from the last one, so it measures a group per batch: batch 1, 2, 4, ... per model,
backend and dtype, and stops doubling one of them when
its images/s stopped rising beyond the noise (the 95% CI at the new batch does not lie above the CI at the
previous one), when the analytic memory estimate at the next batch would not fit in half the available
memory, at max_batch, or when it failed or was skipped."""
from .. import memory as _memory
from . import memory

MEMORY_SHARE = 0.5  # of MemAvailable, at most, for the next batch's analytic estimate


def images_per_s(batch, median_ms, ci95_ms=None):
    """(images/s, its 95% CI [lo, hi] or None): batch / median, the CI of the median mapped through the same
    decreasing function (exact for a median: order statistics keep their order)."""
    if not median_ms:
        return None, None
    ips = batch * 1000.0 / median_ms
    ci = [batch * 1000.0 / ci95_ms[1], batch * 1000.0 / ci95_ms[0]] if ci95_ms and min(ci95_ms) > 0 else None
    return ips, ci


def stop_reason(prev, cur, net, max_batch, available=None):
    """Why --batch auto stops doubling after the Record `cur` (prev: the same model/backend/dtype at half
    the batch, or None at batch 1); None to go on."""
    if cur.skipped or cur.error or not cur.images_per_s:
        return f"{'skipped' if cur.skipped else 'failed'} at batch {cur.batch}"
    if prev is not None:
        if not (cur.images_per_s_ci95 and prev.images_per_s_ci95):
            return "too few samples for a 95% CI of images/s (a longer --max-time gives more)"
        if cur.images_per_s_ci95[0] <= prev.images_per_s_ci95[1]:
            return (f"images/s at batch {cur.batch} not above batch {prev.batch}'s beyond the noise "
                    "(the 95% CIs overlap)")
    nxt = 2 * cur.batch
    if nxt > max_batch:
        return f"the next batch ({nxt}) is above the largest auto batch ({max_batch})"
    available = _memory.available_memory() if available is None else available
    need = memory.estimated_bytes(net, nxt)
    if available is not None and need > MEMORY_SHARE * available:
        return (f"batch {nxt} would need about {need / 2 ** 30:.1f} GiB (analytic estimate), more than "
                f"{MEMORY_SHARE:.0%} of the {available / 2 ** 30:.1f} GiB available")
    return None
