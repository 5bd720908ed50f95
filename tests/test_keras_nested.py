"""Models used as layers of another model (any depth, called more than once): counted as Keras counts them,
shown indented in summary, built in PyTorch computing what Keras computes."""
import json
import math
import os

import numpy as np
import pytest
import torch

from require import require_module

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = require_module("keras")

import darkbench  # noqa: E402
from darkbench import keras as dkeras  # noqa: E402
from darkbench.cli import main  # noqa: E402
from keras_models import copy_weights, leaves, nested, randomise, tf_keras2  # noqa: E402


def _size(ws):
    return sum(math.prod(w.shape) for w in ws)


def _counts(model):
    return model.count_params(), _size(model.trainable_weights), _size(model.non_trainable_weights)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    model = nested()
    path = tmp_path_factory.mktemp("nested") / "nested.json"
    path.write_text(model.to_json())
    return model, path


def test_counts_equal_keras(built):
    """The block model is called twice (its weights once); the frozen model's weights are non-trainable."""
    model, path = built
    net = dkeras.analyse(path)
    assert (net.params, net.trainable, net.non_trainable) == _counts(model)
    ours = {l.name: l for l in net.layers}
    for name, kl in leaves(model):
        assert ours[name].keras_shape == tuple(kl.output.shape[1:]), name
    assert ours["trunk/block:1/b_conv"].shares == "trunk/block/b_conv"
    assert ours["trunk/block:1/b_conv"].params == 0 and ours["trunk/block:1/b_conv"].macs > 0
    assert ours["frozen/f_dense"].scope == ("frozen",) and ours["trunk/block/b_bn"].scope == ("trunk", "trunk/block")
    sub = {m.name: sum(l.params for l in net.layers if m.name in l.scope) for m in net.nested}
    assert sub["stem"] == model.get_layer("stem").count_params()
    assert sub["trunk"] == model.get_layer("trunk").count_params()
    assert sub["frozen"] == model.get_layer("frozen").count_params()


def test_torch_computes_what_keras_computes(built):
    model, path = built
    randomise(model, seed=1)
    m = darkbench.load(path)
    copy_weights(model, m)
    assert sum(p.numel() for p in m.parameters()) + sum(b.numel() for b in m.buffers()) == model.count_params()
    x = np.random.default_rng(2).normal(size=(2, 16, 16, 3)).astype("float32")
    with torch.no_grad():
        got = m(torch.from_numpy(x).permute(0, 3, 1, 2)).numpy()
    want = keras.ops.convert_to_numpy(model(x))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_summary_indents_nested_layers_under_a_subtotal(built, capsys):
    model, path = built
    assert main(["summary", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    cells = [l.split() for l in lines]
    trunk = next(c for c in cells if c[:2] == ["trunk", "Functional"])
    assert f"{model.get_layer('trunk').count_params():,}" in trunk and "subtotal" in trunk
    block = [i for i, c in enumerate(cells) if c[1:3] == ["block", "Functional"]]
    assert len(block) == 2 and "shares the weights of 'trunk/block'" in lines[block[1]]
    assert cells[block[0] + 1][1:5] == [".", ".", "b_conv", "Conv2D"]
    assert any(c[1:4] == [".", "f_dense", "Dense"] for c in cells) and any(c[1:3] == ["head", "Dense"] for c in cells)
    assert main(["summary", str(path), "--format", "json"]) == 0
    names = [r["name"] for r in json.loads(capsys.readouterr().out)["layers"]]
    assert "trunk/block:1/b_conv" in names and "trunk" not in names  # one row per layer, full names


def test_tf_keras2_layout(built, tmp_path):
    """tf.keras 2 numbers a nested model's calls from 1 (its own graph is call 0)."""
    model, _ = built
    cfg = json.loads(_nested_json(model))
    p = tmp_path / "tf2.json"
    p.write_text(json.dumps(cfg))
    net = dkeras.analyse(p)
    assert (net.params, net.trainable, net.non_trainable) == _counts(model)


def _nested_json(model):
    """The model in tf.keras 2's layout, nested model configs included: references keep their call and
    tensor numbers, a nested model's calls counted from 1."""
    ranks = {n.rsplit("/", 1)[-1]: len(kl.output.shape) for n, kl in leaves(model)}

    def history(args):
        if isinstance(args, dict):
            return [args["config"]["keras_history"]] if args.get("class_name") == "__keras_tensor__" else []
        return [h for a in args for h in history(a)] if isinstance(args, list) else []

    def convert(cfg):
        out = tf_keras2(cfg, ranks)
        layers = cfg["config"]["layers"]
        models = {l["config"]["name"]: l["class_name"] for l in layers if "layers" in l["config"]}
        for l, orig in zip(out["config"]["layers"], layers):
            if orig["class_name"] in ("Sequential", "Functional"):
                l["config"] = convert(orig)["config"]
            if "inbound_nodes" in orig:
                l["inbound_nodes"] = [[[h[0], h[1] + (h[0] in models), h[2], {}] for h in history(node["args"])]
                                      for node in orig["inbound_nodes"]]
        for key in ("output_layers", "input_layers"):
            for e in out["config"].get(key, []):
                e[1] += models.get(e[0]) == "Sequential"  # Keras 3 counted a Sequential's from 0
        return out
    return json.dumps(convert(json.loads(model.to_json())))


def test_nested_model_in_a_sequential_without_input(tmp_path):
    inner = keras.Sequential([keras.layers.Dense(3, name="d3")], name="inner")
    outer = keras.Sequential([keras.Input((4,)), inner, keras.layers.Dense(2, name="d2")], name="outer")
    p = tmp_path / "m.json"
    p.write_text(outer.to_json())
    net = dkeras.analyse(p)
    assert net.params == outer.count_params() and [l.name for l in net.layers] == ["inner/d3", "d2"]
    assert tuple(darkbench.load(p)(torch.zeros(1, 4)).shape) == (1, 2)


def _deep(depth):
    s = '{"class_name": "Dense", "config": {"name": "d", "units": 2}}'
    for i in range(depth):
        s = '{"class_name": "Sequential", "config": {"name": "m%d", "layers": [%s]}}' % (i, s)
    return ('{"class_name": "Sequential", "config": {"name": "top", "layers": [{"class_name": "InputLayer", '
            '"config": {"batch_shape": [null, 2], "name": "in"}}, %s]}}' % s)


def test_any_depth_and_too_deep_in_one_line(tmp_path, capsys):
    p = tmp_path / "deep.json"
    p.write_text(_deep(100))
    net = dkeras.analyse(p)
    assert net.params == 6 and len(net.layers[0].scope) == 100 and len(net.nested) == 100
    p.write_text(_deep(3))
    assert main(["summary", str(p)]) == 0
    assert ". . . d  " in capsys.readouterr().out
    p.write_text(_deep(5000))
    assert main(["ops", str(p)]) == 1
    err = capsys.readouterr().err
    assert "nested too deeply" in err and err.count("\n") == 1
