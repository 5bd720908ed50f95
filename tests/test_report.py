"""The report builds from fixture results without measuring; its tables and images are right.

Fixtures (tests/fixtures/results-*.json) are made-up measurements from two hosts ("fixture-cpu",
"fixture-gpu") in the bench results format, plus an older run of fixture-cpu that must be superseded."""
import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import darkbench
from darkbench import published
from darkbench.cli import main
from require import require

FIX = Path(__file__).resolve().parent / "fixtures"
PNG = b"\x89PNG\r\n\x1a\n"
ROOT = Path(__file__).resolve().parent.parent
FIGURES = ("accuracy_vs_ops", "params_vs_ops", "latency_vs_ops", "layer_ops", "roofline", "ops_vs_size",
           "latency_vs_size", "throughput_vs_batch")
CFGS = ("tiny.cfg", "darknet.cfg", "alexnet.cfg", "squeezenet.cfg", "yolov3-tiny.cfg")


def _fixture(name):
    return json.loads((FIX / name).read_text())


def _fixture_median(host, model, backend):
    for f in ("results-cpu.json", "results-gpu.json"):
        for r in _fixture(f):
            if r["env"]["host"] == host and r["model"] == model and r["backend"] == backend and r["batch"] == 1:
                return r["median_ms"]
    raise KeyError((host, model, backend))


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """Built once, with every way of measuring replaced by a function that fails the test."""
    import darkbench.bench.backends.base as base
    import darkbench.bench.backends.darknet_speed as darknet_speed
    import darkbench.bench.backends.registry as registry
    import darkbench.bench.layers as layers
    import darkbench.bench.measure as measure
    import darkbench.bench.peak as peak
    import darkbench.bench.runner as runner
    out = tmp_path_factory.mktemp("rep")

    def forbidden(*a, **k):
        raise AssertionError("the report must not measure")
    patched = [(runner, "run"), (measure, "interleaved"), (layers, "per_layer"), (peak, "gemm_peak"),
               (darknet_speed, "darknet_speed"), (base.Backend, "prepare")]
    patched += [(b, "prepare") for b in registry.backends().values()]
    saved = [getattr(m, n) for m, n in patched]
    for m, n in patched:
        setattr(m, n, forbidden)
    try:
        assert main(["report", "--results", str(FIX), "--out", str(out)]) == 0
    finally:
        for (m, n), v in zip(patched, saved):
            setattr(m, n, v)
    return out


def test_files(report):
    for f in ["report.md", "index.html"] + [f"figures/{n}.png" for n in FIGURES] + [
            f"data/{n}.csv" for n in ("networks", "published", "claims", "comparison", "latency_runs", "gflops",
                                      "speed_ratios", "not_measured", "layers", "roofline", "keras_inception",
                                      "throughput", "best_batch", "agreement", "memory")]:
        assert (report / f).exists(), f
    for f in FIX.glob("*.json"):  # the raw results are copied in unchanged
        assert (report / "data" / f.name).read_bytes() == f.read_bytes()
    for f in ("report.md", "index.html", "figures/roofline.png", "data/networks.csv"):
        assert os.stat(report / f).st_mode & 0o044, f"{f} is not readable by others"


def test_images_are_valid_pngs(report):
    from PIL import Image
    for png in (report / "figures").glob("*.png"):
        assert png.read_bytes()[:8] == PNG
        with Image.open(png) as im:
            im.verify()
        with Image.open(png) as im:
            assert im.width >= 600 and im.height >= 400, png


def test_networks_table_matches_analysis(report):
    nets = pd.read_csv(report / "data" / "networks.csv").set_index("model")
    for cfg in CFGS:
        a = darkbench.analyse(str(ROOT / "cfg" / cfg))
        row = nets.loc[cfg[:-4]]
        assert (row["ops"], row["macs"], row["params"], row["layers"]) == (a.ops, a.macs, a.params, len(a.layers))
        assert row["size_mib"] == pytest.approx(a.size_mib, abs=5e-4)
        assert row["ops_bn"] == pytest.approx(a.ops / 1e9, abs=5e-4)
    for r in published.table():  # quoted accuracy travels unchanged
        row = nets.loc[r["cfg"][:-4]]
        assert (row["top1_quoted"], row["top5_quoted"]) == (r["top1"], r["top5"])
    # the Keras seed model: the blog post's hand count
    assert nets.loc["inception", "params"] == 124384 + 50177 * 64 + 65 * 2


def test_published_table_beside_verify(report):
    pub = pd.read_csv(report / "data" / "published.csv").set_index("network")
    verdicts = {r["claim"]: r["verdict"] for r in published.verify()}
    assert list(pub.index) == [r["network"] for r in published.table()]
    for r in published.table():
        row, key = pub.loc[r["network"]], r["cfg"][:-4]
        assert row["Ops published"] == r["ops_text"] and row["Size published"] == r["size_text"]
        assert row["Top-1 % (quoted)"] == r["top1"] and row["Top-5 % (quoted)"] == r["top5"]
        a = darkbench.analyse(str(ROOT / "cfg" / r["cfg"]))
        assert row["Ops computed (Bn)"] == pytest.approx(a.ops / 1e9, abs=5e-4)
        assert row["Size computed (MiB)"] == pytest.approx(a.size_mib, abs=5e-3)
        assert row["Ops verdict"] == verdicts[f"table-{key}-ops"]
        assert row["Size verdict"] == verdicts[f"table-{key}-size"]


def test_latency_columns_per_host_from_fixture_medians(report):
    lat = pd.read_csv(report / "data" / "comparison.csv", index_col=0)
    cols = {c: c for c in lat.columns}
    for host, device, backend in (("fixture-cpu", "cpu", "eager"), ("fixture-cpu", "cpu", "onnxruntime"),
                                  ("fixture-gpu", "cuda", "eager")):
        col = [c for c in cols if c.startswith(f"{host} {device} (") and c.endswith(f"fp32 {backend}")]
        assert len(col) == 1, (host, backend, list(cols))
        for model in ("tiny", "darknet", "alexnet", "squeezenet", "yolov3-tiny", "inception"):
            # the newest run wins: results-cpu-older.json's tiny eager (99 ms) is superseded
            assert lat.loc[model, col[0]] == pytest.approx(_fixture_median(host, model, backend), abs=1e-3)
    # the column groups are labelled with their environment
    assert any("Fixture GPU" in c and "torch 2.13.0" in c for c in cols)
    assert any("Fixture CPU" in c for c in cols)


def test_speed_ratios_and_throughput(report):
    ratios = pd.read_csv(report / "data" / "speed_ratios.csv")
    for host in ("fixture-cpu", "fixture-gpu"):
        r = ratios[(ratios["comparison"] == "darknet vs alexnet") & ratios["host"].str.startswith(host)
                   & (ratios["backend"] == "eager")].iloc[0]
        want = _fixture_median(host, "alexnet", "eager") / _fixture_median(host, "darknet", "eager")
        assert r["times_faster"] == round(want, 2)
        ops = darkbench.analyse(str(ROOT / "cfg" / "alexnet.cfg")).ops / darkbench.analyse(
            str(ROOT / "cfg" / "darknet.cfg")).ops
        assert r["times_fewer_ops"] == round(ops, 2)
        lo, hi = map(float, r["ci95"].strip("[]").split(","))
        assert lo <= r["times_faster"] <= hi
    gf = pd.read_csv(report / "data" / "gflops.csv", index_col=0)
    col = [c for c in gf.columns if c.startswith("fixture-gpu")][0]
    tiny = darkbench.analyse(str(ROOT / "cfg" / "tiny.cfg")).ops
    assert gf.loc["tiny", col] == pytest.approx(tiny / _fixture_median("fixture-gpu", "tiny", "eager") / 1e6,
                                                abs=0.01)


def _engines(model, backend, batch=1, dtype="fp32"):
    """A fixture row of results-engines.json (host fixture-engines: --batch auto, engines, agreement, memory)."""
    return next(r for r in _fixture("results-engines.json") if (r["model"], r["backend"], r["batch"], r["dtype"])
                == (model, backend, batch, dtype))


def test_throughput_and_best_batch(report):
    tp = pd.read_csv(report / "data" / "throughput.csv")
    e = tp[(tp["host"].str.startswith("fixture-engines")) & (tp["backend"] == "eager") & (tp["model"] == "tiny")]
    assert e["batch"].tolist() == [1, 2, 4, 8]
    assert e["images_per_s"].tolist() == pytest.approx([1000 * b / _engines("tiny", "eager", b)["median_ms"]
                                                        for b in (1, 2, 4, 8)], abs=0.01)
    best = pd.read_csv(report / "data" / "best_batch.csv")
    best = best[best["host"].str.startswith("fixture-engines")].set_index("backend")
    # eager: 222 images/s at 4 and at 8 (CIs overlap): the smaller batch; onnxruntime rises to 8; openvino's
    # batch 2 CI lies above batch 1's
    assert best.loc["eager", "best_batch"] == 4 and best.loc["onnxruntime", "best_batch"] == 8
    assert best.loc["openvino", "best_batch"] == 2
    assert best.loc["eager", "latency_b1_ms"] == 6.0 and best.loc["eager", "images_per_s_best"] == pytest.approx(
        4000 / 18, abs=0.01)
    assert "CIs overlap" in best.loc["eager", "stopped"] and best.loc["eager", "batches"] == "1,2,4,8"
    assert "opencv" not in best.index  # one batch only: no best batch to speak of
    md = (report / "report.md").read_text()
    assert "## Throughput at the best batch, beside latency at batch 1" in md


def test_disagreeing_outputs_are_flagged_next_to_their_time(report):
    ag = pd.read_csv(report / "data" / "agreement.csv")
    ag = ag[ag["host"].str.startswith("fixture-engines")].set_index(["model", "backend", "dtype"])
    bad = ag.loc[("tiny", "openvino", "bf16")]
    assert bad["outputs"] == "DISAGREES: rel L2 0.2 > 0.05 (bf16 tolerance)" and bad["median_ms"] == 2.0
    assert ag.loc[("tiny", "opencv", "fp32"), "outputs"] == "ok"
    assert ag.loc[("yolov3-tiny", "darknet", "fp32"), "outputs"] == "not checked"
    assert "decoded boxes" in ag.loc[("yolov3-tiny", "opencv", "fp32"), "compared"]
    runs = pd.read_csv(report / "data" / "latency_runs.csv")
    flagged = runs[runs["outputs"].str.startswith("DISAGREES")]
    assert flagged[["model", "backend", "dtype"]].values.tolist() == [["tiny", "openvino", "bf16"]]
    md = (report / "report.md").read_text()
    assert "disagree with darkbench's darknet-exact fp32 beyond the tolerance" in md
    assert "a fast wrong answer is not a result" in md


def test_memory_measured_beside_estimate(report):
    mem = pd.read_csv(report / "data" / "memory.csv")
    mem = mem[mem["host"].str.startswith("fixture-engines")].set_index(["model", "backend", "batch", "dtype"])
    r, want = mem.loc[("tiny", "eager", 1, "fp32")], _engines("tiny", "eager")
    assert (r["peak_rss_mib"], r["estimated_mib"]) == (want["peak_rss_mib"], want["estimated_mib"])
    assert r["measured_per_estimated"] == round(want["peak_rss_mib"] / want["estimated_mib"], 2)
    assert mem.loc[("yolov3-tiny", "darknet", 1, "fp32"), "measured_as"] == "its own process (darknet)"
    assert "## Memory: measured beside the analytic estimate" in (report / "report.md").read_text()


def test_failures_are_listed_not_hidden(report):
    nm = pd.read_csv(report / "data" / "not_measured.csv")
    row = nm[(nm["model"] == "yolov3-tiny") & (nm["backend"] == "darknet")].iloc[0]
    assert row["status"] == "error" and "fixture failure" in row["reason"]


def test_keras_arithmetic_layer_by_layer(report):
    keras = pd.read_csv(report / "data" / "keras_inception.csv")
    # the blog post's figures: 124,384 at the end of the inception module, 3,335,842 in all
    assert keras[keras["type"] == "Concatenate"]["running_total"].iloc[0] == 124384
    assert keras["running_total"].iloc[-1] == 3335842
    assert keras[keras["type"] == "Dense"]["params"].tolist() == [50177 * 64, 65 * 2]
    assert (keras["running_total"] == keras["params"].cumsum()).all()


def test_layer_table_sums_to_network(report):
    layers = pd.read_csv(report / "data" / "layers.csv")
    nets = pd.read_csv(report / "data" / "networks.csv").set_index("model")
    for model, d in layers.groupby("model"):
        assert d["ops"].sum() == nets.loc[model, "ops"], model


def test_markdown(report):
    md = (report / "report.md").read_text()
    assert "Top-1 % (quoted)" in md and "2.9 times faster" in md
    assert "**fixture-gpu cuda (Fixture GPU, torch 2.13.0)**" in md and "**fixture-cpu cpu (Fixture CPU" in md
    assert "superseded" in md and "batch sizes other than 1" in md
    assert "nan" not in md.replace("Conv2D", "")
    for n in FIGURES:
        assert f"(figures/{n}.png)" in md
    for header in ("ops (darknet, 2 per MAC)", "size (MiB, weights file)", "MACs", "params (count)"):
        assert header in md


def test_html_is_self_contained(report):
    text = (report / "index.html").read_text()
    srcs = re.findall(r"<img[^>]*src='([^']*)'", text)
    assert len(srcs) == len(FIGURES)
    for s in srcs:
        assert s.startswith("data:image/png;base64,")
        assert base64.b64decode(s.split(",", 1)[1])[:8] == PNG
    assert "src='figures/" not in text and "href='data/" not in text


def test_html_renders_in_chromium(report, tmp_path):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        require("chromium is not installed (apt-get install chromium)")
    shot = tmp_path / "shot.png"
    args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,4000",
            f"--user-data-dir={tmp_path / 'profile'}"]
    r = subprocess.run(args + [f"--screenshot={shot}", (report / "index.html").as_uri()], capture_output=True,
                       timeout=120)
    assert r.returncode == 0 and shot.read_bytes()[:8] == PNG
    # every image decoded: its natural width is non-zero once the page has loaded
    probe = tmp_path / "probe.html"
    probe.write_text((report / "index.html").read_text().replace(
        "</body>", "<script>window.onload=()=>{const imgs=[...document.images];document.title=imgs.length+"
                   "' images, '+imgs.filter(i=>!i.complete||i.naturalWidth===0).length+' broken'}</script></body>"))
    dom = subprocess.run(args + ["--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert f"<title>{len(FIGURES)} images, 0 broken</title>" in dom


def test_report_never_loads_torch(tmp_path):
    """Measuring needs torch; a report that never imports it cannot have measured anything."""
    code = ("import sys; from darkbench.cli import main; "
            f"rc = main(['report', '--results', {str(FIX)!r}, '--out', {str(tmp_path / 'o')!r}, "
            "'--models', 'tiny.cfg']); "
            "assert rc == 0, rc; assert 'torch' not in sys.modules, 'torch was imported'")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]


def test_out_keeps_user_files_and_drops_stale_outputs(tmp_path):
    out = tmp_path / "out"
    (out / "data").mkdir(parents=True)
    (out / "notes.txt").write_text("mine")
    (out / "data" / "mine.csv").write_text("a,b\n")
    assert main(["report", "--results", str(FIX / "results-cpu.json"), "--out", str(out),
                 "--models", "tiny.cfg"]) == 0
    assert (out / "figures" / "roofline.png").exists() and (out / "data" / "results-cpu.json").exists()
    # again without results: the outputs that no longer apply go, the user's files stay
    assert main(["report", "--out", str(out), "--models", "tiny.cfg"]) == 0
    assert not (out / "figures" / "roofline.png").exists()
    assert not (out / "data" / "results-cpu.json").exists() and not (out / "data" / "speed_ratios.csv").exists()
    assert (out / "notes.txt").read_text() == "mine" and (out / "data" / "mine.csv").read_text() == "a,b\n"
    md = (out / "report.md").read_text()
    assert "No benchmark results" in md and "measured latency" not in md
    assert not [p for p in out.rglob(".darkbench-tmp-*")], "temporary files left behind"


def test_same_file_name_from_two_hosts(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    shutil.copy(FIX / "results-cpu.json", a / "bench.json")
    shutil.copy(FIX / "results-gpu.json", b / "bench.json")
    out = tmp_path / "out"
    assert main(["report", "--results", str(a), str(b), "--out", str(out), "--models", "tiny.cfg"]) == 0
    assert (out / "data" / "bench.json").read_bytes() == (a / "bench.json").read_bytes()
    assert (out / "data" / "bench-2.json").read_bytes() == (b / "bench.json").read_bytes()


def test_stale_results_are_flagged(tmp_path):
    rows = _fixture("results-cpu.json")
    for r in rows:
        r["model_sha256"] = "ab" * 32
    (tmp_path / "r.json").write_text(json.dumps(rows))
    out = tmp_path / "out"
    assert main(["report", "--results", str(tmp_path / "r.json"), "--out", str(out), "--models", "tiny.cfg"]) == 0
    assert "result(s) of cfg/tiny.cfg were measured from a different version" in (out / "report.md").read_text()


def test_bad_input(tmp_path, capsys):
    assert main(["report", "--results", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2
    assert "no such results file" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["report", "--results", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "not a results JSON file" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["report", "--out", str(tmp_path / "file"), "--models", "tiny.cfg"]) == 2
    assert "not a directory" in capsys.readouterr().err


@pytest.mark.parametrize("change,says", [
    (lambda r: r.update(env="a string"), "env is not an object"),
    (lambda r: r.update(median_ms=float("nan")), "median_ms is nan, not a finite number"),
    (lambda r: r.update(model=["tiny"]), "model is not text"),
    (lambda r: r.update(batch="1"), "batch is '1', not an integer"),
    (lambda r: r.update(samples_ms=[1.0, "x"]), "samples_ms is not a list of finite numbers")])
def test_malformed_result_rows(tmp_path, capsys, change, says):
    rows = _fixture("results-cpu.json")
    change(rows[1])
    f = tmp_path / "r.json"
    f.write_text(json.dumps(rows))
    assert main(["report", "--results", str(f), "--out", str(tmp_path / "o"), "--models", "tiny.cfg"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the "analysing networks" progress line
    assert err.startswith("darkbench report: error: ") and str(f) in err and "result 1 " in err and says in err
    assert not (tmp_path / "o" / "report.md").exists()


def test_results_file_not_utf8(tmp_path, capsys):
    f = tmp_path / "r.json"
    f.write_bytes(b'[{"model": "\xff"}]')
    assert main(["report", "--results", str(f), "--out", str(tmp_path / "o"), "--models", "tiny.cfg"]) == 2
    assert "not a results JSON file" in capsys.readouterr().err
