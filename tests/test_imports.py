"""darkbench's modules import each other without cycles and never upward (function-level imports included),
no darknet layer type is named outside darkbench/layers, and the one door to models (darkbench.models) answers
for every kind of model without torch on the analytic path."""
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


# Each module's level, lowest first: a module imports modules of its own level or below only (the cycle test
# keeps a level acyclic). A new module gets a level here.
LEVELS = (
    ("building blocks", ("darkbench.errors", "darkbench.dialect", "darkbench.cfg", "darkbench.paths",
                         "darkbench.memory", "darkbench.heap", "darkbench.files", "darkbench.header", "darkbench.image",
                         "darkbench.carith", "darkbench.traffic", "darkbench.nn", "darkbench.winograd",
                         "darkbench.tables", "darkbench.sizes", "darkbench.plugins", "darkbench.boxes", "darkbench.nms",
                         "darkbench.coco")),
    ("layers", ("darkbench.layers", "darkbench.layers.*")),
    ("models", ("darkbench.network", "darkbench.keras", "darkbench.keras.*", "darkbench.weights",
                "darkbench.torch_model", "darkbench.models", "darkbench")),  # darkbench: re-exports the door
    ("what uses models", ("darkbench.footprint", "darkbench.crosscheck", "darkbench.published",
                          "darkbench.export", "darkbench.classify", "darkbench.nightmare", "darkbench.detect", "darkbench.mapeval",
                          "darkbench.evaluation")),
    ("bench", ("darkbench.bench", "darkbench.bench.*")),
    ("report", ("darkbench.report", "darkbench.report.*")),
    ("commands", ("darkbench.commands", "darkbench.commands.*", "darkbench.cli", "darkbench.__main__")),
)
# what measures: the report reads results and never imports these
MEASURES = ("darkbench.bench.runner", "darkbench.bench.backends", "darkbench.bench.backends.base",
            "darkbench.bench.backends.registry", "darkbench.bench.backends.inductor", "darkbench.bench.measure",
            "darkbench.bench.layers", "darkbench.bench.peak", "darkbench.bench.pipeline",
            "darkbench.bench.backends.passes")


def level(module):
    """(index, name) of a module's level, or None when LEVELS does not place it."""
    for i, (name, patterns) in enumerate(LEVELS):
        if any(module == p or (p.endswith(".*") and module.startswith(p[:-1])) for p in patterns):
            return i, name
    return None


def upward_edges(graph):
    """'a -> b (why)' for every import that goes against the layering."""
    from darkbench.layers import families
    family_modules = {f.__name__ for f in families()}
    bad = []
    for m in sorted(graph):
        for d in sorted(graph[m]):
            (lm, nm), (ld, nd) = level(m), level(d)
            if ld > lm:
                bad.append(f"{m} -> {d} ({nm} import {nd})")
            elif m in family_modules and d in family_modules:
                bad.append(f"{m} -> {d} (a layer family imports another: shared rules go in a layers/ helper)")
            elif m not in family_modules and d in family_modules:
                bad.append(f"{m} -> {d} (only the registry finds layer families)")
            elif nm == "report" and d in MEASURES:
                bad.append(f"{m} -> {d} (the report reads results, it never measures)")
    return bad


def test_every_module_has_a_level():
    g = import_graph()
    assert [m for m in sorted(g) if level(m) is None] == []
    assert set(MEASURES) <= set(g), "MEASURES names a module that is gone: " + ", ".join(set(MEASURES) - set(g))


def test_nothing_imports_upward():
    """Building blocks import no layers, models, bench, report or commands; layer families import building
    blocks and layers/ helpers only; bench never imports report or commands; report never imports what measures."""
    assert upward_edges(import_graph()) == []


def test_an_upward_edge_is_named():
    g = import_graph()
    g["darkbench.nn"] = g["darkbench.nn"] | {"darkbench.layers.spec"}
    g["darkbench.layers.crnn"] = g["darkbench.layers.crnn"] | {"darkbench.layers.conv"}
    g["darkbench.report.plots"] = g["darkbench.report.plots"] | {"darkbench.bench.runner"}
    g["darkbench.bench.runner"] = g["darkbench.bench.runner"] | {"darkbench.commands.bench"}
    assert upward_edges(g) == [
        "darkbench.bench.runner -> darkbench.commands.bench (bench import commands)",
        "darkbench.layers.crnn -> darkbench.layers.conv (a layer family imports another: shared rules go in a "
        "layers/ helper)",
        "darkbench.nn -> darkbench.layers.spec (building blocks import layers)",
        "darkbench.report.plots -> darkbench.bench.runner (the report reads results, it never measures)"]


# Section names that are also something else outside darkbench/layers, and what (each checked to be so)
OTHER_MEANINGS = {
    "logistic": "an activation (dialect.py, nn.py, OpenCV's activations)",
    "activation": "the option of every layer with an activation",
    "contrastive": "an option of the fork's [net]",
    "conv": "fvcore's operator name (crosscheck.MM_OPS) and a GEMM shape kind (bench's peak)",
}


def _docstrings(tree):
    return {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}


def type_names(root=PKG):
    """'path:line: "name"' for every string in code (docstrings aside) outside darkbench/layers that is a
    registered section name, darkbench/keras aside: Keras' own vocabulary (its class, activation and config
    names: 'softmax', 'normalization', 'activation') is no darknet layer type."""
    from darkbench.layers import families
    sections = {n for f in families() for n in f.NAMES} - set(OTHER_MEANINGS)
    found = []
    for f in sorted(root.rglob("*.py")):
        rel = f.relative_to(root)
        if rel.parts[0] in ("layers", "keras"):
            continue
        tree = ast.parse(f.read_text(encoding="utf-8"), str(f))
        docs = _docstrings(tree)
        found += [f"{rel}:{n.lineno}: {n.value!r}" for n in ast.walk(tree)
                  if isinstance(n, ast.Constant) and n.value in sections and id(n) not in docs]
    return found


def test_no_layer_type_name_outside_layers():
    """Code outside darkbench/layers asks a trait (layers.trait, Layer.trait, layers.sections_with) and never
    names a layer type."""
    assert type_names() == []


def test_type_names_are_found(tmp_path):
    (tmp_path / "layers").mkdir()
    (tmp_path / "layers" / "mine.py").write_text('NAMES = ("yolo",)\n')
    (tmp_path / "x.py").write_text('"""About [yolo] and [route]."""\nHEADS = ("yolo", "region")\n'
                                   'def f(l):\n    """maxpool"""\n    return l.type == "maxpool" or "conv" in l.desc\n')
    assert type_names(tmp_path) == ["x.py:2: 'yolo'", "x.py:2: 'region'", "x.py:5: 'maxpool'"]


def test_other_meanings_are_real():
    from darkbench import crosscheck, dialect, network
    from darkbench.layers import families
    assert "logistic" in dialect.ACTIVATIONS[dialect.PJREDDIE]
    assert any("activation" in f.KEYS for f in families())
    assert "contrastive" in network.FORK_NET_KEYS
    assert "conv" in crosscheck.MM_OPS


def test_leaves():
    """Finding files and the memory check depend on nothing of darkbench's but its errors; darknet's C size
    arithmetic and the bytes a layer moves on nothing of darkbench's."""
    g = import_graph()
    assert g["darkbench.paths"] == {"darkbench.errors"}
    assert g["darkbench.memory"] == {"darkbench.errors"}
    assert g["darkbench.carith"] == g["darkbench.traffic"] == set()


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
