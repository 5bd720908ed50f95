"""--size sweeps on ops, summary, compare and bench: one result per size, a size a network cannot take refused
alone in one line (exit status 1)."""
import argparse
import json
import subprocess
import sys

import pytest

import darkbench
from darkbench.sizes import parse_sizes


def _run(*args):
    return subprocess.run([sys.executable, "-m", "darkbench", *args], capture_output=True, text=True)


def test_parse_sizes():
    assert parse_sizes("320, 416x288,608X352,") == [(320, 320), (416, 288), (608, 352)]
    for bad in ("", "a", "320x", "0", "416x-2", "3.5"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_sizes(bad)


def test_ops_sweep_refuses_one_size_alone():
    r = _run("ops", "yolov3-tiny.cfg", "--size", "320,300,608x352")
    assert r.returncode == 1
    want = [darkbench.analyse("yolov3-tiny.cfg", w, h).ops for w, h in ((320, 320), (608, 352))]
    assert r.stdout.splitlines()[::3] == [f"yolov3-tiny.cfg 320x320: Floating Point Operations: {want[0]}",
                                          f"yolov3-tiny.cfg 608x352: Floating Point Operations: {want[1]}"]
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("darkbench ops: yolov3-tiny.cfg at 300x300: refused: ")
    assert "route of unequal sizes" in err[0]


def test_ops_sweep_json_records_each_size():
    r = _run("ops", "--json", "tiny.cfg", "yolov3-tiny.cfg", "--size", "300,416")
    d = json.loads(r.stdout)
    assert [(x["cfg"], x.get("width"), x.get("size")) for x in d] == [
        ("tiny.cfg", 300, None), ("tiny.cfg", 416, None), ("yolov3-tiny.cfg", None, "300x300"),
        ("yolov3-tiny.cfg", 416, None)]
    assert "error" in d[2] and r.returncode == 1


def test_size_and_width_are_exclusive():
    r = _run("ops", "tiny.cfg", "--size", "320", "--width", "300")
    assert r.returncode == 2 and "--size replaces --width/--height" in r.stderr


def test_summary_sweep():
    r = _run("summary", "tiny.cfg", "--size", "160,96x64", "--format", "json")
    assert r.returncode == 0
    d = json.loads(r.stdout)
    assert [(x["width"], x["height"]) for x in d] == [(160, 160), (96, 64)]
    assert d[1]["layers"][0]["input"] == "96x64x3"
    r = _run("summary", "tiny.cfg", "--size", "160,96x64", "--format", "csv")
    lines = r.stdout.splitlines()
    assert lines[0].startswith("layer,") and sum(line.startswith("layer,") for line in lines) == 1
    assert len(lines) == 1 + 2 * len(darkbench.analyse("tiny.cfg").layers)
    r = _run("summary", "yolov3-tiny.cfg", "--size", "300,320")
    assert r.returncode == 1 and "input 320x320x3" in r.stdout and "at 300x300: refused" in r.stderr


def test_compare_sweep():
    r = _run("compare", "tiny.cfg", "yolov3-tiny.cfg", "--size", "224,300", "--format", "csv")
    assert r.returncode == 1 and r.stderr.count("refused") == 1
    rows = r.stdout.splitlines()[1:]
    assert [row.split(",")[:2] for row in rows] == [["Tiny Darknet", "224x224x3"], ["tiny", "300x300x3"],
                                                   ["yolov3-tiny", "224x224x3"]]


@pytest.mark.darknet
def test_sweep_is_darknets(darknet):
    from darknet import ZOO
    for w, h in ((320, 320), (608, 352)):
        cfg = darknet.resized(ZOO / "yolov3-tiny.cfg", w, h)
        assert darkbench.analyse("yolov3-tiny.cfg", w, h).ops == darknet.ops(cfg)


def test_bench_sweep(tmp_path):
    r = _run("bench", "tiny.cfg", "yolov3-tiny.cfg", "--size", "64,100", "--backend", "eager", "--min-time", "0",
             "--max-time", "0.05", "--threads", "1", "--out", str(tmp_path))
    assert r.returncode == 1, r.stderr
    refused = [line for line in r.stderr.splitlines() if "refused" in line]
    assert len(refused) == 1 and refused[0].startswith("darkbench bench: yolov3-tiny.cfg at 100x100: refused:")
    (out,) = tmp_path.glob("bench-*.json")
    got = [(x["model"], x["input"]) for x in json.loads(out.read_text())]
    assert got == [("tiny", [3, 64, 64]), ("yolov3-tiny", [3, 64, 64]), ("tiny", [3, 100, 100])]
    assert "tiny 64x64" in r.stdout and "tiny 100x100" in r.stdout
