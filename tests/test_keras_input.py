"""Malformed-but-plausible Keras files: one-line errors naming the file, the layer and what is wrong;
never a traceback, never code from the file. Counts of what is accepted still equal Keras' own."""
import json
import math
import os
import warnings

import pytest
import torch

import darkbench
from darkbench import keras as dkeras
from darkbench import memory
from darkbench.cli import main
from darkbench.errors import DarkbenchError
from require import require_module

os.environ.setdefault("KERAS_BACKEND", "torch")


def _keras():
    return require_module("keras")


def _seq(*layers, shape=(8, 8, 3)):
    """A Sequential model JSON: an InputLayer of `shape`, then (class_name, config) layers."""
    ls = [{"class_name": "InputLayer", "config": {"batch_shape": [None, *shape], "name": "in"}}]
    ls += [{"class_name": k, "config": dict(c, name=c.get("name", f"l{i}"))}
           for i, (k, c) in enumerate(layers)]
    return json.dumps({"class_name": "Sequential", "config": {"name": "m", "layers": ls}})


def _write(tmp_path, text, name="m.json"):
    p = tmp_path / name
    p.write_text(text)
    return p


def _one_line_error(capsys, argv, what):
    """Runs the CLI: exit 2 (a user error, not 3, an internal one) and one line naming `what`."""
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and "internal error" not in err, err
    assert err.count("\n") == 1 and what in err, err
    return err


def _counts(model):
    size = lambda ws: sum(math.prod(w.shape) for w in ws)  # noqa: E731
    return model.count_params(), size(model.trainable_weights), size(model.non_trainable_weights)


CONV = {"filters": 4, "kernel_size": [3, 3], "padding": "same"}


# 1. activations written as dicts ------------------------------------------------------------------

def my_act(x):
    return x * 2


def test_custom_activation_is_counted_and_refused_by_every_builder(tmp_path, capsys):
    """Keras 3 saves a custom function by name only ({"module": "builtins", "class_name": "function",
    "config": "my_act"}): counting needs no code; building would, so every command that builds refuses."""
    keras = _keras()
    x_in = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, activation=my_act, name="c1")(x_in)
    x = keras.layers.Flatten()(x)
    model = keras.Model(x_in, keras.layers.Dense(2, name="d")(x))
    text = model.to_json()
    assert '"class_name": "function", "config": "my_act"' in text  # what Keras 3 writes
    p = _write(tmp_path, text)
    net = dkeras.analyse(p)
    assert (net.params, net.trainable, net.non_trainable) == _counts(model)
    assert main(["ops", str(p)]) == 0 and main(["summary", str(p)]) == 0
    capsys.readouterr()
    what = "layer 'c1' (Conv2D): activation 'my_act' is not one of Keras' built-in activations"
    with pytest.raises(DarkbenchError, match=r"m\.json: layer 'c1' \(Conv2D\): activation 'my_act'"):
        darkbench.load(p)
    _one_line_error(capsys, ["export", str(p), "-o", str(tmp_path / "m.onnx")], what)
    assert not (tmp_path / "m.onnx").exists()


def test_lambda_and_layer_activations_are_refused(tmp_path, capsys):
    keras = _keras()
    x_in = keras.Input((4,))
    x = keras.layers.Dense(3, activation=lambda t: t * 3, name="lam")(x_in)  # saved as bytecode
    model = keras.Model(x_in, keras.layers.Activation(keras.layers.ReLU(), name="act")(x))
    with warnings.catch_warnings():  # Keras warns that a lambda is unsafe to load
        warnings.simplefilter("ignore")
        text = model.to_json()
    p = _write(tmp_path, text)
    assert dkeras.analyse(p).params == model.count_params()
    _one_line_error(capsys, ["export", str(p), "-o", str(tmp_path / "m.onnx")],
                    "layer 'lam' (Dense): activation is a serialised Python lambda")
    cfg = json.loads(text)
    cfg["config"]["layers"][1]["config"]["activation"] = "linear"
    p.write_text(json.dumps(cfg))
    with pytest.raises(DarkbenchError, match=r"layer 'act' \(Activation\): activation given as a ReLU "
                                             "object is not supported"):
        darkbench.load(p)


@pytest.mark.parametrize("form", [
    {"module": "builtins", "class_name": "function", "config": "relu", "registered_name": "function"},
    {"module": "keras.activations", "class_name": "function", "config": "relu", "registered_name": "relu"},
    {"class_name": "relu", "config": None},
], ids=["keras3", "keras-module", "tf-keras2"])
def test_builtin_activation_as_dict_builds_as_its_name(tmp_path, form):
    keras = _keras()
    assert keras.activations.deserialize(form) is keras.activations.relu  # Keras reads relu too
    torch.manual_seed(0)
    plain = darkbench.load(_write(tmp_path, _seq(("Conv2D", dict(CONV, activation="relu"))), "a.json"))
    torch.manual_seed(0)
    as_dict = darkbench.load(_write(tmp_path, _seq(("Conv2D", dict(CONV, activation=form))), "b.json"))
    x = torch.randn(1, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(plain(x), as_dict(x))


@pytest.mark.parametrize("act,what", [
    ({"module": "mypkg.acts", "class_name": "function", "config": "relu"},
     "activation 'relu' comes from module 'mypkg.acts'"),
    ("my_pkg>swish2", "activation 'my_pkg>swish2' is not one of Keras' built-in activations"),
    ({"class_name": ["relu"]}, "activation={'class_name': ['relu']} is not an activation name"),
    (7, "activation=7 is not an activation name"),
    ("celu", "activation 'celu' is not supported in PyTorch"),
])
def test_unusable_activations_are_refused_when_built(tmp_path, act, what):
    p = _write(tmp_path, _seq(("Conv2D", dict(CONV, name="c", activation=act))))
    assert dkeras.analyse(p).params == (3 * 3 * 3 + 1) * 4
    with pytest.raises(DarkbenchError, match="layer 'c' \\(Conv2D\\): ") as e:
        darkbench.load(p)
    assert what in str(e.value) and "\n" not in str(e.value)


# 2. window keys left on layers that have no window ------------------------------------------------

@pytest.mark.parametrize("extra", [{"kernel_size": []}, {"strides": [2]}, {"kernel_size": 3, "strides": [2]},
                                   {"pool_size": "x", "padding": 5}])
def test_window_keys_on_pass_through_layers_are_ignored(tmp_path, capsys, extra):
    p = _write(tmp_path, _seq(("Conv2D", CONV), ("Dropout", dict(extra, rate=0.1)), ("Flatten", {}),
                              ("Dense", {"units": 2})))
    net = dkeras.analyse(p)
    assert net.params == (27 + 1) * 4 + (8 * 8 * 4 + 1) * 2 and net.layers[1].desc == ""
    assert main(["summary", str(p)]) == 0
    assert main(["export", str(p), "-o", str(tmp_path / "m.onnx")]) == 0


def test_window_text_uses_keras_defaults(tmp_path):
    p = _write(tmp_path, _seq(("Conv2D", {"filters": 2, "kernel_size": 3}),
                              ("MaxPooling2D", {"pool_size": [2, 3], "padding": "same"})))
    assert [l.desc for l in dkeras.analyse(p).layers] == ["3x3/1 valid", "2x3/2x3 same"]


# 3. sizes: the cfg reader's 2^34-value limit, and its memory check before building ------------------

def test_absurd_input_is_refused_by_every_command(tmp_path, capsys):
    p = _write(tmp_path, _seq(("Conv2D", CONV), shape=(10 ** 9, 10 ** 9, 3)))
    what = "input 1000000000x1000000000x3 is too large"
    assert main(["ops", str(p)]) == 1 and what in capsys.readouterr().err
    _one_line_error(capsys, ["export", str(p), "-o", str(tmp_path / "m.onnx")], what)
    _one_line_error(capsys, ["summary", str(p)], what)
    small = _write(tmp_path, _seq(("Conv2D", CONV)), "small.json")
    assert main(["ops", str(small), "--width", str(10 ** 10)]) == 1
    assert "input 8x10000000000x3 is too large" in capsys.readouterr().err


@pytest.mark.parametrize("layer,what", [
    (("Dense", {"name": "d", "units": 2 ** 35}), "layer 'd' (Dense): output of 2199023255552 values"),
    (("UpSampling2D", {"name": "u", "size": 2 ** 20}), "layer 'u' (UpSampling2D): output of"),
    (("MaxPooling2D", {"name": "p", "pool_size": 2 ** 20, "strides": 1, "padding": "same"}),
     "layer 'p' (MaxPooling2D): the padded input of 3298578923667 values is too large"),
    (("Conv2D", {"name": "c", "filters": 2, "kernel_size": 2, "dilation_rate": 2 ** 20, "padding": "same"}),
     "layer 'c' (Conv2D): the padded input of"),
    (("Conv2DTranspose", {"name": "t", "filters": 2, "kernel_size": 2, "dilation_rate": 2 ** 20,
                          "padding": "same"}), "layer 't' (Conv2DTranspose): the uncropped output of"),
    (("MaxPooling2D", {"name": "p", "strides": 2 ** 31}), "layer 'p' (MaxPooling2D): strides=2147483648 "
     "must be one or two positive integers (at most 2147483647)"),
    (("ZeroPadding2D", {"name": "z", "padding": 2 ** 40}), "layer 'z' (ZeroPadding2D): padding="),
], ids=["dense", "upsampling", "pool-same", "dilated-same", "transposed", "stride", "zero-padding"])
def test_absurd_layer_sizes_are_refused(tmp_path, capsys, layer, what):
    p = _write(tmp_path, _seq(layer))
    _one_line_error(capsys, ["summary", str(p)], what)
    with pytest.raises(DarkbenchError, match="too large|at most"):
        darkbench.load(p)


def _big(tmp_path):
    """4096x4096 input, three 512-filter 3x3 convs: about 96 GiB of fp32 activations."""
    conv = dict(CONV, filters=512)
    return _write(tmp_path, _seq(("Conv2D", dict(conv, name="c1")), ("Conv2D", dict(conv, name="c2")),
                                 ("Conv2D", dict(conv, name="c3")), shape=(4096, 4096, 3)), "big.json")


def test_keras_build_checks_memory_first(tmp_path, monkeypatch):
    """The cfg builder's check, for Keras models too (the analysis is arithmetic; building allocates)."""
    p = _big(tmp_path)
    net = dkeras.analyse(p)
    assert memory.estimate_bytes(net) == 4 * (3 * 4096 * 4096 * 512 + 4096 * 4096 * 3 + net.params)
    monkeypatch.setattr(memory, "available_memory", lambda: int(20.8 * 2 ** 30))
    with pytest.raises(DarkbenchError, match=r"big\.json: building needs about 96\.2 GiB at batch 1 "
                                             r"\(activations \+ weights\) but only 20\.8 GiB is available"):
        darkbench.load(p)


def test_export_refuses_a_keras_model_that_does_not_fit(tmp_path, capsys, monkeypatch):
    p = _write(tmp_path, _seq(("Conv2D", dict(CONV, filters=32)), shape=(256, 256, 3)))
    monkeypatch.setattr(memory, "available_memory", lambda: 2 ** 20)
    _one_line_error(capsys, ["export", str(p), "-o", str(tmp_path / "m.onnx")], "GiB is available")
    assert not (tmp_path / "m.onnx").exists()


# 4. wrong types and values: refused by the analysis (every command) -------------------------------

@pytest.mark.parametrize("text,what", [
    (_seq(("Conv2D", dict(CONV, name="c", filters="8"))),
     "layer 'c' (Conv2D): filters=8 must be a positive integer"),
    (_seq(("Flatten", {}), ("Dense", {"name": "d", "units": 2.5})), "layer 'd' (Dense): units=2.5 must be"),
    (_seq(("Conv2D", dict(CONV, name="c", padding=["same"]))),
     "layer 'c' (Conv2D): padding='['same']' must be"),
    (_seq(("Conv2D", dict(CONV, name="c", data_format=5))), "layer 'c' (Conv2D): only channels_last"),
    (_seq(("Conv2D", dict(CONV, name="c", kernel_size=-3))), "kernel_size=-3 must be one or two positive"),
    (_seq(("Conv2D", dict(CONV, name="c", strides={"a": 1}))),
     "layer 'c' (Conv2D): strides={'a': 1} must be"),
    (_seq(("ZeroPadding2D", {"name": "z", "padding": -1})), "layer 'z' (ZeroPadding2D): padding=-1 must be"),
    (_seq(("ZeroPadding2D", {"name": "z", "padding": "ab"})),
     "layer 'z' (ZeroPadding2D): padding=ab must be"),
    (_seq(("Cropping2D", {"name": "k", "cropping": [[1, 2, 3], [0, 0]]})),
     "cropping=[[1, 2, 3], [0, 0]] must be"),
    (_seq(("Cropping2D", {"name": "k", "cropping": 4})),
     "layer 'k' (Cropping2D): output shape (0, 0, 3) is empty"),
    (_seq(("Conv2DTranspose", dict(CONV, name="t", output_padding="1"))), "output_padding=1 must be"),
    (_seq(("Reshape", {"name": "r", "target_shape": 192})),
     "layer 'r' (Reshape): target_shape=192 must be a list"),
    (_seq(("Softmax", {"name": "s", "axis": 1.5})), "layer 's' (Softmax): axis=1.5 is not a feature axis"),
    (_seq(("PReLU", {"name": "a", "shared_axes": 9})), "layer 'a' (PReLU): shared_axes=9 must be axes 1..3"),
    (_seq(("Dense", {"units": 2}), shape=(None, "8", 3)),
     "input shape [None, None, '8', 3] must be fully known"),
    (_seq(("Dense", {"units": 2}), shape=(8.0, 3)), "input shape [None, 8.0, 3] must be fully known"),
    (_seq(("Dense", {"units": 2}), shape=(-8, 3)), "must be fully known"),
    (_seq(("Conv2D", dict(CONV, name="c\nd"))),
     "layer 'c\\nd' ('Conv2D'): name or class has control characters"),
    ('{"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": '
     '{"batch_shape": [null, 4]}}, "Dense"]}}',
     "malformed Keras model JSON (layer entry 1 is not an object)"),
])
def test_bad_values_are_refused_in_one_line(tmp_path, capsys, text, what):
    p = _write(tmp_path, text)
    with pytest.raises(DarkbenchError) as e:
        dkeras.analyse(p)
    assert what in str(e.value) and str(p) in str(e.value) and "\n" not in str(e.value)
    assert main(["ops", str(p)]) == 1
    assert capsys.readouterr().err.count("\n") == 1


def test_nested_sequential_counts_as_keras(tmp_path):
    keras = _keras()
    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="d3")], name="inner")
    outer = keras.Sequential([keras.Input((4,)), inner, keras.layers.Dense(2, name="d2")], name="outer")
    p = _write(tmp_path, outer.to_json())
    net = dkeras.analyse(p)
    assert [(l.name, l.scope) for l in net.layers] == [("inner/d3", ("inner",)), ("d2", ())]
    assert net.params == outer.count_params() == 15 + 8


# 4b. options only the builder reads: counted, refused when built ------------------------------------

@pytest.mark.parametrize("layer,what", [
    (("BatchNormalization", {"epsilon": "x"}), "epsilon=x must be a number"),
    (("LayerNormalization", {"epsilon": None}), "epsilon=None must be a number"),
    (("ELU", {"alpha": "1"}), "alpha=1 must be a number"),
    (("LeakyReLU", {"negative_slope": None}), "negative_slope=None must be a number"),
    (("ReLU", {"max_value": "6"}), "max_value=6 must be a number"),
    (("ReLU", {"threshold": True}), "threshold=True must be a number"),
    (("Rescaling", {"scale": "x"}), "scale=x must be a number or a list of numbers of shape (8, 8, 3)"),
    (("Rescaling", {"scale": [1, 2]}), "scale=[1, 2] must be a number or a list of numbers"),
    (("Normalization", {"axis": -1, "mean": [1, 2], "variance": [1, 1, 1]}), "mean=[1, 2] must be a number"),
    (("UpSampling2D", {"interpolation": ["x"]}), "interpolation '['x']' is not supported"),
], ids=lambda v: v[0] if isinstance(v, tuple) else None)
def test_bad_builder_options_are_refused_when_built(tmp_path, capsys, layer, what):
    cls, conf = layer
    p = _write(tmp_path, _seq((cls, dict(conf, name="x"))))
    assert main(["ops", str(p)]) == 0
    capsys.readouterr()
    _one_line_error(capsys, ["export", str(p), "-o", str(tmp_path / "m.onnx")], f"layer 'x' ({cls}): {what}")


# options Keras accepts in more than one form: counted and built as Keras does -------------------------

def test_prelu_shared_axes_as_one_int_counts_as_keras(tmp_path):
    keras = _keras()
    model = keras.Sequential([keras.Input((6, 5, 3)), keras.layers.PReLU(shared_axes=1, name="p")])
    cfg = json.loads(model.to_json())
    cfg["config"]["layers"][1]["config"]["shared_axes"] = 1  # as given, not as a list
    p = _write(tmp_path, json.dumps(cfg))
    assert dkeras.analyse(p).params == model.count_params() == 5 * 3
    assert tuple(darkbench.load(p)(torch.zeros(1, 3, 6, 5)).shape) == (1, 3, 6, 5)


def test_softmax_over_several_axes_computes_as_keras(tmp_path):
    keras = _keras()
    model = keras.Sequential([keras.Input((4, 5, 3)), keras.layers.Softmax(axis=(1, 2))])
    p = _write(tmp_path, model.to_json())
    x = torch.randn(2, 4, 5, 3)
    want = model(x).detach().cpu()
    with torch.no_grad():
        got = darkbench.load(p)(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
    assert torch.allclose(got, want, atol=1e-6)
