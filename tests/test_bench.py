"""Benchmark methodology: statistics by hand, interleaving, result records, atomic writes."""
import json
import os
import tempfile

import numpy as np
import pytest

import darkbench
import darkbench.models
from darkbench.bench import measure, record, runner, stats, traits
from darkbench.bench.backends import base, inductor, registry
from darkbench.bench.config import BenchConfig
from darkbench.bench.model import Model, resized_cfg
from darkbench.cli import main

# the results contract (preamble of the latency issue), every key in every entry, errors and skips included
FIELDS = ["model", "path", "model_sha256", "backend", "device", "dtype", "batch", "threads", "input", "median_ms",
          "mean_ms", "min_ms", "iqr_ms", "p90_ms", "p99_ms", "ci95_ms", "samples", "first_ms", "compile_s",
          "peak_mem_mb", "error", "skipped", "ops", "macs", "params", "layers", "peak_gflops", "env",
          "images_per_s", "images_per_s_ci95", "peak_rss_mib", "prepare_rss_mib", "rss_base_mib", "estimated_mib",
          "rel_l2", "max_abs", "top1_agree", "top5_agree", "agreement", "traits"]
ENV = ["host", "cpu", "cores", "gpu", "driver", "python", "torch", "onnxruntime", "darkbench", "git_commit",
       "cudnn_benchmark", "tf32", "timestamp"]
LAYER = ["index", "type", "median_ms", "flops", "bytes", "intensity", "gflops", "pct_peak"]


def complete(r):
    missing = [f for f in FIELDS if f not in r] + [f"env.{f}" for f in ENV if f not in r["env"]]
    assert not missing, missing


def test_summary_by_hand():
    s = stats.summarize([1, 2, 3, 4, 100])
    assert s["median_ms"] == 3 and s["mean_ms"] == 22 and s["min_ms"] == 1 and s["samples"] == 5
    assert s["iqr_ms"] == 4 - 2  # numpy's linear percentiles: q25 = 2, q75 = 4
    assert s["ci95_ms"] is None  # 5 samples: min..max covers the median with only 1 - 2/2**5 = 94%
    assert stats.summarize([1, 2, 3, 4, 5, 100])["ci95_ms"] == [1, 100]  # 6: 1 - 2/2**6 = 97% >= 95%


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


class Clock:
    """A fake time.perf_counter: seconds pass only when a test says so."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now

    def advance(self, ms):
        self.now += ms / 1000
        return ms


def test_interleaved_round_robin_and_stops_at_max_time():
    order, clock = [], Clock()
    runners = {k: (lambda k=k: order.append(k)) for k in "ABC"}
    n = iter(range(10 ** 6))
    samples = measure.interleaved(runners, lambda fn: (fn(), clock.advance(1.0 + next(n) % 7))[1], min_time=0,
                                  max_time=0.05, settle=0, clock=clock)
    assert order[:6] == list("ABCABC")
    assert len(samples["A"]) == len(samples["B"]) == len(samples["C"])
    spent = sum(samples["A"] + samples["B"] + samples["C"]) / 1000
    last = samples["A"][-1] + samples["B"][-1] + samples["C"][-1]
    assert spent >= 0.05 and spent - last / 1000 < 0.05  # stopped after the round that reached max_time


def test_settling_call_is_untimed_and_only_between_runners():
    timed_calls, order = [], []
    runners = {k: (lambda k=k: order.append(k)) for k in "AB"}
    s = measure.interleaved(runners, lambda fn: (timed_calls.append(fn), fn(), 1.0)[2], 0, 10, min_samples=3,
                            settle=1e-6)
    assert "".join(order) == "AABB" * 3  # one untimed call opens each block
    assert len(timed_calls) == 6 and len(s["A"]) == len(s["B"]) == 3
    calls, clock = [], Clock()
    runners = {"A": lambda: (calls.append("A"), clock.advance(4)), "B": lambda: (calls.append("B"), clock.advance(10))}
    measure.interleaved(runners, lambda fn: (fn(), 1.0)[1], 0, 10, min_samples=2, settle=20, clock=clock)
    first_a = calls[:calls.index("B")]
    assert len(first_a) == 6  # 20 ms of 4 ms calls untimed (5), then the timed one
    order = []
    measure.interleaved({"A": lambda: order.append("A")}, lambda fn: (fn(), 1.0)[1], 0, 10, min_samples=3,
                        settle=1e-6)
    assert order == ["A"] * 3  # alone: nothing to settle from


def test_interleaved_stops_early_when_tight():
    runners = {"A": lambda: None}
    samples = measure.interleaved(runners, lambda fn: 1.0, min_time=0, max_time=30, min_samples=10)
    assert len(samples["A"]) == 10  # constant timings: CI width 0 after the minimum sample count


def test_write_atomic(tmp_path):
    p = tmp_path / "r" / "x.json"
    runner.write_atomic(p, [{"a": 1}])
    runner.write_atomic(p, [{"a": 2}])
    assert json.loads(p.read_text()) == [{"a": 2}] and not list((tmp_path / "r").glob(".darkbench-tmp-*"))


def test_real_short_run(tmp_path, capsys):
    out = tmp_path / "res"
    rc = main(["bench", "tiny.cfg", "--width", "64", "--height", "64", "--backend", "eager,fused", "--threads", "1",
               "--min-time", "0.2", "--max-time", "0.5",
               "--out", str(out), "--json", "--layers"])
    assert rc == 0
    data = json.loads(capsys.readouterr().out)
    files = list(out.glob("bench-*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text()) == data
    for r in data:
        complete(r)
        assert r["error"] is None and r["median_ms"] > 0 and r["threads"] == 1 and r["input"] == [3, 64, 64]
        assert r["env"]["torch"] and r["env"]["cpu"] and r["env"]["cpu_fp32_math"] == "conv=ieee matmul=ieee"
    eager = next(r for r in data if r["backend"] == "eager")
    assert len(eager["layers"]) == 23 and eager["layers"][0]["flops"] == 2 * 16 * 27 * 64 * 64
    assert all(set(LAYER) <= set(row) for row in eager["layers"])
    # conv 0: 3x64x64 in, 16x64x64 out, 16*27 weights + 16 biases (batch norm folded or not, darknet
    # stores 16 scales, means, variances too): fp32 bytes by hand
    assert eager["layers"][0]["bytes"] == 4 * (3 * 64 * 64 + 16 * 64 * 64 + 16 * 27 + 4 * 16)
    assert eager["peak_gflops"] > 0 and eager["layers"][0]["pct_peak"] > 0
    # throughput, memory and agreement beside the time (values by hand in test_bench_engines.py)
    for r in data:
        lo, hi = r["images_per_s_ci95"] or [r["images_per_s"]] * 2
        assert r["images_per_s"] == pytest.approx(1000 / r["median_ms"]) and lo <= r["images_per_s"] <= hi
        assert r["peak_rss_mib"] >= 0 and r["rss_base_mib"] > 0 and r["estimated_mib"] > 0
        assert r["top1_agree"] == 1 and "against darkbench's darknet-exact fp32 eager" in r["agreement"]
    assert eager["rel_l2"] == 0 and next(r for r in data if r["backend"] == "fused")["rel_l2"] <= 1e-4


def test_failing_model_is_an_error_entry(tmp_path, capsys):
    bad = tmp_path / "bad.cfg"
    bad.write_text("[net]\nwidth=8\nheight=8\nchannels=3\n[bogus]\n")
    rc = main(["bench", str(bad), "tiny.cfg", "--width", "32", "--height", "32", "--backend", "eager",
               "--min-time", "0.1", "--max-time", "0.2", "--out", str(tmp_path), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert rc == 1 and "unknown section" in data[0]["error"] and data[1]["median_ms"] > 0
    complete(data[0])
    assert data[0]["model"] == "bad" and data[0]["samples"] == 0 and data[0]["median_ms"] is None


def test_unknown_backend_is_a_usage_error(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "tiny.cfg", "--backend", "tensorrt"])
    assert "unknown backend 'tensorrt'" in capsys.readouterr().err


@pytest.mark.parametrize("args,says", [
    (["--batch", ","], "no batch in ','"), (["--dtype", ","], "no dtype in ','"),
    (["--backend", ","], "no backend in ','"), (["--ci", "nan"], "ci nan: the CI target is a percentage"),
    (["--ci", "100"], "ci 100.0: the CI target is a percentage"), (["--max-time", "inf"], "both finite"),
    (["--min-time", "nan"], "both finite"), (["--batch", "0,2"], "batch 0: batches are >= 1"),
    (["--compile", "fast"], "unknown value 'fast' (choose from freezing,"),
    (["--compile", "freezing", "--backend", "eager"], "needs the compile backend")])
def test_bad_bench_options_are_one_line_errors(args, says, capsys):
    # argparse exits 2 with a usage line; checks in run() return the CLI's error code; never a traceback
    try:
        rc = main(["bench", "tiny.cfg", "--min-time", "0", "--max-time", "0"][:2] + args)
    except SystemExit as e:
        rc = e.code
    err = capsys.readouterr().err
    assert rc not in (0, None) and says in err and "Traceback" not in err


# --- statistics by hand -------------------------------------------------------------------------------

def test_median_ci_exact_binomial_ranks():
    # P(Bin(10, 1/2) <= 1) = 11/1024 <= 2.5% < P(<= 2) = 56/1024: ranks 2 and 9 (97.9% coverage)
    assert stats.median_ci(range(1, 11)) == (2, 9)
    # n = 20: P(<= 5) = 21700/2**20 = 2.07% <= 2.5% < P(<= 6) = 5.77%: ranks 6 and 15
    assert stats.median_ci(range(1, 21)) == (6, 15)
    # n = 6: only min..max reaches 95% (1 - 2/64 = 96.9%); below 6 nothing does and min..max is given
    assert stats.median_ci([5, 1, 4, 2, 6, 3]) == (1, 6)
    assert stats.median_ci([3, 1, 2]) == (1, 3)
    # shuffled input, the same order statistics
    assert stats.median_ci([7, 3, 10, 1, 9, 2, 8, 4, 6, 5]) == (2, 9)


def test_summary_percentiles_by_hand():
    s = stats.summarize(range(1, 11))  # numpy linear percentiles: q = 1 + p * 9
    assert s["median_ms"] == 5.5 and s["mean_ms"] == 5.5 and s["min_ms"] == 1
    assert s["iqr_ms"] == pytest.approx(7.75 - 3.25) and s["p90_ms"] == pytest.approx(9.1)
    assert s["p99_ms"] == pytest.approx(9.91) and s["ci95_ms"] == [2, 9] and s["samples"] == 10


def test_ratio_ci_paired_exact():
    b = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    a = [2 * v for v in b]  # every round exactly twice as slow: any paired resample gives exactly 2
    r, (lo, hi) = stats.ratio_ci(a, b, paired=True)
    assert r == 2 and lo == hi == 2
    r, (lo, hi) = stats.ratio_ci(a, b)  # independent resampling does not know the rounds: wider
    assert r == 2 and lo < 2 < hi


# --- adaptive stopping, interleaving ------------------------------------------------------------------

def test_adaptive_stopping_bounded_by_max_time():
    rng, clock = np.random.default_rng(1), Clock()
    t = clock()
    samples = measure.interleaved({"A": lambda: None}, lambda fn: clock.advance(float(rng.exponential(5))),
                                  min_time=0, max_time=0.2, target=1e-9, clock=clock)  # never tight enough
    elapsed = clock() - t
    assert 0.2 <= elapsed and elapsed - samples["A"][-1] / 1000 < 0.2  # one round past max_time at most
    assert len(samples["A"]) > 10


def test_adaptive_stopping_waits_for_min_time():
    clock = Clock()
    t = clock()
    samples = measure.interleaved({"A": lambda: None}, lambda fn: clock.advance(1.0), min_time=0.1, max_time=5,
                                  clock=clock)
    assert 0.1 <= clock() - t < 0.1 + 1e-6 and len(samples["A"]) == 100  # tight at 10; 1 ms rounds until 0.1 s


def test_warm_up_stops_when_settled_or_at_max_s():
    clock = Clock()
    times = iter([9, 7, 5, 5, 5] + [5] * 20)
    assert measure.warm_up(None, lambda r: clock.advance(next(times)), max_s=10, window=5, clock=clock) == 5
    clock, n = Clock(), iter(range(10 ** 6))
    got = measure.warm_up(None, lambda r: clock.advance(1 + next(n)), max_s=0.1, window=5, clock=clock)
    assert clock.now - 100 >= 0.1 and got > 1  # never settles: stops once max_s has passed


def test_balance_and_round_order():
    assert measure.balance({"A": 10.0, "B": 1.0, "C": 0.01}) == {"A": 1, "B": 10, "C": 50}  # 1000 capped at 50
    order = []
    runners = {k: (lambda k=k: order.append(k)) for k in "ABC"}
    measure.interleaved(runners, lambda fn: (fn(), 1.0)[1], min_time=0, max_time=10, min_samples=4,
                       reps={"A": 1, "B": 2, "C": 1}, settle=0)
    assert "".join(order) == "ABBC" * 4  # B twice per round; constant timings stop after 4 rounds


def test_failing_runner_is_dropped_others_go_on():
    calls = {"n": 0}

    def bad():
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
    errors = {}
    s = measure.interleaved({"ok": lambda: None, "bad": bad}, lambda fn: (fn(), 1.0)[1], 0, 10, min_samples=6,
                            errors=errors, settle=False)
    assert len(s["bad"]) == 2 and len(s["ok"]) == 6 and "bad" in errors
    assert record.reason(errors["bad"], batch=8).startswith("out of memory at batch 8: RuntimeError")


def test_interrupt_keeps_partial_samples():
    calls = {"n": 0}

    def fn():
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
    got = {}
    with pytest.raises(KeyboardInterrupt):
        measure.interleaved({"A": fn}, lambda f: (f(), 2.0)[1], 0, 10, samples=got)
    assert got == {"A": [2.0] * 4}


# --- results as data ----------------------------------------------------------------------------------

def test_record_keeps_every_field_of_old_and_new_results():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    paths = [os.path.join(root, "tests", "fixtures", f) for f in ("results-cpu.json", "results-gpu.json",
                                                                  "results-cpu-older.json")]
    paths += [os.path.join(root, "reports", "results", f) for f in os.listdir(os.path.join(root, "reports", "results"))
              if f.endswith(".json")]
    for p in paths:
        with open(p) as f:
            for i, row in enumerate(json.load(f)):
                back = record.Record.from_json(row, p, i).to_json()
                # rows written before backends declared traits: those of the backend of that name here; later
                # rows keep their own
                want = row["traits"] if "traits" in row else registry.record_traits(row["backend"])
                assert back["traits"] == want, (p, i)
                assert back == {**{k: None for k in FIELDS}, **row, "traits": back["traits"]}, (p, i)
    fresh = record.Record(model="m", env={}).to_json()
    assert set(FIELDS) <= set(fresh) and not {"weights", "samples_ms", "compile_choice"} & set(fresh)
    assert record.Record.from_json({"model": "m", "backend": "eager"}).batch == 1  # before --batch: batch 1
    darknet = record.Record.from_json({"model": "m", "backend": "darknet"}).traits
    assert darknet["process"] and darknet["reference"] and darknet["statistic"] == "mean"
    eager = record.Record.from_json({"model": "m", "backend": "eager"}).traits
    assert not eager["process"] and eager["statistic"] == "median" and eager["order"] < darknet["order"]
    unknown = record.Record.from_json({"model": "m", "backend": "tensorrt"}).traits  # not installed here
    assert unknown == traits.NEUTRAL.to_json() and unknown["color"] == "tab:gray"
    kept = dict(eager, color="tab:pink")  # a row's own traits are kept as written
    assert record.Record.from_json({"model": "m", "backend": "eager", "traits": kept}).traits == kept
    with pytest.raises(darkbench.DarkbenchError, match=r"result 0 \('m' 'eager'\): traits process is 'yes', not bool"):
        record.Record.from_json({"model": "m", "backend": "eager", "traits": dict(eager, process="yes")}, "r.json", 0)
    with pytest.raises(darkbench.DarkbenchError, match=r"r.json: result 3 \('m' 'eager'\): ci95_ms is not a list"):
        record.Record.from_json({"model": "m", "backend": "eager", "ci95_ms": [1, float("nan")]}, "r.json", 3)


def test_write_atomic_keeps_old_file_on_failure(tmp_path, monkeypatch):
    p = tmp_path / "x.json"
    runner.write_atomic(p, [{"a": 1}])
    monkeypatch.setattr(runner.json, "dump", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(darkbench.DarkbenchError, match="x.json: cannot write: disk full"):
        runner.write_atomic(p, [{"a": 2}])
    assert json.loads(p.read_text()) == [{"a": 1}] and [f.name for f in tmp_path.iterdir()] == ["x.json"]


@pytest.mark.parametrize("change,says", [
    (dict(batches=[0]), "batch 0: batches are >= 1"), (dict(batches=[1.5]), "batch 1.5: batches are integers"),
    (dict(threads=0), "threads 0: must be an integer >= 1"), (dict(dtypes=["fp8"]), "unknown dtype 'fp8'"),
    (dict(devices=["tpu"]), "unknown device 'tpu' (choose from cpu, cuda)"),
    (dict(backends=["tensorrt"]), "unknown backend 'tensorrt' (choose from eager, fused, compile,"),
    (dict(min_time=3, max_time=1), "min_time 3 / max_time 1: need 0 <= min_time <= max_time"),
    (dict(ci=0), "ci 0: the CI target is a percentage"),
    (dict(sizes=[(64, 64)], width=32), "sizes replace width and height"),
    (dict(options={"compile": ["freezing"]}), "compile freezing: needs the compile backend, which the run leaves out"),
    (dict(backends=["compile"], options={"compile": ["fast"]}), "compile fast: unknown value 'fast'"),
    (dict(options={"turbo": 1}), "unknown backend option 'turbo'")])
def test_config_checks_itself_in_its_own_words(change, says):
    with pytest.raises(darkbench.DarkbenchError) as e:
        BenchConfig(["tiny.cfg"], **change)
    assert str(e.value).startswith(says) and "\n" not in str(e.value) and "--" not in str(e.value)


def fake_runner(ms, fail_at=None, interrupt_at=None):
    """Times itself (like darknet): `ms` per call, deterministic; fails or interrupts at call n."""
    n = iter(range(1, 10 ** 6))

    def timed():
        i = next(n)
        if i == fail_at:
            raise RuntimeError("boom")
        if i == interrupt_at:
            raise KeyboardInterrupt
        return ms
    return base.Runner(None, "cpu", note="fake", measure=timed)


def fake_backend(prepare):
    """A backend whose prepare(case, timed) is `prepare(case)`."""
    return type("Fake", (base.Backend,), {"prepare": lambda self, case, timed: prepare(case)})


def config(out, backends_, min_time=0, max_time=30):  # fake runners' constant times stop a group, not the clock
    return BenchConfig(["tiny.cfg"], list(backends_), ["cpu"], [1], ["fp32"], 1, min_time, max_time, out, 32, 32)


def fake_run(monkeypatch, tmp_path, prepare, backends_=("eager", "fused")):
    for name, fn in prepare.items():
        monkeypatch.setitem(registry.backends(), name, fake_backend(fn))
    monkeypatch.setattr(runner, "gemm_peak", lambda device, dtype: 100.0)
    out = tmp_path / "r.json"
    res = runner.run(config(out, backends_), log=lambda e: None)
    return [r.to_json() for r in res], json.loads(out.read_text())


def test_error_and_skip_entries_complete(tmp_path, monkeypatch):
    def skip(case):
        raise base.Skip("not here")

    def broken(case):
        raise ValueError("cannot build\nsecond line")
    res, saved = fake_run(monkeypatch, tmp_path, {"eager": broken, "fused": skip})
    assert saved == res and [r["backend"] for r in res] == ["eager", "fused"]
    assert res[0]["error"] == "ValueError: cannot build" and res[1]["skipped"] == "not here"
    for r in res:
        complete(r)
        assert r["input"] == [3, 32, 32] and r["ops"] > 0 and r["peak_gflops"] == 100.0


def test_fp32_stays_ieee_after_a_lower_matmul_precision(tmp_path, monkeypatch):
    import torch
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("medium")  # on the CPU this makes oneDNN's fp32 matmul bf16
    try:
        assert torch.backends.mkldnn.matmul.fp32_precision == "bf16"
        res, _ = fake_run(monkeypatch, tmp_path, {"eager": lambda case: fake_runner(1.0)}, ("eager",))
        assert torch.backends.mkldnn.matmul.fp32_precision == "ieee"
        assert res[0]["env"]["cpu_fp32_math"] == "conv=ieee matmul=ieee"
    finally:
        torch.set_float32_matmul_precision(before)
        torch.backends.mkldnn.matmul.fp32_precision = torch.backends.mkldnn.conv.fp32_precision = "none"


def test_failing_backend_during_measurement(tmp_path, monkeypatch):
    res, _ = fake_run(monkeypatch, tmp_path, {"eager": lambda case: fake_runner(1, fail_at=12),
                                              "fused": lambda case: fake_runner(1)})
    eager, fused = res
    assert eager["error"] == "RuntimeError: boom" and eager["median_ms"] is None
    assert fused["error"] is None and fused["median_ms"] > 0 and fused["note"] == "fake"


def test_interrupt_saves_finished_and_partial(tmp_path, monkeypatch):
    def skip(case):
        raise base.Skip("not here")
    out = tmp_path / "r.json"
    monkeypatch.setitem(registry.backends(), "eager", fake_backend(lambda case: fake_runner(1, interrupt_at=40)))
    monkeypatch.setitem(registry.backends(), "fused", fake_backend(skip))
    monkeypatch.setattr(runner, "gemm_peak", lambda device, dtype: None)
    with pytest.raises(KeyboardInterrupt):
        runner.run(config(out, ["eager", "fused"], 5, 10), log=lambda e: None)
    saved = json.loads(out.read_text())
    assert [r["backend"] for r in saved] == ["eager", "fused"] and saved[1]["skipped"] == "not here"
    assert saved[0]["error"].startswith("interrupted after") and saved[0]["samples"] > 0


def test_traffic_scales_with_batch_and_dtype():
    from darkbench.bench.layers import traffic
    l = darkbench.analyse("tiny.cfg", 64, 64).layers[0]  # conv 3->16, 3x3, batch norm: 16*27 + 4*16 floats
    flops, nbytes = traffic(l, batch=2, dtype="bf16")
    assert flops == 2 * 2 * 16 * 27 * 64 * 64
    assert nbytes == 2 * (2 * (3 * 64 * 64 + 16 * 64 * 64) + 16 * 27 + 4 * 16)


def test_resized_cfg_for_darknet(tmp_path):
    p = resized_cfg(darkbench.models.resolve("tiny.cfg"), 96, 64)
    try:
        net = darkbench.analyse(p)
        assert (net.width, net.height) == (96, 64)
    finally:
        os.unlink(p)
    m = Model.analyse("tiny.cfg", 96)  # a width alone keeps the cfg's height
    p = m.sized_cfg()
    try:
        net = darkbench.analyse(p)
        assert (net.width, net.height) == (m.net.width, m.net.height) == (96, 224) and p != m.path
    finally:
        os.unlink(p)
    assert Model.analyse("tiny.cfg").sized_cfg() == darkbench.models.resolve("tiny.cfg")  # its own size: itself


@pytest.mark.darknet
def test_darknet_backend(darknet, tmp_path, capsys):
    rc = main(["bench", "tiny.cfg", "--width", "32", "--height", "32", "--backend", "eager,darknet", "--threads",
               "1", "--min-time", "0.1", "--max-time", "1", "--out", str(tmp_path), "--json"])
    data = json.loads(capsys.readouterr().out)
    dk = next(r for r in data if r["backend"] == "darknet")
    complete(dk)
    assert rc == 0 and dk["median_ms"] > 0 and dk["first_ms"] > 0 and dk["samples"] >= 1
    assert dk["evals_per_sample"] >= 1 and "mean over" in dk["note"]
    # its memory: the darknet process's own peak (os.wait4's rusage); no outputs to check agreement on
    assert dk["peak_rss_mib"] > 1 and dk["rss_base_mib"] is None and dk["rel_l2"] is None
    from darkbench.footprint import footprint
    assert dk["estimated_mib"] == footprint(darkbench.analyse("tiny.cfg", 32, 32)).darknet_bytes / 2 ** 20
    # darknet's own pages, not the forked benchmarking process's (hundreds of MiB with torch loaded): its
    # footprint plus the ~80 MiB its process and libraries take
    assert dk["peak_rss_mib"] < dk["estimated_mib"] + 150
    assert dk["agreement"].startswith("not checked: darknet speed gives no outputs")


def test_cuda_without_gpu_is_skipped(tmp_path, capsys):
    import torch
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: see test_cuda_run")
    rc = main(["bench", "tiny.cfg", "--device", "cuda", "--backend", "eager", "--out", str(tmp_path), "--json"])
    (r,) = json.loads(capsys.readouterr().out)
    assert rc == 0 and r["skipped"] == "CUDA is not available" and r["device"] == "cuda"


def test_cuda_run(tmp_path, capsys):
    import torch
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    rc = main(["bench", "tiny.cfg", "--device", "cuda", "--backend", "eager,fused", "--batch", "1,4",
               "--min-time", "0.2", "--max-time", "1", "--out", str(tmp_path), "--json", "--layers"])
    data = json.loads(capsys.readouterr().out)
    assert rc == 0 and len(data) == 4
    for r in data:
        complete(r)
        assert r["median_ms"] > 0 and r["peak_mem_mb"] > 0 and r["env"]["gpu"]
        assert r["env"]["tf32"] is False and r["env"]["cudnn_benchmark"] is True


def test_compile_variants_do_not_share_a_graph():
    # every model instance runs the same Darknet.forward with its parameters as graph inputs: without
    # distinct options dynamo reused the first variant's graph for the next (no freezing, silently)
    import torch
    from torch._dynamo.utils import counters
    before = counters["stats"]["unique_graphs"]
    case = base.Case(Model.analyse("tiny.cfg", 32, 32), threads=1)
    plain = inductor.compiled(case, choice="default")
    frozen = inductor.compiled(case, choice="freezing")
    assert counters["stats"]["unique_graphs"] - before == 2
    assert frozen.extra["compile_choice"] == "freezing" and frozen.compile_s > 0
    x = torch.rand(1, 3, 32, 32)
    with torch.inference_mode():
        for r in (plain, frozen):
            assert torch.allclose(r.forward(x), r.model(x), atol=1e-5)


def test_aot_inductor_variant_matches_the_model_and_cleans_up(monkeypatch):
    import torch
    made, mkdtemp = [], tempfile.mkdtemp  # this run's own package directory, not others' in the shared temp dir
    monkeypatch.setattr(tempfile, "mkdtemp", lambda *a, **k: made.append(mkdtemp(*a, **k)) or made[-1])
    r = inductor.compiled(base.Case(Model.analyse("tiny.cfg", 32, 32), threads=1), choice="aot-inductor")
    monkeypatch.undo()
    assert r.extra["compile_choice"] == "aot-inductor" and r.compile_s > 0
    x = torch.rand(1, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        got, want = r.forward(x), r.model(x)
    assert float((got - want).norm() / want.norm()) <= 1e-5
    (pkg,) = [d for d in made if os.path.basename(d).startswith("darkbench-aoti-")]
    assert os.path.isdir(pkg)
    r.close()
    assert not os.path.exists(pkg)


def test_layers_table_printed():
    from darkbench.bench.text import layer_tables
    layer = dict(index=0, type="convolutional", median_ms=0.5, flops=2_000_000, bytes=1_000_000, intensity=2.0,
                 gflops=4.0, pct_peak=2.5)
    text = layer_tables([dict(model="m", backend="eager", device="cpu", dtype="fp32", batch=1, peak_gflops=160.0,
                               layers=[layer]), dict(model="m", backend="darknet", layers=None)])
    assert "m eager cpu fp32 batch 1: per layer (measured GEMM peak 160 GFLOP/s)" in text
    row = next(l for l in text.splitlines() if l.startswith("0 "))
    assert row.split() == ["0", "convolutional", "0.5000", "2.00", "1.000", "2.0", "4.0", "2"]
    assert "darknet" not in text


def test_compiler_output_is_kept_off_the_terminal_unless_it_fails(capfd):
    from darkbench.bench.quiet import quiet
    with quiet():
        print("AUTOTUNE packed_linear(1x64)")
        os.write(2, b"c++ compiler warning\n")
    assert capfd.readouterr() == ("", "")
    with pytest.raises(RuntimeError, match="boom"), quiet():
        os.write(2, b"error: the compiler's own words\n")
        raise RuntimeError("boom")
    assert "error: the compiler's own words" in capfd.readouterr().err


def test_compile_help_lists_every_variant(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for c in inductor.COMPILE_CHOICES:
        assert c in text.replace("- ", "-")
    assert "default: CPU " + ",".join(inductor.COMPILE_DEFAULT["cpu"]) in text.replace("- ", "-")


def test_busy_notes_a_load_above_the_cores(monkeypatch):
    from darkbench.bench.env import busy
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert busy([1.9, 4, 4], [0.5, 0, 0]) is None and busy(None) is None  # only the 1-minute figure is read
    assert busy([1.0, 0, 0], [2.5, 0, 0]).startswith("load average 2.5 on 2 cores: other programs shared the CPU")
