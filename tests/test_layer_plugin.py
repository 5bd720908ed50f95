"""A layer type added in one file outside darkbench (tests/plugins/scale_plugin.py) works everywhere:
analysis, summary, weights init/read/write, the torch model, crosscheck and ONNX export."""
import json
import os
from pathlib import Path

import numpy as np
import pytest

from darkbench import errors as layers_errors
from darkbench import layers
from darkbench.layers import registry
from require import require_module
from plugin_tools import cli, fake_package

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = Path(__file__).with_name("plugins") / "scale_plugin.py"
CFG = """[net]
width=7
height=5
channels=3

[convolutional]
filters=4
size=3
pad=1
batch_normalize=1
activation=linear

[scale]
activation=leaky

[convolutional]
filters=2
size=1
activation=linear
"""

# a whole family in a few lines, for the tests that write bad ones
FAMILY = ('NAMES = ("thing",)\nKEYS = {"size"}\n\n\ndef build(sec, ctx):\n    pass\n\n\n'
          'def module(layer, net):\n    pass\n')


@pytest.fixture
def plugin(monkeypatch, tmp_path):
    """The plugin loaded through DARKBENCH_LAYERS in this process (the registry reloaded, then restored)."""
    monkeypatch.setenv(layers.ENV, str(PLUGIN))
    monkeypatch.setattr(registry, "_registry", None)
    cfg = tmp_path / "scaled.cfg"
    cfg.write_text(CFG)
    return cfg


def _cli(*args, env_extra=None, check=True):
    return cli(layers.ENV, PLUGIN, *args, env_extra=env_extra, check=check)


def test_unknown_without_the_plugin(tmp_path):
    cfg = tmp_path / "scaled.cfg"
    cfg.write_text(CFG)
    r = _cli("ops", cfg, env_extra={layers.ENV: ""}, check=False)
    assert r.returncode != 0 and "unknown section [scale]" in r.stderr


def test_analyse(plugin):
    from darkbench import models
    net = models.analyse(plugin)
    s = net.layers[1]
    assert (s.type, s.in_shape, s.out_shape, s.params, s.macs) == ("scale", (4, 5, 7), (4, 5, 7), 8, 0)
    assert s.trait("COLOR") == "tab:green" and not s.trait("HEAD") and s.trait("FAN_IN")(s) == 1
    assert net.weight_floats == 4 + 3 * 4 + 4 * 3 * 9 + 8 + 2 + 2 * 4
    from darkbench.report.plots import _color
    assert _color("scale") == "tab:green" and _color("convolutional") == "tab:blue"


def test_summary_cli(plugin):
    out = json.loads(_cli("summary", plugin, "--format", "json").stdout)
    row = out["layers"][1]
    assert (row["type"], row["params"]) == ("scale", 8)
    assert out["params"] == (4 + 4 + 4 * 3 * 9) + 8 + (2 + 2 * 4)  # running statistics are not params


def test_weights_round_trip_and_forward(plugin, tmp_path):
    import torch

    import darkbench
    init = tmp_path / "init.weights"
    _cli("weights", "init", plugin, init, "--seed", "3")
    assert "fits" in _cli("weights", "info", plugin, init).stdout
    model = darkbench.load(plugin, init)
    again = tmp_path / "again.weights"
    model.save_weights(again)
    assert init.read_bytes() == again.read_bytes()

    with torch.no_grad():
        outs = model.layer_outputs(torch.rand(1, 3, 5, 7))
    scale = model.layers[1]
    w, b = scale.weights.detach().numpy(), scale.biases.detach().numpy()
    assert np.abs(w).max() > 0.5  # random, not the initial ones
    y = outs[0].numpy() * w[None, :, None, None] + b[None, :, None, None]
    want = np.where(y > 0, y, 0.1 * y)
    np.testing.assert_allclose(outs[1].numpy(), want, rtol=1e-6, atol=1e-6)


def test_crosscheck(plugin):
    out = json.loads(_cli("crosscheck", plugin, "--format", "json").stdout)
    row = out["layers"][1]
    assert row["type"] == "scale" and row["fvcore_unsupported"] == {}
    assert row["fvcore_other"] == 4 * 5 * 7 * 2  # addcmul, then leaky relu
    assert row["params"] == row["torch_params"] == row["fvcore_params"] == row["file_floats"] == 8
    assert "aten::addcmul" in out["fvcore_handles"]["1 per output element"]


def test_export_runs_in_onnxruntime(plugin, tmp_path):
    ort = require_module("onnxruntime")
    import torch

    import darkbench
    w = tmp_path / "w.weights"
    _cli("weights", "init", plugin, w, "--seed", "5")
    onnx = tmp_path / "scaled.onnx"
    _cli("export", plugin, w, "-o", onnx)
    x = torch.rand(1, 3, 5, 7)
    with torch.no_grad():
        want = darkbench.load(plugin, w)(x).numpy()
    sess = ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": x.numpy()})[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_duplicate_section_names_both(tmp_path):
    clash = tmp_path / "clash.py"
    clash.write_text(FAMILY.replace('"thing"', '"maxpool"'))
    r = _cli("ops", ROOT / "tests" / "cfgs" / "pools_routes.cfg", env_extra={layers.ENV: str(clash)}, check=False)
    assert r.returncode != 0
    assert "[maxpool] is defined by both darkbench.layers.maxpool and " + str(clash) in r.stderr


def test_entry_point(tmp_path):
    """A package that names its family module in the darkbench.layers entry-point group."""
    site = fake_package(tmp_path / "site", "scalepkg", PLUGIN.read_text(), registry.GROUP, "scale")
    cfg = tmp_path / "scaled.cfg"
    cfg.write_text(CFG)
    r = _cli("ops", cfg, "--json", env_extra={layers.ENV: "", "PYTHONPATH": f"{ROOT}{os.pathsep}{site}"})
    assert json.loads(r.stdout)


# -- a family is checked when it is registered -----------------------------------------------------------------


@pytest.mark.parametrize("extra, says", [
    ("TRANSPOSD = True", "unknown trait TRANSPOSD (did you mean TRANSPOSED?); a constant of the family's own "
                         "starts with '_'"),
    ("SIZES = (1, 2)", "unknown trait SIZES; a constant of the family's own starts with '_'"),
    ("HEAD = 1", "trait HEAD must be True or False, not 1"),
    ("FAN_IN = 3", "trait FAN_IN must be a function, not 3"),
    ("FORK_KEYS = ['stride_x']", "trait FORK_KEYS must be a set of option names, not ['stride_x']"),
    ("DIALECTS = ('alexeyab', 'darknet')", "trait DIALECTS must be a tuple of dialect names (pjreddie, alexeyab)"),
    ("TORCH_OPS = {'aten::erf': 'per output'}", "trait TORCH_OPS must be a dict {aten op: one of 1 per output "
                                                "element, 1 per input element read"),
    ("def fan_in(layer):\n    return 1", "trait fan_in is written FAN_IN"),
    ("del module", "module() is missing"),
    ("NAMES = 'thing'", "NAMES must be a tuple of section names, not 'thing'"),
    ("del NAMES", "NAMES must be a tuple of section names, not None"),
])
def test_a_bad_family_is_refused_naming_file_and_name(monkeypatch, tmp_path, extra, says):
    bad = tmp_path / "bad_family.py"
    bad.write_text(FAMILY + extra + "\n")
    monkeypatch.setenv(layers.ENV, str(bad))
    monkeypatch.setattr(registry, "_registry", None)
    with pytest.raises(layers_errors.DarkbenchError) as e:
        layers.families()
    assert str(e.value).startswith(f"{bad}: layer family: ") and says in str(e.value)


def test_a_good_family_with_private_constants_and_shared_values(monkeypatch, tmp_path):
    good = tmp_path / "good_family.py"
    good.write_text("from darkbench.layers.traits import FORK_ONLY, PER_OUTPUT\n" + FAMILY +
                    "_SIZES = (1, 2)\nDIALECTS = FORK_ONLY\nTORCH_OPS = {'aten::erf': PER_OUTPUT}\nDETECTS = True\n")
    monkeypatch.setenv(layers.ENV, str(good))
    monkeypatch.setattr(registry, "_registry", None)
    assert layers.family("thing").DIALECTS == ("alexeyab",)
    assert layers.sections_with("DETECTS") == ("detection", "Gaussian_yolo", "region", "yolo", "thing")


def test_builtin_families_pass_and_their_traits_are_declared():
    from darkbench.layers.traits import DECLARED, problems
    for fam in layers.families():
        assert problems(fam) == [], fam.__name__
    assert set(layers.DEFAULTS) == set(DECLARED)
    assert layers.sections_with("HEAD") == ("Gaussian_yolo", "yolo")


def test_a_bad_family_is_one_line_on_the_command_line(tmp_path):
    bad = tmp_path / "bad_family.py"
    bad.write_text(FAMILY + "COLOUR = 'tab:red'\n")
    for args in (("ops", "tiny.cfg"), ("bench", "--help")):
        r = _cli(*args, env_extra={layers.ENV: str(bad)}, check=False)
        assert r.returncode != 0 and r.stdout == ""
        assert r.stderr == (f"darkbench {args[0]}: error: {bad}: layer family: unknown trait COLOUR (did you mean "
                            "COLOR?); a constant of the family's own starts with '_'\n")
