"""darkbench's Keras arithmetic against Keras itself (Keras 3, torch backend; a test-only dependency)."""
import copy
import json
import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras", reason="Keras 3 is a test-only dependency (pip install keras)")

import darkbench  # noqa: E402
from darkbench import keras as dkeras  # noqa: E402
from darkbench.cli import main  # noqa: E402
from darkbench.errors import DarkbenchError  # noqa: E402
from keras_models import MODELS  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _keras_counts(model):
    tr = sum(int(w.numpy().size) for w in model.trainable_weights)
    ntr = sum(int(w.numpy().size) for w in model.non_trainable_weights)
    return model.count_params(), tr, ntr


@pytest.fixture(scope="module", params=sorted(MODELS))
def built(request, tmp_path_factory):
    model = MODELS[request.param]()
    path = tmp_path_factory.mktemp("k") / f"{request.param}.json"
    path.write_text(model.to_json())
    return model, path


def test_totals_equal_keras(built):
    model, path = built
    net = dkeras.analyse(path)
    assert (net.params, net.trainable, net.non_trainable) == _keras_counts(model)


def test_per_layer_params_and_shapes_equal_keras(built):
    model, path = built
    net = dkeras.analyse(path)
    ours = {l.name: l for l in net.layers}
    for kl in model.layers:
        if kl.__class__.__name__ == "InputLayer":
            continue
        l = ours[kl.name]
        assert l.params == kl.count_params(), kl.name
        assert l.keras_shape == tuple(kl.output.shape[1:]), kl.name


def test_torch_output_shape_matches_keras(built):
    model, path = built
    m = darkbench.load(path)
    kshape = tuple(model.layers[-1].output.shape[1:])
    with torch.no_grad():
        y = m(torch.rand(2, *m.input_shape))
    want = (kshape[2], kshape[0], kshape[1]) if len(kshape) == 3 else kshape
    assert tuple(y.shape[1:]) == want


def test_keras_archive(tmp_path):
    model = MODELS["conv_options"]()
    path = tmp_path / "m.keras"
    model.save(path)
    assert dkeras.analyse(path).params == model.count_params()


def _to_tf2(cfg):
    """The tf.keras 2 layout of the same model: batch_input_shape and nested-list inbound nodes."""
    cfg = copy.deepcopy(cfg)
    cfg["class_name"] = "Model"
    for l in cfg["config"]["layers"]:
        if l["class_name"] == "InputLayer":
            l["config"]["batch_input_shape"] = l["config"].pop("batch_shape")
        nodes = []
        for node in l.get("inbound_nodes", []):
            args = node["args"][0]
            args = args if isinstance(args, list) else [args]
            nodes.append([[a["config"]["keras_history"][0], 0, 0, {}] for a in args])
        l["inbound_nodes"] = nodes
    return cfg


def test_tf_keras2_layout(tmp_path):
    model = MODELS["inception_seed"]()
    p = tmp_path / "tf2.json"
    p.write_text(json.dumps(_to_tf2(json.loads(model.to_json()))))
    assert dkeras.analyse(p).params == 3335842


def test_seed_numbers_visible_in_summary(capsys):
    assert main(["summary", "inception.json"]) == 0
    out = capsys.readouterr().out
    concat = next(l for l in out.splitlines() if "Concatenate" in l)
    assert "124,384" in concat
    assert "(50176+1)*64 = 3,211,328" in out and "3,335,842" in out


def test_ops_json_has_keras_counts(capsys):
    assert main(["ops", "--json", str(ROOT / "cfg" / "inception.json")]) == 0
    d = json.loads(capsys.readouterr().out)[0]
    assert (d["params"], d["trainable"], d["non_trainable"]) == (3335842, 3335842, 0)


def test_compare_beside_cfg_networks(capsys):
    assert main(["compare", "tiny.cfg", "inception.json", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[1]["params"] == 3335842 and rows[0]["params"] == darkbench.analyse("tiny.cfg").params


@pytest.mark.parametrize("text,what", [
    ("{", "not valid JSON"),
    ('{"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": '
     '{"batch_shape": [null, 8, 8, 3]}}, {"class_name": "LSTM", "config": {"name": "lstm"}}]}}',
     "layer 'lstm' of class LSTM is not supported"),
    ('{"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": '
     '{"batch_shape": [null, 8, 8, 3]}}, {"class_name": "Conv2D", "config": {"name": "c", "filters": 4, '
     '"kernel_size": [9, 9]}}]}}', "output shape"),
    ('[1, 2]', "not a Keras model JSON"),
])
def test_bad_keras_files(tmp_path, text, what):
    p = tmp_path / "bad.json"
    p.write_text(text)
    with pytest.raises(DarkbenchError, match=what):
        dkeras.analyse(p)
