"""A benchmark backend is one file: a backend defined outside darkbench (tests/plugins/nchw_backend.py) runs through
`darkbench bench`, the results file and `darkbench report` with no edit anywhere else; the registry refuses what
it cannot take in one line; no module outside darkbench/bench/ names a backend; a bench run analyses each model
once."""
import ast
import importlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import darkbench
from darkbench.bench import runner
from darkbench.bench.backends import registry
from darkbench.bench.config import BenchConfig
from plugin_tools import cli, fake_package
from require import require, required

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = Path(__file__).with_name("plugins") / "nchw_backend.py"


def _cli(*args, env_extra=None, check=True):
    return cli(registry.ENV, PLUGIN, *args, env_extra=env_extra, check=check)


@pytest.fixture
def fresh_registry(monkeypatch):
    """The registry read again in this process (restored after), with DARKBENCH_BACKENDS as the test sets it."""
    monkeypatch.setattr(registry, "_registry", None)
    return monkeypatch


@pytest.fixture(scope="module")
def plugin_run(tmp_path_factory):
    """bench with the plugin (its own flag set), then report from the results in a process without it."""
    out = tmp_path_factory.mktemp("bench")
    r = _cli("bench", "tiny.cfg", "--width", "32", "--height", "32", "--backend", "eager,nchw", "--nchw-grad",
             "no-grad", "--threads", "1", "--min-time", "0.1", "--max-time", "0.5", "--out", out)
    (results,) = out.glob("bench-*.json")
    rep = tmp_path_factory.mktemp("report")
    rr = _cli("report", "--results", results, "--out", rep, "--models", "tiny.cfg", env_extra={registry.ENV: ""})
    return r, json.loads(results.read_text()), rep, rr


def test_flag_and_choice_come_from_the_declaration():
    assert "--nchw-grad" in _cli("bench", "--help").stdout
    plain = _cli("bench", "--help", env_extra={registry.ENV: ""}).stdout
    assert "--nchw-grad" not in plain and "nchw" not in plain
    bad = _cli("bench", "tiny.cfg", "--nchw-grad", "sometimes", check=False)
    assert bad.returncode == 2 and "argument --nchw-grad: unknown value 'sometimes' (choose from inference, no-grad)" \
        in bad.stderr
    off = _cli("bench", "tiny.cfg", "--nchw-grad", "no-grad", "--backend", "eager", check=False)
    assert off.returncode == 2 and off.stderr.strip() == ("darkbench bench: error: nchw-grad no-grad: needs the nchw "
                                                          "backend, which the run leaves out (backends: eager)")


def test_plugin_rows_in_the_results(plugin_run):
    r, rows, _, _ = plugin_run
    assert [x["backend"] for x in rows] == ["eager", "nchw"]
    nchw = rows[1]
    assert nchw["error"] is None and nchw["median_ms"] > 0 and nchw["samples"] >= 1
    assert nchw["note"] == "darkbench.load in NCHW, torch.no_grad" and nchw["grad_mode"] == "no-grad"
    # its traits as declared, and the version line it asked for (numpy's, as numpy itself says)
    assert (nchw["traits"]["color"], nchw["traits"]["marker"], nchw["traits"]["order"]) == ("tab:olive", "*", 15)
    assert nchw["env"]["numpy"] == np.__version__ and rows[0]["env"]["numpy"] == np.__version__
    # checked against darkbench's fp32 eager like any backend: the same network, so fp32 rounding apart
    assert nchw["rel_l2"] <= 1e-5 and nchw["top1_agree"] == 1
    assert "nchw" in r.stdout and "reference/this" in r.stdout  # no reference program in this run


def test_report_reads_the_plugin_from_its_rows(plugin_run):
    _, _, rep, _ = plugin_run
    md = (rep / "report.md").read_text()
    head = next(line for line in md.splitlines() if "fp32 eager" in line and "fp32 nchw" in line)
    assert head.index("fp32 eager") < head.index("fp32 nchw")  # its declared order: after eager (10), 15
    env = next(line for line in md.splitlines() if line.startswith("| column group"))
    assert "| numpy " in env
    assert "All are medians of interleaved runs." in md


def test_report_legend_has_the_plugins_style(plugin_run, monkeypatch, tmp_path):
    """The figures draw the plugin in its own colour and marker, read from the results (the plugin is not loaded)."""
    _, rows, _, _ = plugin_run
    from darkbench.report import build, plots  # build: the function
    monkeypatch.setenv(registry.ENV, "")
    legends, save = [], plots._save

    def keep(fig):
        for ax in fig.axes:
            if ax.get_legend():
                legends.append({t.get_text(): (h.get_color(), h.get_marker())
                                for t, h in zip(ax.get_legend().get_texts(), ax.get_legend().legend_handles)
                                if hasattr(h, "get_marker")})
        return save(fig)
    monkeypatch.setattr(plots, "_save", keep)
    f = tmp_path / "r.json"
    f.write_text(json.dumps(rows))
    build(str(tmp_path / "rep"), [str(ROOT / "cfg" / "tiny.cfg")], [str(f)], log=lambda m: None)
    latency = next(legend for legend in legends if "nchw" in legend)  # latency vs operations
    assert {"nchw": ("tab:olive", "*"), "eager": ("tab:green", "D")}.items() <= latency.items()


def test_entry_point(tmp_path):
    """A package that names its backend module in the darkbench.backends entry-point group."""
    site = fake_package(tmp_path / "site", "nchwpkg", PLUGIN.read_text(), registry.GROUP, "nchw")
    r = _cli("bench", "--help", env_extra={registry.ENV: "", "PYTHONPATH": f"{ROOT}{os.pathsep}{site}"})
    assert "--nchw-grad" in r.stdout


BASE = "from darkbench.bench.backends.base import Backend, Option\nfrom darkbench.bench.traits import Traits\n"


@pytest.mark.parametrize("body,says", [
    ("class A(Backend):\n    name = 'eager'\n",
     "backend 'eager' is defined by both darkbench.bench.backends.eager and {f}"),
    ("class A(Backend):\n    name = 'x'\n    colour = 'red'\n",
     "backend 'x' ({f}): unknown declaration 'colour' (a backend declares "),
    ("class A(Backend):\n    name = 'x'\n    traits = Traits(colour='red')\n",
     "DARKBENCH_BACKENDS: cannot load backend: TypeError: Traits.__init__() got an unexpected keyword argument"),
    ("class A(Backend):\n    name = 'x'\n    dtypes = ('fp8',)\n", "backend 'x' ({f}): dtypes ('fp8',): known dtypes"),
    ("class A(Backend):\n    name = 'x'\n    options = (Option('compile', 'mine'),)\n",
     "backend option 'compile' is declared by both the compile backend (darkbench.bench.backends.inductor) and "
     "the x backend ({f})")])
def test_registry_refuses_in_one_line(tmp_path, fresh_registry, body, says):
    f = tmp_path / "bad.py"
    f.write_text(BASE + body)
    fresh_registry.setenv(registry.ENV, str(f))
    with pytest.raises(darkbench.DarkbenchError) as e:
        registry.backends()
    assert says.format(f=f) in str(e.value) and "\n" not in str(e.value)


def test_registry_error_on_the_command_line(tmp_path):
    f = tmp_path / "bad.py"
    f.write_text(BASE + "class A(Backend):\n    name = 'x'\n    options = (Option('batch', 'mine'),)\n")
    r = _cli("bench", "tiny.cfg", env_extra={registry.ENV: str(f)}, check=False)
    assert r.returncode == 2 and r.stderr.strip() == ("darkbench bench: error: the x backend's option --batch is "
                                                      "already a flag of darkbench bench")
    assert _cli("ops", "tiny.cfg", env_extra={registry.ENV: str(f)}).stdout  # commands that run no backend


def _backend_names_in_code(tree):
    """(line, text) of string constants equal to a registered backend's name used as a key or compared with:
    in comparisons (either side, or inside a tuple/list/set compared with), dict keys, subscripts, .get()."""
    names = set(registry.names())
    found = []

    def consts(node):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return [c for e in node.elts for c in consts(e)]
        return [node] if isinstance(node, ast.Constant) and node.value in names else []
    for node in ast.walk(tree):
        hits = []
        if isinstance(node, ast.Compare):
            for side in [node.left, *node.comparators]:
                hits += consts(side)
        elif isinstance(node, ast.Dict):
            hits += [c for k in node.keys if k is not None for c in consts(k)]
        elif isinstance(node, ast.Subscript):
            hits += consts(node.slice)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            hits += [c for a in node.args[:1] for c in consts(a)]
        found += [(c.lineno, c.value) for c in hits]
    return found


def test_no_module_outside_bench_names_a_backend():
    assert _backend_names_in_code(ast.parse("if r['backend'] == 'darknet': x = {'eager': 1}['eager']")) == \
        [(1, "darknet"), (1, "eager"), (1, "eager")]  # the check finds what it looks for
    pkg = ROOT / "darkbench"
    bad = {}
    for f in pkg.rglob("*.py"):
        if (pkg / "bench") in f.parents:
            continue
        hits = _backend_names_in_code(ast.parse(f.read_text(encoding="utf-8"), str(f)))
        if hits:
            bad[str(f.relative_to(ROOT))] = hits
    assert not bad, bad


def test_each_model_is_analysed_once_per_run(tmp_path, monkeypatch):
    """Every backend, the agreement check and per-layer timing take the run's analysed model: one analysis per
    model and size (counted at the door and below it, where darknet cfgs and Keras models are read)."""
    from darkbench import keras, models, network
    calls = []

    def counted(mod):
        real = mod.analyse

        def analyse(path, width=None, height=None, **kw):
            calls.append((mod.__name__, os.path.basename(str(path)), (width, height)))
            return real(path, width, height, **kw)
        monkeypatch.setattr(mod, "analyse", analyse)
    for mod in (models, network, keras):
        counted(mod)
    for module in ("onnxruntime", "openvino", "cv2"):  # the engines this run includes
        try:
            importlib.import_module(module)
        except ImportError:
            require(f"{module} is not installed (pip install 'darkbench[engines]')")
    # darknet's program too where it is installed (and must be: CI), else the run is the others'
    backends = ["eager", "fused", "onnxruntime", "openvino", "opencv"] + (
        ["darknet"] if shutil.which("darknet") or required() else [])
    config = BenchConfig(["tiny.cfg", "inception.json"], backends, ["cpu"], [1, 2], ["fp32"], 1, 0.05, 0.1,
                         str(tmp_path / "r.json"), sizes=[(32, 32), (48, 40)], layers=True)
    res = runner.run(config, log=lambda e: None)
    assert len(res) == 2 * 2 * 2 * len(backends)
    done = [r for r in res if r.median_ms]
    assert {r.backend for r in done} == set(backends) and any(r.layers for r in done)  # everything ran
    assert all(r.rel_l2 is not None or r.agreement.startswith("not checked: darknet speed gives no outputs")
               for r in done)
    want = [(n, f, size) for size in ((32, 32), (48, 40)) for n, f in (("darkbench.models", "tiny.cfg"),
                                                                       ("darkbench.network", "tiny.cfg"),
                                                                       ("darkbench.models", "inception.json"),
                                                                       ("darkbench.keras", "inception.json"))]
    assert sorted(calls) == sorted(want)
