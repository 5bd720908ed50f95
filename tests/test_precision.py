"""Reduced precisions: the dtype vocabulary, the nodes the layers keep in fp32 against the exported graph, the
calibration images, what ONNX Runtime and OpenVINO ran read back from their graphs (int8 with none quantized an
error; yolov3-tiny with its trained weights quantized everywhere but the padding), the speed-up over the same
backend's fp32 from one interleaved group, and the report's precision table."""
import json
from pathlib import Path

import numpy as np
import pytest

from darkbench import export
from darkbench.bench import agreement, precision, runner, stats
from darkbench.bench.backends import base, registry
from darkbench.bench.config import BenchConfig
from darkbench.bench.dtypes import DTYPES, tolerance_text
from darkbench.bench.model import Model
from darkbench.bench.record import Record
from darkbench.errors import DarkbenchError
from require import require, require_module

ROOT = Path(__file__).resolve().parents[1]
CFGS = ROOT / "tests" / "cfgs"
TRAINED = ROOT.parent / "shared" / "weights" / "yolov3-tiny-coco.weights"
SAMPLES = Path(precision.SAMPLE_IMAGES)
FLT_MAX = float(np.finfo(np.float32).max)


def random_model(tmp_path, cfg, width=None, height=None):
    m = Model.analyse(str(cfg), width, height)
    m.weights = runner._random_weights(m.net, str(tmp_path / f"{m.name}-{width}.weights"), 0)
    return m


@pytest.fixture(scope="module")
def trained():
    """yolov3-tiny with its trained COCO weights (../shared/weights, as CI has them)."""
    if not TRAINED.exists():
        require(f"the trained weights are not at {TRAINED}")
    m = Model.analyse(str(ROOT / "cfg" / "yolov3-tiny.cfg"))
    m.weights = str(TRAINED)
    return m


def samples():
    if not SAMPLES.is_dir():
        require(f"darknet's sample images are not in {SAMPLES} (Debian package darknet)")
    return sorted(SAMPLES.glob("*.jpg"))


# --- the vocabulary -----------------------------------------------------------------------------------------

def test_int8_is_a_quantized_dtype_with_its_own_tolerance():
    assert DTYPES["int8"].quantized and DTYPES["int8"].item_bytes == 1 and DTYPES["int8"].tolerance == 0.3
    assert not any(DTYPES[d].quantized for d in ("fp32", "bf16", "fp16"))
    # the report's text for results without int8 stays what it was; with int8 it says int8's tolerance too
    assert tolerance_text({"fp32"}) == "fp32 0.0001, bf16 0.05, fp16 0.01"
    assert tolerance_text({"fp32", "int8"}) == "fp32 0.0001, bf16 0.05, fp16 0.01, int8 0.3"


@pytest.mark.parametrize("name", ["eager", "fused", "compile"])
def test_torch_backends_refuse_int8_and_cpu_fp16_from_their_declaration(name):
    b = registry.get(name)()
    assert b.unsupported("cpu", "int8", 1).startswith(f"the {name} backend runs fp32, bf16 only on cpu (")
    assert "int8 is quantized by the ONNX Runtime and OpenVINO backends" in b.unsupported("cpu", "int8", 1)
    assert b.unsupported("cpu", "fp16", 1) and b.unsupported("cpu", "bf16", 1) is None


def test_engines_declare_their_precisions():
    ort, ov = registry.get("onnxruntime")(), registry.get("openvino")()
    assert ort.unsupported("cpu", "int8", 1) is None and ort.unsupported("cpu", "fp16", 1) is None
    assert ort.unsupported("cpu", "bf16", 1) and ort.unsupported("cuda", "int8", 1)
    assert all(ov.unsupported("cpu", d, 1) is None for d in DTYPES)


# --- what the layers keep in fp32, against the exported graph ------------------------------------------------

def _fill_pads(graph):
    """The Pad nodes of an exported graph that pad with -FLT_MAX (read from their constant_value input)."""
    from onnx import numpy_helper
    consts = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for n in graph.node:
        if n.op_type == "Constant":
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    return {n.name for n in graph.node if n.op_type == "Pad" and len(n.input) > 2
            and consts.get(n.input[2]) is not None and float(np.min(consts[n.input[2]])) <= -FLT_MAX}


def _fill_readers(graph, pads):
    """The nodes that read a fill (not its Shape), through Reshapes, up to the MaxPool or ReduceMax reading it."""
    tensors = {o for n in graph.node if n.name in pads for o in n.output}
    found = set()
    for n in graph.node:  # topological order
        if n.op_type != "Shape" and tensors & set(n.input):
            found.add(n.name)
            if n.op_type == "Reshape":
                tensors.update(n.output)
            else:
                assert n.op_type in ("MaxPool", "ReduceMax"), n.name
    return found


@pytest.mark.parametrize("cfg, size", [("cfg/yolov3-tiny.cfg", None), ("tests/cfgs/maxpool_padding_only.cfg", None),
                                       ("tests/cfgs/edges_pool_conv.cfg", None), ("tests/cfgs/pools_routes.cfg", None),
                                       ("tests/cfgs/alexeyab/pool_route_shortcut.cfg", None),
                                       ("spp", None),
                                       ("tests/cfgs/alexeyab/forward.cfg", None), ("cfg/tiny.cfg", 64)])
def test_kept_nodes_are_the_minus_flt_max_pads_and_their_readers(tmp_path, cfg, size):
    onnx = require_module("onnx")
    if cfg == "spp":  # yolov3-spp's block: stride-1 pools of 5, 9 and 13, routed together
        cfg = tmp_path / "spp.cfg"
        cfg.write_text("[net]\nwidth=26\nheight=20\nchannels=3\n\n[convolutional]\nfilters=4\nsize=3\nstride=2\npad=1\n"
                       "activation=leaky\n\n" + "".join(f"[maxpool]\nstride=1\nsize={k}\n\n[route]\nlayers=-2\n\n"
                                                     for k in (5, 9, 13)) + "[route]\nlayers=-2,-4,-6,-7\n")
    m = random_model(tmp_path, ROOT / cfg, size, size)
    f = export.export_onnx(m.build(fuse=True), tmp_path / "m.onnx")
    graph = onnx.load(f).graph
    kept = export.kept_fp32(m.net, graph)
    pads = _fill_pads(graph)
    assert {n for n in kept if n.endswith("/Pad")} == pads  # every -FLT_MAX fill, and no other Pad
    assert set(kept) == pads | _fill_readers(graph, pads)  # and what carries each fill to the max that drops it
    assert all(export.layer_of(n) is not None for n in kept)
    if cfg == "cfg/yolov3-tiny.cfg":
        assert set(kept) == {"/layers.11/Pad", "/layers.11/MaxPool"}  # the stride-1 pool before the first head
        assert "-FLT_MAX padding" in kept["/layers.11/Pad"]


def test_layer_of_reads_the_exporters_names():
    assert export.layer_of("/layers.11/Pad") == 11 and export.layer_of("/layers.0/conv/Conv") == 0
    assert export.layer_of("Constant_91") is None and export.layer_of("/other/layers.3/x") is None


# --- calibration images ---------------------------------------------------------------------------------------

def test_calibration_sources(tmp_path, monkeypatch):
    imgs = samples()
    assert precision.calibration_images(SAMPLES) == [str(p) for p in imgs]  # a folder: its images, sorted
    monkeypatch.chdir(tmp_path)
    (tmp_path / "two.txt").write_text(f"{imgs[3]}\n{imgs[0]}\n")
    assert precision.calibration_images("two.txt") == [str(imgs[3]), str(imgs[0])]  # a list: in its order
    (tmp_path / "set.data").write_text("classes = 80\n valid = two.txt\ntrain=elsewhere.txt\nnames=coco.names\n")
    assert precision.calibration_images("set.data") == [str(imgs[3]), str(imgs[0])]  # valid=, as map reads it
    assert precision.calibration_images(imgs[2]) == [str(imgs[2])]
    many = tmp_path / "many.txt"
    many.write_text(f"{imgs[0]}\n" * 150)
    assert len(precision.calibration_images(many)) == precision.CALIB_MAX


@pytest.mark.parametrize("write, says", [
    (lambda d: None, "calib: no such calibration folder, image list or .data file"),
    (lambda d: (d / "calib").mkdir(), "calib: no images"),
    (lambda d: (d / "calib").write_text("a.jpg\n"), "calib:1: no such image: a.jpg"),
    (lambda d: (d / "calib").write_text(""), "calib: calibration list is empty"),
    (lambda d: (d / "calib").write_bytes(b"\0\1"), "calib: holds NUL bytes"),
    (lambda d: (d / "calib.data").write_text("names=coco.names\n"), "calib.data: no valid= line"),
])
def test_bad_calibration_is_one_line(tmp_path, monkeypatch, write, says):
    monkeypatch.chdir(tmp_path)
    write(tmp_path)
    name = says.split(":")[0]
    with pytest.raises(DarkbenchError) as e:
        precision.calibration_images(name)
    assert says in str(e.value) and "\n" not in str(e.value)


def test_without_calib_int8_calibrates_on_the_data_else_the_sample_images(tmp_path):
    imgs = samples()
    (tmp_path / "two").mkdir()
    for p in imgs[:2]:
        (tmp_path / "two" / p.name).write_bytes(p.read_bytes())
    m = random_model(tmp_path, ROOT / "cfg" / "tiny.cfg", 64, 48)
    with_data = BenchConfig(models=["tiny.cfg"], dtypes=["int8"], data=str(tmp_path / "two"))
    assert precision.calibration_batches(m, 1, with_data)[1] == f"2 image(s) from {tmp_path / 'two'}, letterboxed"
    alone = BenchConfig(models=["tiny.cfg"], dtypes=["int8"])
    assert precision.calibration_batches(m, 1, alone)[1].startswith(f"{len(imgs)} image(s) from ")


def test_calib_is_checked_with_the_config(tmp_path):
    with pytest.raises(DarkbenchError, match=r"calib .*: only a quantized dtype calibrates \(dtypes: fp32\)"):
        BenchConfig(models=["tiny.cfg"], calib=str(SAMPLES))
    with pytest.raises(DarkbenchError, match="no such calibration folder"):
        BenchConfig(models=["tiny.cfg"], dtypes=["int8"], calib=str(tmp_path / "none"))


def test_calibration_batches_prepare_images_as_the_agreement_check(tmp_path):
    imgs = samples()
    m = random_model(tmp_path, ROOT / "cfg" / "tiny.cfg", 64, 48)
    batches, what = precision.calibration_batches(m, 3)
    assert [b.shape for b in batches] == [(3, 3, 48, 64)] * 3 and what.startswith(f"{len(imgs)} image(s) from ")
    x, _ = agreement.inputs((3, 48, 64))
    flat = np.concatenate(batches)
    np.testing.assert_array_equal(flat[:len(imgs)], x[:len(imgs)])  # letterboxed as the agreement's inputs
    np.testing.assert_array_equal(flat[len(imgs):], x[:9 - len(imgs)])  # the last batch filled by cycling


def test_a_detectors_calibration_images_are_prepared_as_its_detector_prepares_them(tmp_path):
    """The fork's detector resizes (without [net] letter_box=1), 2018's letterboxes: calibrating on other pixels
    than the detector will see would calibrate other ranges."""
    from darkbench import detect
    from darkbench.image import letterbox, load_color
    img = samples()[0]
    for cfg, letter in (("tests/cfgs/alexeyab/yolo_head.cfg", False), ("cfg/yolov3-tiny.cfg", True)):
        net = Model.analyse(str(ROOT / cfg)).net
        x = precision.prepare_image(net, img)
        np.testing.assert_array_equal(x, detect.prepare(net, str(img)).x)
        boxed = letterbox(load_color(img), net.width, net.height)
        assert np.array_equal(x, boxed) == letter
    m = random_model(tmp_path, ROOT / "tests/cfgs/alexeyab/yolo_head.cfg")
    assert precision.calibration_batches(m, 1)[1].endswith(", as its detector prepares them")


# --- what the engines ran ---------------------------------------------------------------------------------------

ENGINES = ["onnxruntime", "openvino"]
MODULES = {"onnxruntime": "onnxruntime.quantization", "openvino": "nncf"}


def _prepare(name, m, dtype, batch=1):
    require_module(MODULES[name])
    return registry.prepare(name, m, "cpu", dtype, batch, threads=2)


@pytest.mark.parametrize("name", ENGINES)
def test_a_layer_no_quantizer_takes_is_an_error_not_int8(tmp_path, name):
    """[local] (per-position weights: a batched MatMul in ONNX) is left in fp32 by both quantizers: an int8 entry
    where nothing ran quantized is an error, in one line, never a result."""
    cfg = tmp_path / "local.cfg"
    cfg.write_text("[net]\nwidth=24\nheight=24\nchannels=3\n\n[local]\nfilters=4\nsize=3\nstride=1\npad=1\n"
                   "activation=leaky\n")
    samples()
    with pytest.raises(DarkbenchError) as e:
        _prepare(name, random_model(tmp_path, cfg), "int8")
    assert "none of the 1 convolutions and matrix products ran in int8" in str(e.value)
    assert str(e.value).endswith("(not a result called int8)") and "\n" not in str(e.value)


@pytest.mark.parametrize("name", ENGINES)
def test_int8_yolov3_tiny_quantizes_every_convolution_but_keeps_the_padding(trained, name):
    """With its trained weights: the share read back from the graph the engine ran is every convolution (the
    13 of the cfg; the layers keep only layer 11's -FLT_MAX Pad and its MaxPool), the model file about a quarter
    of fp32's, and the outputs within int8's tolerance of darkbench's fp32."""
    samples()
    convs = sum(1 for l in trained.net.layers if l.type == "convolutional")
    r = _prepare(name, trained, "int8")
    try:
        fp32 = _prepare(name, trained, "fp32")
        e = r.extra
        assert (e["convs"], e["convs_at_dtype"]) == (convs, 13)
        assert [k.split(":")[0] for k in e["kept_fp32"]] == ["/layers.11/Pad", "/layers.11/MaxPool"]
        assert 0.2 < e["model_bytes"] / fp32.extra["model_bytes"] < 0.3  # int8 weights, fp32 biases and scales
        assert e["calibration"] == f"{len(samples())} image(s) from {SAMPLES}, as its detector prepares them"
        got = agreement.check(r, base.Case(trained, "cpu", "int8", 1), {})
        assert 1e-3 < got["rel_l2"] < DTYPES["int8"].tolerance
        assert got["agreement_map50"] >= 0.9 and got["agreement_map50_ci95"][1] <= 1
        assert "detections: agreement mAP@0.5 against fp32 eager's" in got["agreement"]
    finally:
        r.close()


def test_int8_without_the_layers_trait_loses_the_objects(trained, monkeypatch):
    """The same quantization with nothing kept in fp32: calibrating the -FLT_MAX padding moves yolov3-tiny's
    outputs beyond int8's tolerance (the report flags it); with OpenVINO, NNCF leaves the convolution after the
    pool in fp32, which the share read back shows."""
    samples()
    monkeypatch.setattr(export, "kept_fp32", lambda net, graph: {})
    r = _prepare("onnxruntime", trained, "int8")
    try:
        got = agreement.check(r, base.Case(trained, "cpu", "int8", 1), {})
        assert got["rel_l2"] > DTYPES["int8"].tolerance and r.extra["convs_at_dtype"] == 13
        assert agreement.disagrees(dict(got, dtype="int8")).endswith("(int8 tolerance)")
        assert got["agreement_map50"] < 0.2  # the boxes are lost, not moved
    finally:
        r.close()
    r = _prepare("openvino", trained, "int8")
    r.close()
    assert (r.extra["convs"], r.extra["convs_at_dtype"]) == (13, 12) and "kept_fp32" in r.extra


def test_fp16_is_what_the_engine_runs_or_skipped_saying_what_ran(trained):
    """ONNX Runtime's CPU provider on x86 has no fp16 convolutions: the fp16 model's convolutions are cast back to
    fp32, and the entry says so instead of timing fp32 as fp16. OpenVINO runs f16 where the CPU has it."""
    require_module("onnxruntime")
    try:
        r = _prepare("onnxruntime", trained, "fp16")
        r.close()
        assert 0 < r.extra["convs_at_dtype"] <= r.extra["convs"] == 13
    except base.Skip as s:
        assert str(s) == ("none of the 13 convolutions and matrix products ran in fp16: ONNX Runtime's CPU provider "
                          "has no fp16 kernels for them here and cast them to fp32")
    ov = require_module("openvino")
    caps = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    for dtype, cap in (("fp16", "FP16"), ("bf16", "BF16")):
        if cap not in caps:
            with pytest.raises(base.Skip, match=f"OpenVINO has no {dtype} on this CPU"):
                _prepare("openvino", trained, dtype)
            continue
        r = _prepare("openvino", trained, dtype)
        r.close()
        assert r.extra["convs"] == r.extra["convs_at_dtype"] == 13


# --- the run: dtypes interleaved, the speed-up recorded -----------------------------------------------------------

@pytest.fixture(scope="module")
def run(tmp_path_factory):
    require_module("onnxruntime.quantization")
    samples()
    out = tmp_path_factory.mktemp("bench") / "r.json"
    config = BenchConfig(models=[str(ROOT / "cfg" / "tiny.cfg")], backends=["eager", "onnxruntime"],
                         dtypes=["fp32", "int8"], width=64, height=64, min_time=0.3, max_time=1.0, out_path=str(out))
    return runner.run(config, log=lambda e: None), json.loads(out.read_text())


def test_dtypes_of_a_device_are_one_interleaved_group(run):
    records, _ = run
    by = {(r.backend, r.dtype): r for r in records}
    assert [(r.backend, r.dtype) for r in records] == [("eager", "fp32"), ("onnxruntime", "fp32"),
                                                      ("eager", "int8"), ("onnxruntime", "int8")]
    assert by["eager", "int8"].skipped.startswith("the eager backend runs fp32, bf16 only on cpu")
    assert by["onnxruntime", "int8"].env is by["onnxruntime", "fp32"].env  # one group: one environment record


def test_speedup_over_the_same_backends_fp32(run):
    records, rows = run
    by = {(r["backend"], r["dtype"]): r for r in rows}
    q, f = by["onnxruntime", "int8"], by["onnxruntime", "fp32"]
    want = float(np.median(f["samples_ms"]) / np.median(q["samples_ms"]))
    assert q["speedup_vs_fp32"] == pytest.approx(want, rel=1e-12)
    lo, hi = q["speedup_vs_fp32_ci95"]
    assert lo <= want <= hi
    assert (q["speedup_vs_fp32"], q["speedup_vs_fp32_ci95"]) == tuple(
        stats.ratio_ci(f["samples_ms"], q["samples_ms"], paired=len(f["samples_ms"]) == len(q["samples_ms"])))
    convs = sum(1 for l in Model.analyse(str(ROOT / "cfg" / "tiny.cfg")).net.layers if l.type == "convolutional")
    assert q["convs"] == q["convs_at_dtype"] == convs
    # fp32 entries and skipped ones carry none of the new fields: their JSON is what it was
    for key in (("onnxruntime", "fp32"), ("eager", "fp32"), ("eager", "int8")):
        assert not {"speedup_vs_fp32", "speedup_vs_fp32_ci95", "convs", "kept_fp32", "calibration"} & set(by[key])


def test_bench_table_and_report_show_the_speedup(run, tmp_path):
    from darkbench.bench.text import bench_table
    from darkbench.report.checks import precision_table
    from darkbench.report.data import host_label
    _, rows = run
    table = bench_table(rows)
    convs = sum(1 for l in Model.analyse(str(ROOT / "cfg" / "tiny.cfg")).net.layers if l.type == "convolutional")
    assert "x own fp32 [CI]" in table and f"{convs}/{convs}" in table
    plain = bench_table([r for r in rows if r["dtype"] == "fp32"])
    assert "x own fp32" not in plain  # fp32 runs print the table they printed
    df = precision_table(rows, host_label)  # every backend x dtype asked for, fp32 and the skipped one too
    assert list(zip(df["backend"], df["dtype"])) == [("eager", "fp32"), ("eager", "int8"), ("onnxruntime", "fp32"),
                                                    ("onnxruntime", "int8")]
    assert df["outputs"][1].startswith("skipped: the eager backend runs fp32, bf16 only on cpu")
    assert list(df["at_dtype"]) == ["", "", "", f"{convs}/{convs}"]
    q = next(r for r in rows if r["dtype"] == "int8" and r["backend"] == "onnxruntime")
    lo, hi = q["speedup_vs_fp32_ci95"]
    assert df["speedup"][3] == f"{q['speedup_vs_fp32']:.2f} [{lo:.2f}, {hi:.2f}]"
    assert df["model_mib"][3] == round(q["model_bytes"] / 2 ** 20, 2)
    assert precision_table([r for r in rows if r["dtype"] == "fp32"], host_label).empty


def test_records_round_trip_and_refuse_bad_precision_fields():
    r = Record(model="m", backend="b", dtype="int8", convs=13, convs_at_dtype=13, model_bytes=9, speedup_vs_fp32=2.5,
               speedup_vs_fp32_ci95=[2.0, 3.0], kept_fp32=["/layers.11/Pad: why"], calibration="7 images")
    d = r.to_json()
    assert Record.from_json(d).to_json() == d
    for field, value, says in (("convs", 1.5, "not an integer"), ("kept_fp32", "x", "not a list of texts"),
                               ("speedup_vs_fp32", -1, "not a finite number"),
                               ("speedup_vs_fp32_ci95", [float("nan")], "not a list of finite numbers")):
        with pytest.raises(DarkbenchError, match=f"{field} .*{says}"):
            Record.from_json(dict(d, **{field: value}), "f.json", 0)


# --- detections' agreement -------------------------------------------------------------------------------------

def _dets(boxes, probs):
    from darkbench.detect import Detections
    return Detections(np.asarray(boxes, float).reshape(-1, 4), np.ones(len(probs), np.float32),
                      np.asarray(probs, np.float32).reshape(len(probs), 2), 100, 100, 0.005, True, "pjreddie", "")


def test_agreement_map_by_hand():
    """Two images, one object of class 0 each. Ranked: image 0's exact box (.9, a hit), image 1's box beside its
    object (.8, IoU 1/3: a miss), image 1's exact box (.3, a hit): precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1.
    COCO's 101 points take the best precision at or beyond each recall: 1 for the 51 points up to 0.5, 2/3 for the
    50 after: (51 + 50 * 2/3) / 101. A class found where the truth has none does not count."""
    box = [0.5, 0.5, 0.2, 0.2]
    truth = [_dets([box], [[0.9, 0]]), _dets([box], [[0.8, 0]])]
    found = [_dets([box, [0.1, 0.1, 0.1, 0.1]], [[0.9, 0], [0, 0.7]]),
             _dets([[0.6, 0.5, 0.2, 0.2], box], [[0.8, 0], [0.3, 0]])]
    value, ci = agreement.map50(truth, found, 0.25, n_boot=50)
    assert value == pytest.approx((51 + 50 * 2 / 3) / 101)
    assert ci[0] <= value <= ci[1] <= 1
    assert agreement.map50(truth, truth, 0.25, n_boot=10) == (1.0, [1.0, 1.0])
    assert agreement.map50(truth, [_dets([], []), _dets([], [])], 0.25)[0] == 0


def test_random_weights_detect_noise_and_say_so(tmp_path):
    """With random weights yolov3-tiny's fp32 'finds' thousands of objects per image: no detector output to agree
    on, and the entry says so instead of an mAP."""
    samples()
    m = random_model(tmp_path, ROOT / "cfg" / "yolov3-tiny.cfg")
    r = _prepare("onnxruntime", m, "fp32")
    try:
        got = agreement.check(r, base.Case(m, "cpu", "fp32", 1), {})
    finally:
        r.close()
    assert "agreement_map50" not in got and "detections: not checked: fp32 eager finds" in got["agreement"]
