"""Benchmark methodology: statistics by hand, interleaving, result records, atomic writes."""
import json

import numpy as np
import pytest

from darkbench.bench import runner, stats
from darkbench.cli import main

FIELDS = ["model", "backend", "device", "dtype", "batch", "threads", "median_ms", "mean_ms", "p90_ms", "p99_ms",
          "iqr_ms", "ci95_ms", "samples", "first_ms", "error", "env", "model_sha256", "input"]


def test_summary_by_hand():
    s = stats.summarize([1, 2, 3, 4, 100])
    assert s["median_ms"] == 3 and s["mean_ms"] == 22 and s["min_ms"] == 1 and s["samples"] == 5
    assert s["iqr_ms"] == 4 - 2  # numpy's linear percentiles: q25 = 2, q75 = 4
    assert s["ci95_ms"] == [1, 100]  # too few samples for a tighter distribution-free interval


def test_median_ci_order_statistics():
    x = list(range(1, 101))  # n=100: ranks 50 -/+ 1.96*sqrt(100)/2 = 9.8 -> x[39] .. x[60]
    lo, hi = stats.median_ci(x)
    assert (lo, hi) == (40, 61)
    assert stats.relative_halfwidth(x) == pytest.approx((61 - 40) / 2 / 50.5)


def test_ratio_ci_brackets_the_ratio():
    rng = np.random.default_rng(0)
    a, b = rng.normal(10, 0.5, 200), rng.normal(5, 0.25, 200)
    r, (lo, hi) = stats.ratio_ci(a, b)
    assert lo < r < hi and 1.9 < r < 2.1


def test_interleaved_round_robin_and_stops_at_max_time():
    order = []
    runners = {k: (lambda k=k: order.append(k)) for k in "ABC"}
    clock = iter(range(10 ** 6))
    samples = runner.interleaved(runners, lambda fn: (fn(), 1.0 + next(clock) % 7)[1], min_time=0, max_time=0.05)
    assert order[:6] == list("ABCABC")
    assert len(samples["A"]) == len(samples["B"]) == len(samples["C"])


def test_interleaved_stops_early_when_tight():
    runners = {"A": lambda: None}
    samples = runner.interleaved(runners, lambda fn: 1.0, min_time=0, max_time=30, min_samples=10)
    assert len(samples["A"]) == 10  # constant timings: CI width 0 after the minimum sample count


def test_write_atomic(tmp_path):
    p = tmp_path / "r" / "x.json"
    runner.write_atomic(p, [{"a": 1}])
    runner.write_atomic(p, [{"a": 2}])
    assert json.loads(p.read_text()) == [{"a": 2}] and not list((tmp_path / "r").glob(".bench-*"))


def test_real_short_run(tmp_path, capsys):
    out = tmp_path / "res"
    rc = main(["bench", "tiny.cfg", "--width", "64", "--height", "64", "--backend", "eager,fused", "--threads", "1", "--min-time", "0.2", "--max-time", "0.5",
               "--out", str(out), "--json", "--layers"])
    assert rc == 0
    data = json.loads(capsys.readouterr().out)
    files = list(out.glob("bench-*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text()) == data
    for r in data:
        for f in FIELDS:
            assert f in r, f
        assert r["error"] is None and r["median_ms"] > 0 and r["threads"] == 1 and r["input"] == [3, 64, 64]
        assert r["env"]["torch"] and r["env"]["cpu"]
    eager = next(r for r in data if r["backend"] == "eager")
    assert len(eager["layers"]) == 23 and eager["layers"][0]["flops"] == 2 * 16 * 27 * 64 * 64


def test_failing_model_is_an_error_entry(tmp_path, capsys):
    bad = tmp_path / "bad.cfg"
    bad.write_text("[net]\nwidth=8\nheight=8\nchannels=3\n[bogus]\n")
    rc = main(["bench", str(bad), "tiny.cfg", "--width", "32", "--height", "32", "--backend", "eager",
               "--min-time", "0.1", "--max-time", "0.2", "--out", str(tmp_path), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert rc == 1 and "unknown section" in data[0]["error"] and data[1]["median_ms"] > 0


def test_unknown_backend_is_a_usage_error(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "tiny.cfg", "--backend", "tensorrt"])
    assert "unknown backend 'tensorrt'" in capsys.readouterr().err
