"""The report builds from fixture results without measuring; its tables and images are right."""
import base64
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

import darkbench
from darkbench.cli import main

FIX = Path(__file__).resolve().parent / "fixtures"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def report(tmp_path_factory, monkeypatch_module=None):
    import darkbench.bench.runner as runner
    out = tmp_path_factory.mktemp("rep")

    def forbidden(*a, **k):
        raise AssertionError("the report must not measure")
    saved = runner.run, runner.interleaved
    runner.run = runner.interleaved = forbidden
    try:
        assert main(["report", "--results", str(FIX), "--out", str(out)]) == 0
    finally:
        runner.run, runner.interleaved = saved
    return out


def test_files(report):
    for f in ("report.md", "index.html", "figures/accuracy_vs_ops.png", "figures/params_vs_ops.png",
              "figures/latency_vs_ops.png", "figures/layer_ops.png", "figures/roofline.png",
              "data/networks.csv", "data/published.csv", "data/latency_ms.csv", "data/speed_ratios.csv",
              "data/keras_inception.csv", "data/results-cpu.json", "data/results-gpu.json"):
        assert (report / f).exists(), f
    for png in (report / "figures").glob("*.png"):
        assert png.read_bytes()[:8] == PNG


def test_tables_hold_the_right_numbers(report):
    nets = pd.read_csv(report / "data" / "networks.csv")
    tiny = nets[nets["model"] == "tiny"].iloc[0]
    a = darkbench.analyse("tiny.cfg")
    assert tiny["ops"] == a.ops and tiny["params"] == a.params and tiny["top1_quoted"] == 58.7
    pub = pd.read_csv(report / "data" / "published.csv")
    row = pub[pub["network"] == "Darknet Reference"].iloc[0]
    assert row["Ops published"] == "0.81 Bn" and row["Ops verdict"] == "known discrepancy"
    lat = pd.read_csv(report / "data" / "latency_ms.csv", index_col=0)
    cpu_eager = [c for c in lat.columns if "fixture-cpu" in c and c.endswith("eager")][0]
    gpu_eager = [c for c in lat.columns if "fixture-gpu" in c][0]
    assert lat.loc["alexnet", cpu_eager] == 16.0 and lat.loc["alexnet", gpu_eager] == pytest.approx(1.6)
    ratios = pd.read_csv(report / "data" / "speed_ratios.csv")
    r = ratios[(ratios["comparison"] == "darknet vs alexnet") & (ratios["host"].str.contains("fixture-cpu"))
               & (ratios["backend"] == "eager")].iloc[0]
    assert r["times_faster"] == round(16.0 / 5.5, 2)
    keras = pd.read_csv(report / "data" / "keras_inception.csv")
    assert keras[keras["type"] == "Concatenate"]["running_total"].iloc[0] == 124384
    assert keras["running_total"].iloc[-1] == 3335842


def test_markdown_labels_quoted_figures(report):
    md = (report / "report.md").read_text()
    assert "Top-1 (quoted)" in md and "2.9 times faster" in md and "fixture-gpu" in md


def test_html_is_self_contained(report):
    html = (report / "index.html").read_text()
    srcs = re.findall(r"<img[^>]*src='([^']*)'", html)
    assert len(srcs) == 5
    for s in srcs:
        assert s.startswith("data:image/png;base64,")
        assert base64.b64decode(s.split(",", 1)[1])[:8] == PNG


def test_html_renders_in_chromium(report, tmp_path):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    shot = tmp_path / "shot.png"
    args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,4000"]
    r = subprocess.run(args + [f"--screenshot={shot}", (report / "index.html").as_uri()], capture_output=True,
                       timeout=120)
    assert r.returncode == 0 and shot.read_bytes()[:8] == PNG
    # every image decoded: its natural width is non-zero once the page has loaded
    probe = tmp_path / "probe.html"
    probe.write_text((report / "index.html").read_text().replace(
        "</body>", "<script>window.onload=()=>{document.title=[...document.images].filter("
                   "i=>!i.complete||i.naturalWidth===0).length+' broken'}</script></body>"))
    dom = subprocess.run(args + ["--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert "<title>0 broken</title>" in dom


def test_bad_results_path(tmp_path, capsys):
    assert main(["report", "--results", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2
    assert "no such results file" in capsys.readouterr().err
