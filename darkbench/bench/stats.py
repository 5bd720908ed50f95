"""Latency statistics: distribution-free CI of the median, ratios with bootstrap CIs."""
import functools
import math

import numpy as np

Z95 = 1.959964


@functools.lru_cache(maxsize=None)
def _binom_rank(n, alpha=0.05):
    """Largest j with P(Binomial(n, 1/2) < j) <= alpha/2: x_(j) .. x_(n+1-j) (1-based) covers the median."""
    pmf = cdf = 0.5 ** n  # P(B = 0); floats are exact enough for n <= 1000
    j = 0
    while cdf <= alpha / 2:
        pmf *= (n - j) / (j + 1)
        j += 1
        cdf += pmf
    return j


def median_ci(samples, z=Z95):
    """95% CI of the median by order statistics: no distribution assumed.

    Exact binomial ranks up to 1000 samples, the normal approximation above. Below 6 samples no pair of
    order statistics reaches 95% (min..max covers 1 - 2/2**n), so min..max is returned."""
    x = np.sort(np.asarray(samples, dtype=float))
    n = len(x)
    if n < 6:
        return float(x[0]), float(x[-1])
    if n <= 1000:
        j = _binom_rank(n)
        return float(x[j - 1]), float(x[n - j])
    half = z * math.sqrt(n) / 2
    lo = max(0, int(math.floor(n / 2 - half)) - 1)
    hi = min(n - 1, int(math.ceil(n / 2 + half)))
    return float(x[lo]), float(x[hi])


MIN_CI_SAMPLES = 6  # below this no pair of order statistics covers the median with 95%


def summarize(samples_ms):
    """ci95_ms is None below MIN_CI_SAMPLES: min..max would be called a 95% CI while covering less."""
    x = np.asarray(samples_ms, dtype=float)
    ci = list(median_ci(x)) if len(x) >= MIN_CI_SAMPLES else None
    q25, q50, q75, q90, q99 = np.percentile(x, [25, 50, 75, 90, 99])
    return dict(median_ms=float(q50), mean_ms=float(x.mean()), min_ms=float(x.min()), iqr_ms=float(q75 - q25),
                p90_ms=float(q90), p99_ms=float(q99), ci95_ms=ci, samples=int(len(x)))


def relative_halfwidth(samples_ms):
    lo, hi = median_ci(samples_ms)
    med = float(np.median(samples_ms))
    return (hi - lo) / 2 / med if med > 0 else math.inf


def ratio_ci(a_ms, b_ms, n_boot=2000, seed=0, paired=False):
    """median(a) / median(b) with a 95% percentile-bootstrap CI.

    The CI is None when either side has fewer than MIN_CI_SAMPLES samples.
    paired=True resamples rounds (a[i], b[i]) together: right for interleaved samples, where round i of
    both saw the same machine state; otherwise each side is resampled on its own."""
    rng = np.random.default_rng(seed)
    a, b = np.asarray(a_ms, float), np.asarray(b_ms, float)
    if min(len(a), len(b)) < MIN_CI_SAMPLES:  # a bootstrap of 1-5 values is no 95% interval
        return float(np.median(a) / np.median(b)), None
    if paired and len(a) == len(b):
        idx = rng.integers(0, len(a), (n_boot, len(a)))
        ra, rb = np.median(a[idx], axis=1), np.median(b[idx], axis=1)
    else:
        ra = np.median(rng.choice(a, (n_boot, len(a))), axis=1)
        rb = np.median(rng.choice(b, (n_boot, len(b))), axis=1)
    r = ra / rb
    return float(np.median(a) / np.median(b)), [float(np.percentile(r, 2.5)), float(np.percentile(r, 97.5))]


def bootstrap(metric, n, n_boot=200, seed=0):
    """(metric over all n items, its percentile-bootstrap 95% CI over the items (None below 2), the resampled
    values (NaN where a resample has none; None below 2)): metric(indices) -> float, an index drawn twice counting
    twice. The same seed draws the same resamples, so two metrics of the same items pair resample by resample."""
    value = metric(np.arange(n))
    if n < 2:
        return value, None, None
    rng = np.random.default_rng(seed)
    boot = np.array([metric(rng.integers(0, n, n)) for _ in range(n_boot)], float)
    return value, percentile_ci(boot), boot


def percentile_ci(values):
    """[2.5th, 97.5th percentile] of the values that are not NaN, or None when none are."""
    v = np.asarray(values, float)
    v = v[~np.isnan(v)]
    return [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] if len(v) else None
