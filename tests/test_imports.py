"""darkbench's modules import each other without cycles (function-level imports included), and the one door
to models (darkbench.models) answers for every kind of model without torch on the analytic path."""
import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import darkbench
from darkbench import models

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "darkbench"


def _modules():
    out = {}
    for f in PKG.rglob("*.py"):
        parts = f.relative_to(ROOT).with_suffix("").parts
        is_pkg = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_pkg else parts)
        out[name] = (f, is_pkg)
    return out


def import_graph():
    """{module: {darkbench modules it imports anywhere in its text}}. `from X import y` counts as importing
    X.y when that is a module, else X; the implicit import of parent packages is not counted."""
    mods = _modules()
    graph = {}
    for name, (f, is_pkg) in mods.items():
        deps = set()
        package = name if is_pkg else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"), str(f))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[:len(base) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                targets = [f"{target}.{a.name}" if f"{target}.{a.name}" in mods else target for a in node.names]
            else:
                continue
            for t in targets:
                while t and t not in mods:  # import a.b.c names module a.b.c, else the nearest package
                    t = t.rpartition(".")[0]
                if t and t != name:
                    deps.add(t)
        graph[name] = deps
    return graph


def find_cycle(graph):
    """One cycle as a list of modules (first == last), or None."""
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for d in sorted(graph.get(m, ())):
            if state.get(d) == "open":
                return stack[stack.index(d):] + [d]
            if d not in state:
                found = visit(d)
                if found:
                    return found
        stack.pop()
        state[m] = "done"
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_the_graph_is_read():
    g = import_graph()
    assert "darkbench.paths" in g["darkbench.models"] and "darkbench.memory" in g["darkbench.torch_model"]
    assert "darkbench.torch_model" in g["darkbench.models"]  # the lazy `import torch_model` in load() counts
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_leaves():
    """Finding files and the memory check depend on nothing of darkbench's but its errors."""
    g = import_graph()
    assert g["darkbench.paths"] == {"darkbench.errors"}
    assert g["darkbench.memory"] == {"darkbench.errors"}


def test_no_caller_looks_at_the_suffix():
    """Only the door tells a cfg from a Keras model; everyone else asks the network what it supports (the Keras
    reader itself still tells a .keras archive from JSON)."""
    for f in PKG.rglob("*.py"):
        text = f.read_text(encoding="utf-8")
        assert "is_keras" not in text, f
        if f.name != "models.py" and f.parent.name != "keras":
            assert "KERAS_SUFFIXES" not in text and '".keras")' not in text, f


def test_capabilities():
    cfg, keras = darkbench.analyse("tiny.cfg"), darkbench.analyse("inception.json")
    assert (cfg.kind, cfg.has_darknet_layers, cfg.supports_weights, cfg.supports_darknet_backend) == \
        ("darknet", True, True, True)
    assert (keras.kind, keras.has_darknet_layers, keras.supports_weights, keras.supports_darknet_backend) == \
        ("keras", False, False, False)
    assert models.traits("tiny.cfg") is type(cfg) and models.traits("inception.json") is type(keras)


def test_analyse_takes_keras_without_torch():
    """darkbench.analyse is the same door as the commands: Keras JSON too, and never imports torch."""
    code = ("import sys, json, darkbench; n = darkbench.analyse('cfg/inception.json'); "
            "c = darkbench.analyse('tiny.cfg'); "
            "print(json.dumps([n.kind, n.params, c.ops, 'torch' in sys.modules]))")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    kind, params, ops, torch_loaded = json.loads(r.stdout)
    assert kind == "keras" and params == darkbench.analyse("inception.json").params
    assert ops == darkbench.analyse("tiny.cfg").ops and not torch_loaded


def test_warnings_are_returned_and_watched_never_printed(tmp_path, capsys):
    p = tmp_path / "typo.cfg"
    p.write_text("[net]\nwidth=8\nheight=8\nchannels=3\n[convolutional]\nfilter=2\n")
    net = darkbench.analyse(p)
    assert net.warnings == [f"{p}:6: layer 0 [convolutional] unknown option 'filter' (darknet ignores it)"]
    seen = []
    with models.warnings_to(seen.append):
        models.analyse(p)
        models.analyse("tiny.cfg")  # no warnings: no call
    models.analyse(p)  # outside the block: nobody is told
    assert seen == [net.warnings] and capsys.readouterr().err == ""


def test_load_refuses_weights_for_keras(tmp_path):
    with pytest.raises(darkbench.DarkbenchError, match="weights cannot be loaded into a Keras model"):
        darkbench.load("inception.json", tmp_path / "x.weights")
