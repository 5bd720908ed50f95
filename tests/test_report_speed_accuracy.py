"""Speed against accuracy, the accuracy tolerance's flag and the precision table, on hand-made records whose
answers are worked out here: the Pareto front of a named set of points, which entries are flagged and why, the
fallback from bench --data's accuracy to the agreement mAP, combinations a backend does not run shown with their
reason, and the figure written."""
import json

import pandas as pd
import pytest

from darkbench.bench.backends import registry
from darkbench.bench.record import Record
from darkbench.bench.tolerance import accuracy, loses_accuracy
from darkbench.cli import main
from darkbench.report.checks import flag, precision_table
from darkbench.report.data import host_label
from darkbench.report.speed_accuracy import pareto, table

PNG = b"\x89PNG\r\n\x1a\n"
ENV = {"host": "hand", "cpu": "made-up CPU", "timestamp": "2026-12-06T00:00:00"}


def _row(backend, dtype, ms, map50=None, ci=None, **kw):
    """A measured (or, with skipped=/error=, not measured) batch-1 entry of yolov3-tiny as a results row."""
    ran = "skipped" not in kw and "error" not in kw
    r = Record(model="yolov3-tiny", path="cfg/yolov3-tiny.cfg", backend=backend, device="cpu", dtype=dtype, batch=1,
               input=[3, 416, 416], median_ms=ms if ran else None, samples=20 if ran else 0,
               images_per_s=1000 / ms if ran else None, agreement_map50=map50, agreement_map50_ci95=ci,
               traits=registry.record_traits(backend), env=ENV, **kw)
    return r.to_json()


def test_pareto_front_of_named_points():
    # (ms, accuracy): A is fastest; B beats C on both; D and E are equally accurate, D faster; F equals B
    points = {"A": (1, .5), "B": (2, .9), "C": (3, .8), "D": (4, 1.0), "E": (5, 1.0), "F": (2, .9), "G": (1.5, .4)}
    front = dict(zip(points, pareto(list(points.values()))))
    assert {k for k, v in front.items() if v} == {"A", "B", "D", "F"}  # C by B, E by D, G by A
    assert pareto([(3, .2)]) == [True]


def test_table_marks_the_front_per_network_in_backend_and_dtype_order():
    rows = [_row("onnxruntime", "int8", 4.0, .97, [.9, 1.0]), _row("onnxruntime", "fp32", 9.0, 1.0, [1.0, 1.0]),
            _row("eager", "fp32", 12.0, 1.0, [1.0, 1.0]), _row("openvino", "int8", 3.0, .80, [.7, .9]),
            _row("openvino", "fp16", 8.0, .99, [.95, 1.0]),
            _row("darknet", "fp32", 30.0),  # no accuracy: no point
            _row("eager", "bf16", 0, skipped="not here"),  # not measured: no point
            dict(_row("eager", "fp32", 40.0, .2), model="tiny")]  # another network: a front of its own
    df = table(rows, host_label)
    got = [(m, b, d, p) for m, b, d, p in zip(df["model"], df["backend"], df["dtype"], df["pareto"])]
    # traits' order: eager (10) before onnxruntime (40) before openvino (50); dtypes fp32, bf16, fp16, int8
    assert got == [("tiny", "eager", "fp32", "yes"),
                   ("yolov3-tiny", "eager", "fp32", ""), ("yolov3-tiny", "onnxruntime", "fp32", "yes"),
                   ("yolov3-tiny", "onnxruntime", "int8", "yes"), ("yolov3-tiny", "openvino", "fp16", "yes"),
                   ("yolov3-tiny", "openvino", "int8", "yes")]
    ov = df[(df["backend"] == "openvino") & (df["dtype"] == "int8")].iloc[0]
    assert (ov["median_ms"], ov["images_per_s"], ov["accuracy"], ov["accuracy_lo"], ov["accuracy_hi"]) == \
        (3.0, 333.33, .8, .7, .9)
    assert ov["outputs"] == "LOSES ACCURACY: mAP@0.5 vs fp32 eager's detections 0.80 [0.70, 0.90] < 0.9"
    assert set(df["accuracy_of"]) == {"mAP@0.5 vs fp32 eager's detections (darknet's sample images)"}
    assert table([_row("eager", "fp32", 5.0)], host_label).empty


@pytest.mark.parametrize("fields, says", [
    (dict(agreement_map50=.89, agreement_map50_ci95=[.8, .95]), "mAP@0.5 vs fp32 eager's detections 0.89"),
    (dict(agreement_map50=.9, agreement_map50_ci95=[.8, 1.0]), None),  # at the tolerance: within
    (dict(accuracy=.85, accuracy_against="fp32 eager's detections", accuracy_metric="mAP@0.5"),
     "mAP@0.5 vs fp32 eager's detections 0.85 < 0.9"),
    # against labels: the change against its own fp32 decides, with its CI entirely below -0.02
    (dict(accuracy=.40, accuracy_against="labels", accuracy_metric="mAP@0.5", accuracy_change=-.05,
          accuracy_change_ci95=[-.08, -.03]), "mAP@0.5 -0.050 [-0.080, -0.030] vs own fp32 < -0.02"),
    (dict(accuracy=.40, accuracy_against="labels", accuracy_metric="mAP@0.5", accuracy_change=-.05,
          accuracy_change_ci95=[-.09, .01]), None),  # could be noise
    (dict(accuracy=.40, accuracy_against="labels", accuracy_metric="top-1", accuracy_change=-.03),
     "top-1 -0.030 vs"),
    # labelled accuracy low in itself, but no worse than fp32's: the agreement mAP is not what is judged
    (dict(accuracy=.40, accuracy_against="labels", accuracy_change=0.0, agreement_map50=.5), None),
])
def test_flag_beyond_and_within_tolerance(fields, says):
    r = dict(_row("onnxruntime", "int8", 4.0), **fields)
    why = loses_accuracy(r)
    assert (why is None) if says is None else why.startswith(says), why
    verdict = flag(r)
    assert verdict == "ok" if says is None else verdict == f"LOSES ACCURACY: {why}"


def test_flag_sits_beside_disagrees():
    r = _row("onnxruntime", "int8", 4.0, .5, rel_l2=.6)
    assert flag(r) == ("DISAGREES: rel L2 0.6 > 0.3 (int8 tolerance); "
                       "LOSES ACCURACY: mAP@0.5 vs fp32 eager's detections 0.50 < 0.9")


def test_accuracy_falls_back_to_the_agreement_map():
    both = _row("eager", "fp32", 5.0, .95, [.9, 1.0], accuracy=.31, accuracy_ci95=[.28, .35], accuracy_metric="mAP@0.5",
                accuracy_against="labels", accuracy_data="coco.data")
    assert accuracy(both) == (.31, [.28, .35], "mAP@0.5 vs labels on coco.data")
    assert accuracy(_row("eager", "fp32", 5.0, .95, [.9, 1.0])) == (
        .95, [.9, 1.0], "mAP@0.5 vs fp32 eager's detections (darknet's sample images)")
    assert accuracy(_row("eager", "fp32", 5.0)) is None
    df = table([both, _row("onnxruntime", "fp32", 4.0, .97, [.9, 1.0])], host_label)
    assert list(df["accuracy"]) == [.31, .97] and list(df["accuracy_of"]) == [
        "mAP@0.5 vs labels on coco.data", "mAP@0.5 vs fp32 eager's detections (darknet's sample images)"]


def test_unsupported_combinations_are_skips_saying_why():
    """What the backends declare: a combination outside it is skipped by the runner with this reason."""
    why = {(b, d): registry.backends()[b]().unsupported("cpu", d, 1)
           for b in ("eager", "compile", "onnxruntime", "openvino", "opencv") for d in ("fp32", "bf16", "fp16", "int8")}
    assert why["eager", "int8"].startswith("the eager backend runs fp32, bf16 only on cpu (")
    assert why["compile", "fp16"].startswith("the compile backend runs fp32, bf16 only on cpu (fp16 is not a CPU")
    assert why["opencv", "bf16"].startswith("the opencv backend runs fp32 only (")
    assert why["onnxruntime", "bf16"].startswith("the onnxruntime backend runs fp32, fp16, int8 only on cpu")
    runs = {k for k, v in why.items() if v is None}
    assert runs == {("eager", "fp32"), ("eager", "bf16"), ("compile", "fp32"), ("compile", "bf16"),
                    ("onnxruntime", "fp32"), ("onnxruntime", "fp16"), ("onnxruntime", "int8"), ("opencv", "fp32"),
                    *(("openvino", d) for d in ("fp32", "bf16", "fp16", "int8"))}


def test_precision_table_has_every_combination_with_its_reason():
    rows = [_row("eager", "fp32", 12.0, 1.0, [1.0, 1.0], model_bytes=35_500_000),
            _row("eager", "int8", 0, skipped="the eager backend runs fp32, bf16 only on cpu (why)"),
            _row("onnxruntime", "int8", 4.0, .8, [.7, .9], model_bytes=9 * 2 ** 20, convs=13, convs_at_dtype=11,
                 speedup_vs_fp32=2.25, speedup_vs_fp32_ci95=[2.0, 2.5], rel_l2=.2),
            _row("onnxruntime", "fp32", 9.0, 1.0, [1.0, 1.0], model_bytes=35 * 2 ** 20),
            _row("openvino", "int8", 0, error="DarkbenchError: none of the 13 convolutions ran in int8"),
            dict(_row("eager", "fp32", 3.0), model="tiny")]  # fp32 only: not a precision run
    rows = [dict(r, weights="given: yolov3-tiny.weights") for r in rows]
    rows.append(dict(_row("fused", "fp32", 10.0), weights="random"))  # another run's weights: not beside these
    df = precision_table(rows, host_label)
    assert list(zip(df["backend"], df["dtype"])) == [("eager", "fp32"), ("eager", "int8"), ("onnxruntime", "fp32"),
                                                    ("onnxruntime", "int8"), ("openvino", "int8")]
    df = df.set_index(["backend", "dtype"])
    assert df.loc[("eager", "int8"), "outputs"] == "skipped: the eager backend runs fp32, bf16 only on cpu (why)"
    assert pd.isna(df.loc[("eager", "int8"), "median_ms"]) and pd.isna(df.loc[("eager", "int8"), "model_mib"])
    assert df.loc[("openvino", "int8"), "outputs"].startswith("error: DarkbenchError: none of the 13")
    q = df.loc[("onnxruntime", "int8")]
    assert (q["median_ms"], q["images_per_s"], q["model_mib"], q["at_dtype"], q["speedup"], q["map50"]) == \
        (4.0, 250.0, 9.0, "11/13", "2.25 [2.00, 2.50]", "0.80 [0.70, 0.90]")
    assert q["outputs"].startswith("LOSES ACCURACY: mAP@0.5")
    assert df.loc[("eager", "fp32"), "model_mib"] == 33.86 and df.loc[("eager", "fp32"), "outputs"] == "ok"
    assert set(df["weights"]) == {"given: yolov3-tiny.weights"}
    assert precision_table([r for r in rows if r["dtype"] == "fp32"], host_label).empty


def test_report_shows_the_section_and_writes_the_figure(tmp_path):
    rows = [_row("eager", "fp32", 12.0, 1.0, [1.0, 1.0]), _row("eager", "int8", 0, skipped="not run by eager"),
            _row("onnxruntime", "fp32", 9.0, 1.0, [1.0, 1.0]), _row("onnxruntime", "int8", 4.0, .8, [.7, .9])]
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "bench-hand.json").write_text(json.dumps(rows))
    out = tmp_path / "out"
    assert main(["report", "--results", str(tmp_path / "r"), "--out", str(out), "--models", "yolov3-tiny.cfg"]) == 0
    png = (out / "figures" / "speed_accuracy.png").read_bytes()
    assert png.startswith(PNG) and len(png) > 10_000
    csv = pd.read_csv(out / "data" / "speed_accuracy.csv")
    # eager fp32: as accurate as onnxruntime's fp32 and slower; onnxruntime fp32 the most accurate, int8 the fastest
    assert list(csv["pareto"].fillna("")) == ["", "yes", "yes"]
    md = (out / "report.md").read_text()
    assert "## Speed against accuracy" in md and "![Speed against accuracy](figures/speed_accuracy.png)" in md
    assert "below 0.9" in md and "1 measurement(s) lose accuracy beyond the tolerance of fp32" in md
    assert "skipped: not run by eager" in md
    plain = tmp_path / "plain"  # results without an accuracy: no section, no figure, no table file
    (tmp_path / "r" / "bench-hand.json").write_text(json.dumps([_row("eager", "fp32", 12.0)]))
    assert main(["report", "--results", str(tmp_path / "r"), "--out", str(plain), "--models", "yolov3-tiny.cfg"]) == 0
    assert not (plain / "figures" / "speed_accuracy.png").exists()
    assert not (plain / "data" / "speed_accuracy.csv").exists()
    assert "Speed against accuracy" not in (plain / "report.md").read_text()


def test_torch_model_bytes_are_the_weights_as_held(tmp_path):
    """eager's model_bytes: every value the .weights file stores, at 4 bytes in fp32 (the file less darknet's
    20-byte header), at 2 in bf16."""
    import torch

    import darkbench
    from darkbench.bench.backends.torchbase import held_bytes
    w = tmp_path / "t.weights"
    assert main(["weights", "init", "yolov3-tiny.cfg", str(w), "--seed", "1"]) == 0
    m = darkbench.load("yolov3-tiny.cfg", str(w))
    assert held_bytes(m) == w.stat().st_size - 20
    assert held_bytes(m.to(torch.bfloat16)) == (w.stat().st_size - 20) // 2


def test_trained_weights_runs_stand_beside_the_random_ones(tmp_path):
    """make report runs yolov3-tiny with random weights (the main run, per-layer times) and again with trained
    ones (the precision run): neither replaces the other. The one-entry-per-backend tables keep the random run;
    the precision and speed-accuracy tables the trained one."""
    from darkbench.report.build import Tables, _sections
    from darkbench.report.data import latest, networks
    randoms = _row("eager", "fp32", 50.0, layers=[{"layer": 0, "ms": 1.0}])
    trained = dict(_row("eager", "fp32", 60.0, 1.0, [1.0, 1.0], weights="given: yolov3-tiny-coco.weights",
                        weights_sha256="ab" * 32), env=dict(ENV, timestamp="2026-12-06T01:00:00"))
    int8 = dict(_row("onnxruntime", "int8", 20.0, .97, [.9, 1.0], weights_sha256="ab" * 32))
    kept, superseded = latest([randoms, trained, int8])
    assert superseded == 0 and len(kept) == 3
    nets = networks(["cfg/yolov3-tiny.cfg"])
    t = Tables(_sections(nets), nets, kept)
    assert sorted((r["backend"], r["median_ms"]) for r in t.results) == [("eager", 50.0), ("onnxruntime", 20.0)]
    assert list(t["latency_runs"]["median_ms"]) == [50.0, 20.0]
    sa = t["speed_accuracy"]
    assert sorted(zip(sa["backend"], sa["median_ms"])) == [("eager", 60.0), ("onnxruntime", 20.0)]
