"""The Keras class registry: one Kind per class (its count and its module together), unknown classes refused in one
line."""
import json
import os

import pytest

from darkbench import keras as dkeras
from darkbench.cli import main
from darkbench.errors import DarkbenchError
from darkbench.keras.layers import KINDS
from require import require_module

os.environ.setdefault("KERAS_BACKEND", "torch")


def test_a_kind_and_its_module_are_one_unit():
    """Each class's Kind is defined in one module of darkbench/keras/kinds/, with its PyTorch module function
    beside it there (its counting rule there too, or base's shared passthrough), not looked up by a name."""
    import importlib
    import pkgutil

    from darkbench.keras import base, kinds
    seen = {}
    for info in pkgutil.iter_modules(kinds.__path__):
        mod = importlib.import_module(f"{kinds.__name__}.{info.name}")
        for name, kind in mod.KINDS.items():
            assert name not in seen, (name, seen.get(name), info.name)
            seen[name] = info.name
            assert kind.module.__module__ == mod.__name__, name
            assert kind.count.__module__ in (mod.__name__, base.__name__), name
            assert kind.desc is None or kind.desc.__module__ == mod.__name__, name
    assert seen.keys() == KINDS.keys()
    assert len(KINDS) == 67
    assert sorted(k for k, v in KINDS.items() if v.op) == ["Add", "Multiply", "Subtract"]


def test_the_kinds_import_no_torch():
    import subprocess
    import sys
    code = "import sys, darkbench.keras.layers as l; print(len(l.KINDS), 'torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.split() == [str(len(KINDS)), "False"]


def _custom_model(tmp_path):
    keras = require_module("keras")

    class Twice(keras.layers.Layer):
        def call(self, x):
            return x * 2

    @keras.saving.register_keras_serializable(package="mine")
    class Thrice(keras.layers.Layer):
        def call(self, x):
            return x * 3

    out = {}
    for name, layer in (("twice", Twice(name="t")), ("thrice", Thrice(name="t"))):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), layer])
        p = tmp_path / f"{name}.json"
        p.write_text(model.to_json())
        out[name] = p
    return out


@pytest.mark.parametrize("name,origin", [("twice", "'Twice'"), ("thrice", "'mine>Thrice'")])
def test_custom_layer_is_refused_saying_keras_needs_its_code(tmp_path, capsys, name, origin):
    p = _custom_model(tmp_path)[name]
    cls = name.capitalize()
    with pytest.raises(DarkbenchError) as e:
        dkeras.analyse(p)
    msg = str(e.value)
    assert f"layer 't' of class {cls} is not supported: a custom layer ({origin})" in msg
    assert "even Keras needs the class's code to count it" in msg and "\n" not in msg
    assert main(["summary", str(p)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_keras_layer_darkbench_does_not_count_lists_what_it_does(tmp_path):
    ls = [{"class_name": "InputLayer", "config": {"batch_shape": [None, 5, 3], "name": "in"}},
          {"module": "keras.layers", "class_name": "LSTM", "registered_name": None,
           "config": {"name": "lstm", "units": 2}}]
    p = tmp_path / "lstm.json"
    p.write_text(json.dumps({"class_name": "Sequential", "config": {"name": "m", "layers": ls}}))
    with pytest.raises(DarkbenchError, match=r"layer 'lstm' of class LSTM is not supported \(supported: "
                                             r"InputLayer, Activation, Add, "):
        dkeras.analyse(p)


def test_keras_operations_compute_as_keras(tmp_path):
    """x + y, x * 0.5, 3 - x written among the layers (keras.src.ops): counted and built; others refused."""
    keras = require_module("keras")
    import numpy as np
    import torch
    import darkbench
    x = keras.Input((5, 4, 3))
    y = keras.layers.Conv2D(3, 1)(x)
    z = 3.0 - (x + y) * 0.5
    z = z * keras.layers.GlobalAveragePooling2D(keepdims=True)(y)   # broadcast (5, 4, 3) * (1, 1, 3)
    model = keras.Model(x, z)
    p = tmp_path / "ops.json"
    p.write_text(model.to_json())
    assert dkeras.analyse(p).params == model.count_params() == 12
    from keras_models import copy_weights, randomise
    randomise(model)
    m = darkbench.load(p)
    copy_weights(model, m)
    v = np.random.default_rng(0).normal(size=(2, 5, 4, 3)).astype("float32")
    with torch.no_grad():
        got = m(torch.from_numpy(v).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(got, keras.ops.convert_to_numpy(model(v)), rtol=1e-5, atol=1e-5)
    p.write_text(keras.Model(x, keras.ops.relu(x)).to_json())
    with pytest.raises(DarkbenchError, match=r"Keras operation Relu \(keras.src.ops.nn\) is not supported "
                                             r"\(supported operations: Add, Multiply, Subtract\)"):
        dkeras.analyse(p)
