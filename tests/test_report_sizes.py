"""The report's resolution sweeps, from fixtures only: analytic ops over fixed input sizes, and latency over the
sizes the results were measured at (tests/fixtures/sizes: made-up bench --size results)."""
from pathlib import Path

import pandas as pd
import pytest

import darkbench
from darkbench.cli import main
from darkbench.report import data, sizes

FIX = Path(__file__).resolve().parent / "fixtures"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    out = tmp_path_factory.mktemp("swept")
    assert main(["report", "--results", str(FIX / "sizes"), "--out", str(out)]) == 0
    return out


def test_ops_by_size_is_the_analysis():
    nets = [darkbench.analyse("tiny.cfg"), darkbench.analyse("yolov3-tiny.cfg")]
    t = sizes.ops_by_size(nets, sizes=(224, 300))
    row = t[(t["model"] == "yolov3-tiny") & (t["width"] == 300)].iloc[0]
    assert pd.isna(row["ops"]) and "route of unequal sizes" in row["refused"]
    row = t[(t["model"] == "tiny") & (t["width"] == 300)].iloc[0]
    assert row["ops"] == darkbench.analyse("tiny.cfg", 300, 300).ops


def test_figures_and_tables(swept):
    for name in ("ops_vs_size", "latency_vs_size"):
        assert (swept / "figures" / f"{name}.png").read_bytes().startswith(PNG)
    ops = pd.read_csv(swept / "data" / "ops_by_size.csv")
    assert len(ops) == len(data.DEFAULT_MODELS) * len(sizes.SIZES)
    tiny = ops[ops["model"] == "tiny"].set_index("width")
    assert tiny.loc[416, "ops"] == darkbench.analyse("tiny.cfg", 416, 416).ops
    lat = pd.read_csv(swept / "data" / "latency_by_size.csv")
    # squeezenet was measured at one size only: not a sweep
    assert list(zip(lat["model"], lat["width"], lat["median_ms"])) == [
        ("tiny", 160, 3.1), ("tiny", 224, 6.0), ("tiny", 320, 12.5), ("yolov3-tiny", 320, 20.0),
        ("yolov3-tiny", 416, 33.0)]
    md = (swept / "report.md").read_text()
    assert "Operations vs input size" in md and "Latency vs input size" in md


def test_tables_keep_one_size_per_model(swept):
    """The latency tables show the result at the network's own input (tiny: 224), not another size."""
    long = pd.read_csv(swept / "data" / "latency_runs.csv")
    assert long[long["model"] == "tiny"]["median_ms"].tolist() == [6.0]
    # yolov3-tiny's own input (416) was measured; squeezenet's single result stays
    assert long[long["model"] == "yolov3-tiny"]["median_ms"].tolist() == [33.0]
    assert long[long["model"] == "squeezenet"]["median_ms"].tolist() == [9.0]


def test_without_sweeps_the_figure_says_so(tmp_path):
    assert main(["report", "--results", str(FIX / "results-cpu.json"), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "figures" / "latency_vs_size.png").read_bytes().startswith(PNG)
    assert not (tmp_path / "data" / "latency_by_size.csv").exists()
    from darkbench.report import plots
    empty = sizes.latency_by_size([])
    assert plots.latency_vs_size(empty).startswith(PNG)
