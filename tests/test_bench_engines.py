"""Throughput, measured memory, agreement with darkbench's fp32 eager, and the OpenCV / OpenVINO backends."""
import gc
import json
import os

import numpy as np
import pytest

import darkbench
from darkbench.bench import agreement, batching, memory, runner
from darkbench.bench.backends import base, registry
from darkbench.bench.config import BenchConfig
from darkbench.bench.dtypes import DTYPES
from darkbench.bench.model import Model
from darkbench.bench.record import Record
from darkbench.cli import main
from require import require_module


def random_weights(tmp_path, name, width=None, height=None):
    """The model as a bench run analyses it, with random weights as the run writes them."""
    m = Model.analyse(name, width, height)
    m.weights = runner._random_weights(m.net, str(tmp_path / f"{m.name}.weights"), 0)
    return m


def prepared(name, m, batch=1, dtype="fp32"):
    """Backend `name` prepared for the Model m through the registry's door, and its Case."""
    return registry.prepare(name, m, "cpu", dtype, batch, threads=1), base.Case(m, "cpu", dtype, batch, 1)


# --- by hand ------------------------------------------------------------------------------------------

def test_images_per_s_and_its_ci():
    ips, ci = batching.images_per_s(4, 8.0, [5.0, 10.0])
    assert ips == 500 and ci == [400, 800]  # 4 images / 8 ms; the CI of the median mapped: 4000/10, 4000/5
    assert batching.images_per_s(1, 2.0) == (500, None) and batching.images_per_s(1, None) == (None, None)


def rec(batch, ips, ci, **kw):
    return Record(batch=batch, images_per_s=ips, images_per_s_ci95=ci, **kw)


def test_auto_batch_stop_rule():
    net = darkbench.analyse("tiny.cfg", 32, 32)
    big = 2 ** 40
    assert batching.stop_reason(None, rec(1, 100, [90, 110]), net, 256, big) is None  # batch 1: go on
    assert batching.stop_reason(rec(1, 100, [90, 110]), rec(2, 180, [111, 200]), net, 256, big) is None
    why = batching.stop_reason(rec(1, 100, [90, 110]), rec(2, 120, [110, 130]), net, 256, big)
    assert "not above batch 1's beyond the noise" in why  # 110 <= 110: the CIs touch
    assert "too few samples" in batching.stop_reason(rec(1, 100, [90, 110]), rec(2, 200, None), net, 256, big)
    assert "next batch (8) is above the largest auto batch (4)" in batching.stop_reason(None, rec(4, 1, [1, 1]), net, 4, big)
    from darkbench.footprint import footprint
    fp = footprint(net, 2)
    need = memory.estimated_bytes(net, 2)
    assert need == fp.peak_activation_bytes + fp.total_param_bytes  # the liveness peak and the parameters
    why = batching.stop_reason(None, rec(1, 100, [90, 110]), net, 256, available=need)  # half of it: no room
    assert why.startswith("batch 2 would need about") and "analytic estimate" in why
    assert batching.stop_reason(None, rec(1, None, None, skipped="no"), net, 256, big) == "skipped at batch 1"


def test_compare_by_hand():
    want = [np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]])]
    got = [np.array([[0.1, 0.7, 0.2], [0.3, 0.5, 0.2]])]
    r = agreement.compare(got, want)
    assert r["rel_l2"] == pytest.approx(np.sqrt(0.08) / np.sqrt(0.01 + 0.49 + 0.04 + 0.25 + 0.09 + 0.04))
    assert r["max_abs"] == pytest.approx(0.2) and r["top1_agree"] == 0.5 and r["top5_agree"] is None  # 3 classes
    ten = np.arange(10.0)[None]
    swapped = ten.copy()
    swapped[0, [0, 4]] = swapped[0, [4, 0]]  # rank 6 and 10 swap: top-5 (5..9) the same set
    assert agreement.compare([swapped], [ten])["top5_agree"] == 1
    assert agreement.compare([ten[:, ::-1]], [ten])["top5_agree"] == 0
    nan = agreement.compare([np.full((1, 10), np.nan)], [ten])
    assert nan["rel_l2"] is None and nan["top1_agree"] is None
    heads = agreement.compare([np.ones((2, 3, 4)), np.ones((2, 5))], [np.ones((2, 3, 4)), np.ones((2, 5))])
    assert heads["rel_l2"] == 0 and heads["top1_agree"] is None  # several outputs: no ranking
    with pytest.raises(ValueError, match="values per input"):
        agreement.compare([np.ones((2, 4))], [np.ones((2, 5))])


def test_run_outputs_batches_and_cycles():
    x = np.arange(5.0)[:, None]
    seen = []

    def fn(a):
        seen.append(a[:, 0].tolist())
        return [a * 2]
    (y,) = agreement.run_outputs(fn, x, 3)
    assert seen == [[0, 1, 2], [3, 4, 0]] and y[:, 0].tolist() == [0, 2, 4, 6, 8]  # last batch filled by cycling


def test_disagreement_flag():
    assert agreement.disagrees(dict(dtype="fp32", rel_l2=1e-6)) is None
    assert agreement.disagrees(dict(dtype="fp32", rel_l2=1e-3)) == "rel L2 0.001 > 0.0001 (fp32 tolerance)"
    assert agreement.disagrees(dict(dtype="bf16", rel_l2=1e-2)) is None
    assert agreement.disagrees(dict(dtype="fp32", agreement=agreement.NOT_FINITE + "; 8 inputs")) == \
        agreement.NOT_FINITE
    assert agreement.disagrees(dict(dtype="fp32")) is None  # not checked: nothing to flag


def test_agreement_inputs_are_sample_images_then_random():
    x, what = agreement.inputs((3, 32, 48))
    assert x.shape == (8, 3, 32, 48) and x.dtype == np.float32
    if os.path.isdir(agreement.SAMPLE_IMAGES):
        assert "sample images" in what and (x[0] == 0.5).any()  # letterboxed: grey bars
    flat, what = agreement.inputs((10,))
    assert flat.shape == (8, 10) and what == "8 seeded random inputs"


def test_rss_high_water_mark_resets():
    # garbage an earlier test left, collected while the 64 MiB are touched, would lower the resident size under
    # the new pages (seen: a 32 MiB rise): collect it first, as the runner does before each entry, and keep the
    # collector off while measuring
    memory.free("cpu")
    gc.disable()
    try:
        base = memory.rss_reset()
        if base is None:
            pytest.skip("the kernel does not allow resetting VmHWM here")
        a = np.ones(64 * 2 ** 20 // 8)  # 64 MiB, touched
        assert memory.rss_peak_since(base) >= 60
    finally:
        gc.enable()
    del a
    memory.free("cpu")
    again = memory.rss_reset()
    assert memory.rss_peak_since(again) < 30  # the earlier peak is gone from the mark


# --- a run with fake runners: --batch auto --------------------------------------------------------------

def test_batch_auto_doubles_while_throughput_rises(tmp_path, monkeypatch):
    ms = {1: 1.0, 2: 1.0, 4: 1.5, 8: 3.0}  # images/s 1000, 2000, 2667, 2667: flat from 4 to 8

    def prepare(self, case, timed):
        return base.Runner(None, "cpu", note="fake", measure=lambda: ms[case.batch])
    monkeypatch.setitem(registry.backends(), "eager", type("Fake", (base.Backend,), {"prepare": prepare}))
    monkeypatch.setattr(runner, "gemm_peak", lambda device, dtype: None)
    cfg = BenchConfig(["tiny.cfg"], ["eager"], ["cpu"], [1], ["fp32"], 1, 0, 30, str(tmp_path / "r.json"), 32, 32,
                      auto_batch=True, max_batch=64)
    res = [r.to_json() for r in runner.run(cfg, log=lambda e: None)]
    assert [r["batch"] for r in res] == [1, 2, 4, 8]
    assert [round(r["images_per_s"]) for r in res] == [1000, 2000, 2667, 2667]
    assert "images/s at batch 8 not above batch 4's" in res[-1]["batch_stop"]
    assert all("batch_stop" not in r for r in res[:-1])
    assert json.loads((tmp_path / "r.json").read_text()) == res
    assert res[0]["agreement"] == "not checked: this backend gives no outputs"


def test_batch_auto_cli(tmp_path, capsys):
    rc = main(["bench", "tiny.cfg", "--width", "32", "--height", "32", "--backend", "eager", "--batch", "auto",
               "--max-batch", "2", "--threads", "1", "--min-time", "0.1", "--max-time", "0.3", "--out", str(tmp_path),
               "--json"])
    data = json.loads(capsys.readouterr().out)
    assert rc == 0 and data[0]["batch"] == 1 and data[-1]["batch_stop"] and len(data) <= 2
    with pytest.raises(SystemExit):  # a usage error
        main(["bench", "tiny.cfg", "--batch", "auto,2"])
    assert "batches are integers, or auto alone" in capsys.readouterr().err


# --- the engines --------------------------------------------------------------------------------------

def test_opencv_matches_darkbench_on_classifiers(tmp_path):
    require_module("cv2")
    r, c = prepared("opencv", random_weights(tmp_path, "tiny.cfg", 64, 64), batch=2)
    r()
    got = agreement.check(r, c, {})
    # OpenCV DNN reads cfg and weights itself: the same network to fp32 rounding (measured 3e-7)
    assert got["rel_l2"] <= 1e-5 and got["top1_agree"] == got["top5_agree"] == 1 and r.compare_at is None


def test_opencv_yolo_heads_compared_at_their_inputs(tmp_path):
    require_module("cv2")
    r, c = prepared("opencv", random_weights(tmp_path, "yolov3-tiny.cfg", 96, 96))
    assert r.compare_at == (15, 22) and "decoded boxes" in r.agreement_note
    got = agreement.check(r, c, {})
    assert got["rel_l2"] <= 1e-5 and "darknet layers 15, 22" in got["agreement"]  # measured 2e-6


def test_opencv_skips_what_it_cannot_run(tmp_path):
    require_module("cv2")
    with pytest.raises(base.Skip, match="darknet cfgs only"):
        registry.prepare("opencv", Model.analyse("inception.json"))
    with pytest.raises(base.Skip, match="needs a .weights file"):
        registry.prepare("opencv", Model.analyse("tiny.cfg"))
    m = random_weights(tmp_path, "tiny.cfg")
    with pytest.raises(base.Skip, match=r"the opencv backend runs fp32 only \(OpenCV's CUDA target"):
        registry.prepare("opencv", m, dtype="bf16")  # from its declaration, not tried
    with pytest.raises(base.Skip, match="the opencv backend runs on cpu only"):
        registry.prepare("opencv", m, device="cuda")


def test_openvino_matches_onnxruntime(tmp_path):
    require_module("openvino")
    require_module("onnxruntime")
    m = random_weights(tmp_path, "yolov3-tiny.cfg", 64, 64)
    (ov, c), (ort, _) = prepared("openvino", m, batch=2), prepared("onnxruntime", m, batch=2)
    ov()
    assert "INFERENCE_PRECISION_HINT=f32" in ov.note  # set: on bf16 CPUs OpenVINO's default is bf16
    x = np.random.default_rng(3).random((2, 3, 64, 64), dtype=np.float32)
    a, b = ov.outputs(x), ort.outputs(x)
    assert len(a) == len(b) == 2
    for u, v in zip(a, b):  # the same ONNX graph: fp32 rounding apart (measured 1e-7)
        assert np.linalg.norm(u - v) / np.linalg.norm(v) <= 1e-5
    assert agreement.check(ov, c, {})["rel_l2"] <= 1e-5


def test_openvino_low_precision_where_the_cpu_has_it(tmp_path):
    ov = require_module("openvino")
    m = random_weights(tmp_path, "tiny.cfg", 64, 64)
    caps = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    if "BF16" not in caps:
        with pytest.raises(base.Skip, match="no bf16 on this CPU"):
            prepared("openvino", m, dtype="bf16")
        return
    r, c = prepared("openvino", m, dtype="bf16")
    got = agreement.check(r, c, {})
    assert "bf16" in r.note and 0 < got["rel_l2"] <= DTYPES["bf16"].tolerance


def test_engine_results_in_a_run(tmp_path, capsys):
    require_module("cv2")
    require_module("openvino")
    rc = main(["bench", "tiny.cfg", "inception.json", "--width", "32", "--height", "32", "--backend",
               "eager,openvino,opencv", "--threads", "1", "--min-time", "0.1", "--max-time", "0.3",
               "--out", str(tmp_path), "--json"])
    data = {(r["model"], r["backend"]): r for r in json.loads(capsys.readouterr().out)}
    assert rc == 0
    assert data[("inception", "opencv")]["skipped"] == "OpenCV DNN reads darknet cfgs only (not this model)"
    for key in [("tiny", "openvino"), ("tiny", "opencv"), ("inception", "openvino")]:
        r = data[key]
        assert r["median_ms"] > 0 and r["rel_l2"] <= 1e-5 and r["peak_rss_mib"] >= 0 and r["env"]["opencv"]


def test_missing_engine_is_a_skip(monkeypatch, tmp_path):
    import builtins
    m = random_weights(tmp_path, "tiny.cfg", 32, 32)
    real = builtins.__import__

    def no(name, *a, **k):
        if name in ("cv2", "openvino"):
            raise ImportError(name)
        return real(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", no)
    with pytest.raises(base.Skip, match="OpenCV is not installed"):
        registry.prepare("opencv", m)
    with pytest.raises(base.Skip, match="OpenVINO is not installed"):
        registry.prepare("openvino", m)


def test_fixed_batches_are_interleaved_in_one_group(tmp_path, monkeypatch):
    calls = []

    def prepare(self, case, timed):
        return base.Runner(None, "cpu", note="fake", measure=lambda: calls.append(case.batch) or case.batch * 1.0)
    monkeypatch.setitem(registry.backends(), "eager", type("Fake", (base.Backend,), {"prepare": prepare}))
    monkeypatch.setattr(runner, "gemm_peak", lambda device, dtype: None)
    cfg = BenchConfig(["tiny.cfg"], ["eager"], ["cpu"], [1, 2], ["fp32"], 1, 0, 30, None, 32, 32)
    res = [r.to_json() for r in runner.run(cfg, log=lambda e: None)]
    assert [r["batch"] for r in res] == [1, 2] and [r["images_per_s"] for r in res] == [1000, 1000]
    # after both are prepared (first call + one estimate each), rounds alternate: 1 1 2 1 1 2 ... (batch 1 twice
    # per round: it takes half as long), so drift hits both batch sizes alike
    rounds = "".join(map(str, calls[4:]))
    assert rounds.startswith("112112") and len(res[0]["samples_ms"]) == 2 * len(res[1]["samples_ms"])
