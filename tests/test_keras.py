"""darkbench's Keras arithmetic against Keras itself (Keras 3, torch backend; a test-only dependency)."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from require import require_module

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = require_module("keras")

import darkbench  # noqa: E402
from darkbench import keras as dkeras  # noqa: E402
from darkbench.cli import main  # noqa: E402
from darkbench.errors import DarkbenchError  # noqa: E402
from keras_models import MODELS, assert_values_equal_keras, copy_weights, randomise, tf_keras2  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _size(ws):
    return sum(math.prod(w.shape) for w in ws)


def _keras_counts(model):
    return model.count_params(), _size(model.trainable_weights), _size(model.non_trainable_weights)


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
    assert sorted(ours) == sorted(kl.name for kl in model.layers if kl.__class__.__name__ != "InputLayer")
    for kl in model.layers:
        if kl.__class__.__name__ == "InputLayer":
            continue
        l = ours[kl.name]
        assert l.params == kl.count_params(), kl.name
        want = (_size(kl.trainable_weights), _size(kl.non_trainable_weights))
        assert (l.trainable, l.non_trainable) == want, kl.name
        assert l.keras_shape == tuple(kl.output.shape[1:]), kl.name
        assert l.out_shape == ((l.keras_shape[2], *l.keras_shape[:2]) if len(l.keras_shape) == 3
                               else (math.prod(l.keras_shape), 1, 1))


@pytest.mark.parametrize("name,shape", [("MobileNetV2", (32, 32, 3)), ("EfficientNetB0", (32, 32, 3))])
def test_keras_applications(tmp_path, name, shape):
    """Real architectures from keras.applications (random weights, small inputs): every layer's
    parameters, the totals and the computed values agree with Keras."""
    model = getattr(keras.applications, name)(weights=None, input_shape=shape, classes=5,
                                              classifier_activation=None)  # logits: nothing saturates
    p = tmp_path / "app.json"
    p.write_text(model.to_json())
    net = dkeras.analyse(p)
    assert (net.params, net.trainable, net.non_trainable) == _keras_counts(model)
    assert [l.params for l in net.layers] == [kl.count_params() for kl in model.layers[1:]]
    assert_values_equal_keras(model, p, shape)


def test_models_cover_every_supported_layer():
    from darkbench.keras.layers import RULES
    aliases = {"MaxPool2D", "AvgPool2D", "GlobalMaxPool2D", "GlobalAvgPool2D"}  # Keras saves the long names
    used = {kl.__class__.__name__ for build in MODELS.values() for kl in build().layers}
    assert set(RULES) - aliases <= used, set(RULES) - aliases - used


def test_torch_computes_what_keras_computes(built):
    """Same weights in both: every layer's output agrees (paddings, flatten order, depthwise layout)."""
    model, path = built
    randomise(model, seed=1)
    m = darkbench.load(path)
    copy_weights(model, m)
    x = np.random.default_rng(2).normal(size=(2, *model.input_shape[1:])).astype("float32")
    layers = [kl for kl in model.layers if kl.__class__.__name__ != "InputLayer"]
    want = keras.Model(model.inputs[0], [kl.output for kl in layers])(x, training=False)  # as predict()
    with torch.no_grad():
        got = m.trace(torch.from_numpy(x).permute(0, 3, 1, 2) if x.ndim == 4 else torch.from_numpy(x))
    for kl, w in zip(layers, want):
        g = got[kl.name]
        g = g.permute(0, 2, 3, 1) if g.dim() == 4 else g
        w = keras.ops.convert_to_numpy(w)
        scale = max(1.0, float(np.abs(w).max()))  # fp32 sums of thousands of terms
        np.testing.assert_allclose(g.numpy(), w, rtol=1e-4, atol=1e-5 * scale, err_msg=kl.name)


def test_macs_equal_torch_flop_counter(built):
    """An independent count: torch's FlopCounterMode (2 per multiply-add) over the built module."""
    _, path = built
    net = dkeras.analyse(path)
    m = dkeras.load(path)
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        m(torch.zeros(1, *m.input_shape))
    assert fc.get_total_flops() == 2 * net.macs == net.ops


def test_project_inception_json_is_the_seed_model():
    """cfg/inception.json (written by `python tests/keras_models.py`) is what Keras builds today."""
    model = MODELS["inception_seed"]()
    net = dkeras.analyse(ROOT / "cfg" / "inception.json")
    keras_layers = [kl for kl in model.layers if kl.__class__.__name__ != "InputLayer"]
    assert sorted((l.type, l.params, l.keras_shape) for l in net.layers) == \
        sorted((kl.__class__.__name__, kl.count_params(), tuple(kl.output.shape[1:])) for kl in keras_layers)
    assert net.params == model.count_params() == 3335842


def test_seed_macs_by_hand():
    net = dkeras.analyse(ROOT / "cfg" / "inception.json")
    convs = 28 * 28 * (1 * 1 * 3 * 64 + 1 * 1 * 3 * 96 + 3 * 3 * 96 * 128 + 1 * 1 * 3 * 16
                       + 5 * 5 * 16 * 32 + 1 * 1 * 3 * 32)
    assert net.macs == convs + 14 * 14 * 256 * 64 + 64 * 2
    assert net.ops == 2 * net.macs
    assert net.weights_bytes == 4 * 3335842
    concat = next(l for l in net.layers if l.type == "Concatenate")
    assert concat.running_total == 124384 and net.layers[-1].running_total == 3335842
    assert [l.formula for l in net.layers if l.type == "Dense"] == ["(50176+1)*64 = 3,211,328", "(64+1)*2 = 130"]
    assert (net.width, net.height, net.channels) == (28, 28, 3)


def test_torch_output_shape_matches_keras(built):
    model, path = built
    m = darkbench.load(path)
    kshape = tuple(model.layers[-1].output.shape[1:])
    with torch.no_grad():
        y = m(torch.rand(2, *m.input_shape))
    want = (kshape[2], kshape[0], kshape[1]) if len(kshape) == 3 else kshape
    assert tuple(y.shape[1:]) == want


@pytest.mark.parametrize("name", ["conv_options", "sequential_small"])
def test_keras_archive(tmp_path, name):
    model = MODELS[name]()
    path = tmp_path / "m.keras"
    model.save(path)
    net = dkeras.analyse(path)
    assert (net.params, net.trainable, net.non_trainable) == _keras_counts(model)
    with torch.no_grad():
        y = darkbench.load(path)(torch.zeros(1, *dkeras.load(path).input_shape))
    assert tuple(y.shape[1:]) == tuple(model.layers[-1].output.shape[1:])


@pytest.mark.parametrize("name,first", [("inception_seed", False), ("conv_options", False),
                                        ("norm_options", False), ("sequential_small", False),
                                        ("sequential_small", True), ("frozen", True)])
def test_tf_keras2_layout_counts_as_keras(tmp_path, name, first):
    """tf.keras 2 JSON (batch_input_shape, nested-list nodes, axis lists): Keras' own legacy loader
    reads it back into the same model, and darkbench counts it as Keras does."""
    legacy = require_module("keras.src.legacy.saving.saving_utils",
                            "Keras' loader for tf.keras 2 configs (a private module) has moved")
    model_from_config = legacy.model_from_config
    model = MODELS[name]()
    ranks = {kl.name: len(kl.output.shape) for kl in model.layers}
    cfg = tf_keras2(json.loads(model.to_json()), ranks, input_on_first_layer=first)
    text = json.dumps(cfg)
    assert '"module"' not in text and "keras_tensor" not in text and "batch_shape" not in text
    if not first:  # Keras 3's loader keeps the batch axis of a first layer's batch_input_shape
        again = model_from_config(json.loads(text))
        assert _keras_counts(again)[0] == model.count_params()
    p = tmp_path / "tf2.json"
    p.write_text(text)
    net = dkeras.analyse(p)
    assert (net.params, net.trainable, net.non_trainable) == _keras_counts(model)
    assert net.layers[-1].keras_shape == tuple(model.layers[-1].output.shape[1:])


def test_layer_order_in_file_does_not_matter(tmp_path):
    cfg = json.loads((ROOT / "cfg" / "inception.json").read_text())
    cfg["config"]["layers"].reverse()
    p = tmp_path / "rev.json"
    p.write_text(json.dumps(cfg))
    net = dkeras.analyse(p)
    assert net.params == 3335842 and net.layers[-1].name == "dense_1"
    assert tuple(darkbench.load(p)(torch.zeros(1, 3, 28, 28)).shape) == (1, 2)


def test_seed_numbers_visible_in_summary(capsys):
    assert main(["summary", "inception.json"]) == 0
    out = capsys.readouterr().out
    concat = next(l for l in out.splitlines() if "Concatenate" in l)
    assert "124,384" in concat
    assert "(50176+1)*64 = 3,211,328" in out and "3,335,842" in out


def test_summary_json_states_the_keras_conventions(capsys):
    # Keras counts moving mean/variance as (non-trainable) parameters; darknet's convention text would say
    # the opposite of how the figures in the same JSON were counted
    assert main(["summary", "inception.json", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["conventions"].startswith("Conventions (Keras)") and "moving mean and variance included" in d["conventions"]


def test_ops_json_has_keras_counts(capsys):
    assert main(["ops", "--json", str(ROOT / "cfg" / "inception.json")]) == 0
    d = json.loads(capsys.readouterr().out)[0]
    assert (d["params"], d["trainable"], d["non_trainable"]) == (3335842, 3335842, 0)


def test_compare_beside_cfg_networks(capsys):
    assert main(["compare", "tiny.cfg", "inception.json", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[1]["params"] == 3335842 and rows[0]["params"] == darkbench.analyse("tiny.cfg").params


def _seq(*layers, shape=(8, 8, 3)):
    """A Sequential model JSON: an InputLayer of `shape`, then (class_name, config) layers."""
    ls = [{"class_name": "InputLayer", "config": {"batch_shape": [None, *shape], "name": "in"}}]
    ls += [{"class_name": k, "config": dict(c, name=c.get("name", f"l{i}"))} for i, (k, c) in enumerate(layers)]
    return json.dumps({"class_name": "Sequential", "config": {"name": "m", "layers": ls}})


def _fun(*layers, extra=None):
    """A Functional model JSON (Keras 3 nodes): (class_name, name, config, [input names])."""
    def tensor(n):
        return {"class_name": "__keras_tensor__", "config": {"keras_history": [n, 0, 0]}}
    ls = [{"class_name": k, "name": n, "config": dict(c, name=n),
           "inbound_nodes": [{"args": [[tensor(i) for i in ins]] if len(ins) > 1 else [tensor(ins[0])],
                              "kwargs": {}}] if ins else []} for k, n, c, ins in layers]
    return json.dumps({"class_name": "Functional", "config": dict({"name": "f", "layers": ls}, **(extra or {}))})


INPUT = ("InputLayer", "in", {"batch_shape": [None, 8, 8, 3]}, [])
CONV = {"filters": 4, "kernel_size": [3, 3], "padding": "same"}


@pytest.mark.parametrize("text,what", [
    ("{", "not valid JSON"),
    ("", "not valid JSON"),
    ('[1, 2]', "not a Keras model JSON"),
    ('{"class_name": "Lambda", "config": {}}', "unsupported Keras model class 'Lambda'"),
    (_seq(("LSTM", {"name": "lstm", "units": 3})), "layer 'lstm' of class LSTM is not supported"),
    (_seq(("Conv2D", {"name": "c", "filters": 4, "kernel_size": [9, 9]})), "layer 'c' .*output shape"),
    (_seq(("Conv2D", {"name": "c", "filters": 4, "kernel_size": "3"})), "kernel_size=3 must be"),
    (_seq(("Conv2D", {"name": "c", "filters": 0, "kernel_size": 3})), "filters=0 must be a positive"),
    (_seq(("Conv2D", {"name": "c", "filters": 4, "kernel_size": 3, "groups": 2})), "groups=2 does not divide"),
    (_seq(("Conv2D", {"name": "c", "kernel_size": 3})), "layer 'c' \\(Conv2D\\): missing option 'filters'"),
    (_seq(("Conv2D", dict(CONV, data_format="channels_first"))), "only channels_last"),
    (_seq(("Conv2D", dict(CONV, padding="causal"))), "padding='causal'"),
    (_seq(("Reshape", {"target_shape": [5, -1]})), "cannot reshape"),
    (_seq(("Flatten", {}), ("Conv2D", CONV)), "needs an image input"),
    (_seq(("Dense", {"units": 2}), shape=(None, 3)), "must be fully known"),
    ('{"class_name": "Sequential", "config": {"name": "m", "layers": [{"class_name": "Dense", "config": '
     '{"units": 2}}]}}', "without an input shape"),
    ('{"class_name": "Functional", "config": {"layers": [1, 2]}}', "malformed Keras model JSON"),
    ('{"class_name": "Functional", "config": {"layers": []}}', "malformed Keras model JSON"),
    ('{"class_name": "Functional", "config": {"layers": [{"name": "x", "config": {}}]}}',
     "malformed Keras model JSON \\(missing key 'class_name'\\)"),
    (_fun(INPUT, ("Conv2D", "c", CONV, ["nowhere"])), "layer 'c' reads unknown layer 'nowhere'"),
    (_fun(INPUT, ("Conv2D", "c", CONV, ["d"]), ("Conv2D", "d", CONV, ["c"])), "cycle"),
    (_fun(INPUT, ("Conv2D", "c", CONV, ["in"]), ("Conv2D", "c", CONV, ["in"])), "two layers are named 'c'"),
    (_fun(INPUT, ("InputLayer", "in2", {"batch_shape": [None, 8, 8, 3]}, []),
          ("Add", "a", {}, ["in", "in2"])), "only single-input models"),
    (_fun(INPUT, ("Conv2D", "c", CONV, ["in"]), ("Concatenate", "k", {"axis": -1}, ["in", "c"]),
          ("MaxPooling2D", "p", {}, ["c"]), ("Concatenate", "k2", {"axis": -1}, ["in", "p"])),
     "layer 'k2' \\(Concatenate\\): cannot concatenate"),
    (_fun(INPUT, ("Conv2D", "c", CONV, ["in"]), extra={"output_layers": [["zz", 0, 0]]}),
     "output layer 'zz' is not in the layer list"),
])
def test_bad_keras_files(tmp_path, text, what):
    p = tmp_path / "bad.json"
    p.write_text(text)
    with pytest.raises(DarkbenchError, match=what) as e:
        dkeras.analyse(p)
    assert "\n" not in str(e.value) and str(p) in str(e.value)


def test_shared_layer_is_counted_once(tmp_path):
    """A layer called twice: its weights once (as Keras counts them), its MACs at every call."""
    cfg = json.loads(_fun(INPUT, ("Conv2D", "c", dict(CONV, filters=3), ["in"])))
    conv = cfg["config"]["layers"][1]
    conv["inbound_nodes"].append(json.loads(json.dumps(conv["inbound_nodes"][0])))
    conv["inbound_nodes"][1]["args"][0]["config"]["keras_history"] = ["c", 0, 0]  # c(c(x))
    cfg["config"]["output_layers"] = [["c", 1, 0]]
    p = tmp_path / "shared.json"
    p.write_text(json.dumps(cfg))
    net = dkeras.analyse(p)
    assert [(l.name, l.params, l.shares) for l in net.layers] == [("c", 84, None), ("c:1", 0, "c")]
    assert net.params == 84 and net.macs == 2 * 8 * 8 * 3 * 27
    m = darkbench.load(p)
    assert sum(p.numel() for p in m.parameters()) == 84
    assert tuple(m(torch.zeros(1, 3, 8, 8)).shape) == (1, 3, 8, 8)


def test_bad_keras_archives(tmp_path):
    import zipfile
    p = tmp_path / "junk.keras"
    p.write_bytes(b"not a zip at all")
    with pytest.raises(DarkbenchError, match="not a readable .keras archive"):
        dkeras.analyse(p)
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("metadata.json", "{}")
    with pytest.raises(DarkbenchError, match="has no config.json"):
        dkeras.analyse(p)
    with pytest.raises(DarkbenchError, match="no such file"):
        dkeras.analyse(tmp_path / "missing.json")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DarkbenchError, match="not UTF-8"):
        dkeras.analyse(tmp_path / "bin.json")


def test_multi_output_counts_but_does_not_build(tmp_path):
    model = keras.Model(*_two_heads())
    p = tmp_path / "two.json"
    p.write_text(model.to_json())
    assert dkeras.analyse(p).params == model.count_params()
    with pytest.raises(DarkbenchError, match="2 outputs"):
        darkbench.load(p)


def _two_heads():
    x = keras.Input((6, 6, 2))
    y = keras.layers.Conv2D(3, 3)(x)
    return x, [keras.layers.Flatten()(y), keras.layers.GlobalAveragePooling2D()(y)]


def test_load_refuses_options_it_would_ignore():
    with pytest.raises(DarkbenchError, match="weights"):
        dkeras.load(ROOT / "cfg" / "inception.json", weights="x.weights")
    m = dkeras.load(ROOT / "cfg" / "inception.json", width=32, height=30, fuse=True)
    assert m.input_shape == (3, 30, 32) and not m.training
    assert tuple(m(torch.zeros(1, 3, 30, 32)).shape) == (1, 2)
    with pytest.raises(DarkbenchError, match="expected \\(N, 3, 30, 32\\)"):
        m(torch.zeros(1, 3, 28, 28))


def test_average_pool_same_excludes_padding(tmp_path):
    """TensorFlow's (and JAX's) 'same' average pooling divides by the cells inside the image. Keras'
    torch backend pads asymmetric windows by replication instead, so this is checked by hand."""
    p = tmp_path / "avg.json"
    p.write_text(_seq(("AveragePooling2D", {"pool_size": 3, "strides": 2, "padding": "same"}), shape=(4, 4, 1)))
    m = darkbench.load(p)
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    # windows: rows 0-2/cols 0-2; rows 0-2/cols 2-3; rows 2-3/cols 0-2; rows 2-3/cols 2-3
    want = [[(0 + 1 + 2 + 4 + 5 + 6 + 8 + 9 + 10) / 9, (2 + 3 + 6 + 7 + 10 + 11) / 6],
            [(8 + 9 + 10 + 12 + 13 + 14) / 6, (10 + 11 + 14 + 15) / 4]]
    assert m(x)[0, 0].tolist() == [pytest.approx(r) for r in want]


def test_analysis_imports_no_torch_or_numpy():
    code = ("import sys, darkbench.keras as k; n = k.analyse('cfg/inception.json'); "
            "assert n.params == 3335842; print(sorted(m for m in ('torch', 'numpy', 'pandas', 'keras') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_built_model_exports_to_onnx(tmp_path):
    ort = require_module("onnxruntime")
    from darkbench.export import export_onnx
    p = tmp_path / "m.json"
    p.write_text(MODELS["conv_options"]().to_json())  # batch norm on a flat vector, deconv crops
    m = darkbench.load(p)
    export_onnx(m, tmp_path / "m.onnx", batch=2)
    x = torch.rand(2, *m.input_shape)
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    y = session.run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        np.testing.assert_allclose(y, m(x).numpy(), rtol=1e-4, atol=1e-5)
