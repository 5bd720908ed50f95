"""bench --pipeline: the stage times a run records are the ones its passes took (a fake clock), what `bench` prints
and what the report's pipeline table shows; darkbench's stages run what darkbench.detect runs; the real backends'
pipelines (darkbench's around eager, ONNX Runtime, OpenVINO; OpenCV's DetectionModel; darknet's detector loop)
run and time themselves on darknet's sample images."""
import csv
import glob
import hashlib
import json

import numpy as np
import pytest

import darkbench
from darkbench import detect
from darkbench.bench import pipeline, stages
from darkbench.bench.backends import base, registry
from darkbench.bench.backends.passes import Pipeline, Stamps
from darkbench.bench.config import BenchConfig
from darkbench.bench.record import Record
from darkbench.cli import main
from darkbench.errors import DarkbenchError
from require import require, require_module
from test_bench import Clock  # a fake time.perf_counter

SAMPLES = sorted(glob.glob(f"{pipeline.SAMPLES}/*.jpg"))
# one [yolo] head: what a detector needs, small enough that its random weights cost nothing
HEAD_CFG = """[net]
width=32
height=32
channels=3

[convolutional]
filters=21
size=1
activation=linear

[yolo]
mask=0,1,2
anchors=10,14,23,27,37,58
num=3
classes=2
"""
STEPS = {"decode": 3.0, "prepare": 2.0, "forward": 20.0, "boxes": .5, "nms": .25}


def fake(clock, log, scale, process=True):
    """A backend whose own pipeline advances the fake clock by each stage's time (STEPS x scale, plus a little
    more on every call, so no two passes are alike), logging what each call took."""
    calls = iter(range(10 ** 6))

    def image(path, st):
        n = next(calls)
        took = {}
        for k, ms in STEPS.items():
            took[k] = ms * scale + (n % 7) * .01 * (1 + len(k))
            clock.advance(took[k])
            st.stamp(k)
        log.append((path, took))

    class Fake(base.Backend):
        def prepare(self, case, timed):
            raise AssertionError("a pipeline of its own is asked for")

        def pipeline(self, case, thresh, nms, clock_):
            assert clock_ is clock
            return Pipeline(image, {k: f"fake {k}" for k in STEPS}, load_s=1.5, compile_s=.25, prepare_s=2.0,
                            process=process)
    return Fake


@pytest.fixture
def fake_run(tmp_path, monkeypatch):
    """bench --pipeline on the command line with two fake backends (eager, fused) on a fake clock, over three
    image files; (the run's printed output, its results, each backend's log of calls, the image paths)."""
    cfg = tmp_path / "head.cfg"
    cfg.write_text(HEAD_CFG)
    pics = tmp_path / "pics"
    pics.mkdir()
    paths = []
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        (pics / name).write_bytes(b"not read by the fake pipelines")
        paths.append(str(pics / name))
    clock, logs = Clock(), {"eager": [], "fused": []}
    for name, scale in (("eager", 1.0), ("fused", 2.0)):
        monkeypatch.setitem(registry.backends(), name, fake(clock, logs[name], scale))
    monkeypatch.setattr(pipeline, "CLOCK", clock)
    monkeypatch.setattr(pipeline, "SAMPLES", str(pics))

    def run(capsys):
        out = tmp_path / "results"
        code = main(["bench", str(cfg), "--pipeline", "--backend", "eager,fused", "--threads", "1",
                     "--min-time", "0", "--max-time", "5", "--out", str(out)])
        printed = capsys.readouterr().out
        (results,) = out.glob("bench-*.json")
        return code, printed, json.loads(results.read_text()), logs, paths, out
    return run


def test_recorded_stages_are_the_passes_a_fake_clock_timed(fake_run, capsys):
    code, printed, results, logs, paths, _ = fake_run(capsys)
    assert code == 0 and [r["backend"] for r in results] == ["eager", "fused"]
    for r in results:
        log = logs[r["backend"]]
        # a program of its own: no warm-up, no settling; its first image alone (cold), then every pass recorded
        assert [p for p, _ in log[1:]] == paths * r["samples"] and log[0][0] == paths[0]
        passes = [log[1 + i * 3:4 + i * 3] for i in range(r["samples"])]
        for k in STEPS:
            want = [sum(took[k] for _, took in p) / 3 for p in passes]  # ms per image
            assert r["stages"][k]["samples_ms"] == pytest.approx(want, abs=1e-4)
            assert r["stages"][k]["median_ms"] == pytest.approx(np.median(want), abs=1e-4)
            assert r["stages"][k]["what"] == f"fake {k}"
        ends = [sum(sum(took.values()) for _, took in p) / 3 for p in passes]
        assert r["pipeline_samples_ms"] == pytest.approx(ends, abs=1e-4)
        assert r["pipeline_ms"] == pytest.approx(np.median(ends), abs=1e-4)
        cold = dict(load_s=1.5, compile_s=.25, prepare_s=2.0, steady_ms=r["pipeline_ms"],
                    first_ms=sum(log[0][1].values()))
        assert r["cold_start"] == pytest.approx(cold, abs=1e-6)
        assert r["median_ms"] is None and r["batch"] == 1  # not a forward-pass latency
        assert r["pipeline_images"] == ["a.jpg", "b.jpg", "c.jpg"]
    # interleaved: the rounds alternate, so both ran as many passes (max_time stops after a whole round)
    assert results[0]["samples"] == results[1]["samples"] >= 10


def test_bench_prints_what_the_results_hold(fake_run, capsys):
    _, printed, results, _, _, _ = fake_run(capsys)
    lines = {ln.split("  ")[0]: ln for ln in printed.splitlines()}
    for k in STEPS:
        cells = lines[k].split()[1:]
        want = [stages.median_text(r["stages"][k]["median_ms"], r["stages"][k]["ci95_ms"]) for r in results]
        assert " ".join(cells) == " ".join(want)
    total = [sum(r["stages"][k]["median_ms"] for k in STEPS) for r in results]
    assert lines["sum of the stages' medians"].split()[-2:] == [f"{v:.2f}" for v in total]
    assert lines["end to end"].split()[3:] == " ".join(
        stages.median_text(r["pipeline_ms"], r["pipeline_ci95_ms"]) for r in results).split()
    assert lines["sum / end to end"].split()[-2:] == [f"{t / r['pipeline_ms']:.3f}" for t, r in zip(total, results)]
    post = [(r["stages"]["boxes"]["median_ms"] + r["stages"]["nms"]["median_ms"]) / r["pipeline_ms"] for r in results]
    assert lines["post-processing (boxes + nms) / end to end"].split()[-2:] == [f"{v:.1%}" for v in post]
    assert lines["cold: load s"].split()[-2:] == ["1.500", "1.500"]
    # the sum of the medians is within 3% of the median of the sums (the stages are stamped inside each pass)
    assert all(abs(t / r["pipeline_ms"] - 1) < .03 for t, r in zip(total, results))


def test_report_shows_what_the_results_hold(fake_run, capsys, tmp_path):
    _, _, results, _, _, out = fake_run(capsys)
    rep = tmp_path / "report"
    assert main(["report", "--results", str(out), "--out", str(rep), "--models", "tiny.cfg"]) == 0
    rows = list(csv.DictReader((rep / "data" / "pipeline.csv").open()))
    assert [r["backend"] for r in rows] == ["eager", "fused"]
    for row, r in zip(rows, results):
        s = stages.summary(r)
        for k in STEPS:
            assert row[k] == stages.median_text(*s["stages"][k])
        assert float(row["sum_ms"]) == round(s["sum_ms"], 2)
        assert row["pipeline"] == stages.median_text(r["pipeline_ms"], r["pipeline_ci95_ms"])
        assert float(row["sum_per_e2e"]) == round(s["sum_ms"] / r["pipeline_ms"], 3)
        assert float(row["first_ms"]) == round(r["cold_start"]["first_ms"], 1)
    md = (rep / "report.md").read_text()
    assert "## Detection pipeline: stages, end to end and cold start" in md
    # pipeline results are not forward-pass latencies: the latency tables and the plain results do not take them
    assert "## Comparison: computed figures and measured latency" not in md


def test_in_process_pipelines_warm_up_and_settle_but_record_only_timed_passes(tmp_path, monkeypatch):
    clock, log = Clock(), []
    monkeypatch.setitem(registry.backends(), "fake", fake(clock, log, 1.0, process=False))
    cfg = tmp_path / "head.cfg"
    cfg.write_text(HEAD_CFG)
    paths = []
    for name in ("a.png", "b.png"):
        (tmp_path / name).write_bytes(b"x")
        paths.append(str(tmp_path / name))
    (r,) = pipeline.run(BenchConfig([str(cfg)], ["fake"], ["cpu"], threads=1, min_time=0, max_time=5),
                        log=lambda e: None, clock=clock, paths=paths)
    assert r.samples >= 10 and len(log) > 1 + 2 * r.samples  # warm-up passes ran, and went unrecorded
    for i, end in enumerate(r.pipeline_samples_ms):  # each pass's stages add up to its time
        assert sum(r.stages[k]["samples_ms"][i] for k in STEPS) == pytest.approx(end, abs=1e-4)


def test_pipeline_results_load_and_old_ones_lack_them():
    r = Record(model="m", backend="eager", pipeline_images=["a.jpg"], stages={"decode": {"median_ms": 1.0}},
               pipeline_ms=2.0, cold_start={"load_s": 1.0, "compile_s": None})
    back = Record.from_json(json.loads(json.dumps(r.to_json())))
    assert back.stages == r.stages and back.pipeline_ms == 2.0 and back.cold_start == r.cold_start
    assert "stages" not in Record(model="m", backend="eager").to_json()  # older files had none: nor do others
    for bad, says in (({"stages": {"decode": {"median_ms": -1}}}, "'decode' is not a stage"),
                      ({"stages": [1]}, "stages is not an object"),
                      ({"pipeline_ms": float("nan")}, "pipeline_ms is nan"),
                      ({"cold_start": {"load_s": "1"}}, "cold_start is not an object of numbers")):
        with pytest.raises(DarkbenchError, match=says):
            Record.from_json(dict(model="m", backend="eager", **bad), "f.json", 0)


@pytest.mark.parametrize("args, says", [
    (["--batch", "2"], "pipeline: the detection pipeline takes one image at a time"),
    (["--layers"], "no --layers"),
])
def test_pipeline_refuses_what_it_cannot_time(args, says, capsys):
    assert main(["bench", "tiny.cfg", "--pipeline", *args]) != 0
    assert says in capsys.readouterr().err


def test_weights_pair_with_models(capsys, tmp_path):
    w = tmp_path / "w.weights"
    w.write_bytes(b"")
    assert main(["bench", "tiny.cfg", "alexnet.cfg", "--weights", str(w), "--out", str(tmp_path)]) != 0
    assert "2 models; give MODEL:WEIGHTS pairs" in capsys.readouterr().err
    assert main(["bench", "tiny.cfg", "--weights", f"alexnet.cfg:{w}", "--out", str(tmp_path)]) != 0
    assert "weights for 'alexnet.cfg', which is not among the models" in capsys.readouterr().err
    assert not list(tmp_path.glob("bench-*.json"))  # refused before the run's results file is made


def test_a_network_without_heads_is_skipped_saying_why(tmp_path):
    res = pipeline.run(BenchConfig(["tiny.cfg"], ["eager"], ["cpu"], threads=1, min_time=0, max_time=.1, width=32,
                                   height=32), log=lambda e: None, paths=[_any_image(tmp_path)])
    assert res[0].skipped.startswith("pipeline: the network has no detection head (")
    assert res[0].skipped.endswith("): nothing to detect with") and res[0].stages is None


def _any_image(tmp_path):
    from PIL import Image
    p = tmp_path / "grey.png"
    Image.new("RGB", (40, 30), (128, 128, 128)).save(p)
    return str(p)


# -- the real pipelines -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def samples():
    if not SAMPLES:
        require("darknet's sample pictures (/usr/share/darknet/data/*.jpg) are not here (apt-get install darknet)")
    return SAMPLES


def test_darkbench_stages_run_what_darkbench_detect_runs(trained_weights, samples, monkeypatch):
    """The pipeline's image decode, preparation, boxes and NMS are darkbench.detect's own calls: the same
    detections on every sample image, through the same functions."""
    calls = {"head_rows": 0, "suppressed": 0}
    for name in calls:
        real = getattr(detect, name)
        monkeypatch.setattr(detect, name, lambda *a, _real=real, _name=name, **k: (
            calls.__setitem__(_name, calls[_name] + 1), _real(*a, **k))[1])
    cfg = darkbench.paths.resolve("yolov3-tiny.cfg")
    with detect.Engine(cfg, trained_weights, batch=1) as engine:
        for path in samples:
            got = pipeline.darkbench_image(engine, engine.net, path, Stamps(lambda: 0.0), .5)
            want = next(detect.each_network_boxes(engine.model, [path], .5, batch=1))
            np.testing.assert_array_equal(got.boxes, want.boxes)
            np.testing.assert_array_equal(got.probs, want.probs)
            assert got.nms_kind == want.nms_kind == "default" and got.letter_box
    assert calls == {"head_rows": 2 * len(samples), "suppressed": 2 * len(samples)}
    dog = [d.name for d in darkbench.detect(cfg, samples[0], .5, weights=trained_weights)[0]]
    assert samples[0].endswith("dog.jpg") and dog == ["dog", "car", "truck", "car", "bicycle"]  # darknet's lines


def test_real_pipelines_time_themselves(trained_weights, samples, darknet):
    """Every pipeline backend on yolov3-tiny (trained weights, 96x96 so darknet's loop is quick) over two
    sample images: each result's stages, adding up to the end to end pass by pass, its cold start (no timing is
    asserted: how close the medians' sum comes to the end-to-end median is printed by tests/bench_pipeline.py)."""
    for module in ("onnxruntime", "openvino", "cv2"):
        require_module(module)
    backends = ["eager", "onnxruntime", "openvino", "opencv", "darknet"]
    config = BenchConfig(["yolov3-tiny.cfg"], backends, ["cpu"], threads=1, min_time=0, max_time=3, width=96,
                         height=96, weights={"yolov3-tiny.cfg": str(trained_weights)})
    res = pipeline.run(config, log=lambda e: None, paths=samples[:2])
    assert [r.backend for r in res] == backends
    for r in res:
        assert r.error is None and r.skipped is None, (r.backend, r.error, r.skipped)
        assert r.samples >= 1 and r.pipeline_ms > 0 and r.weights == f"given: {trained_weights.name}"
        assert r.weights_sha256 == hashlib.sha256(trained_weights.read_bytes()).hexdigest()
        for i, end in enumerate(r.pipeline_samples_ms):
            # each figure is written rounded to 1e-5 ms: the sum of n rounded stages is within (n + 1) half-units
            assert sum(s["samples_ms"][i] for s in r.stages.values()) == pytest.approx(
                end, abs=(len(r.stages) + 1) * 0.5e-5 + 1e-9)
        assert r.cold_start["load_s"] > 0 and r.cold_start["first_ms"] > 0
    by = {r.backend: r for r in res}
    assert list(by["eager"].stages) == ["decode", "prepare", "forward", "boxes", "nms"]
    assert list(by["opencv"].stages) == ["decode", "detect"] and list(by["darknet"].stages) == ["forward", "rest"]
    assert by["onnxruntime"].cold_start["compile_s"] > 0  # the ONNX export and the session
    assert by["opencv"].cold_start["compile_s"] is None and by["darknet"].cold_start["compile_s"] is None
    # darknet's forward is the figure it printed; the rest of its loop (reading, letterbox, drawing, writing) is
    # what the pipe round trip took beyond it
    assert 0 < by["darknet"].stages["rest"]["median_ms"] < by["darknet"].pipeline_ms


def test_the_forks_detector_loop_times_itself(alexeyab_fork, samples):
    """The fork's `detector test` loop (a fork cfg, random weights the fork reads, 64x64 so its loop is quick):
    its printed milli-seconds as the forward, the rest of its loop beside it."""
    config = BenchConfig(["yolov4-tiny.cfg"], ["darknet"], ["cpu"], threads=1, min_time=0, max_time=1, width=64,
                         height=64)
    (r,) = pipeline.run(config, log=lambda e: None, paths=samples[:2])
    assert r.error is None and r.skipped is None and r.dialect == "alexeyab", (r.error, r.skipped)
    assert list(r.stages) == ["forward", "rest"] and "AlexeyAB fork's detector test" in r.stages["forward"]["what"]
    assert "resize" in r.stages["rest"]["what"]  # the fork resizes unless [net] letter_box=1
    for i, end in enumerate(r.pipeline_samples_ms):
        assert r.stages["forward"]["samples_ms"][i] + r.stages["rest"]["samples_ms"][i] == pytest.approx(end)
