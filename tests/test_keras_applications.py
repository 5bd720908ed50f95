"""Every keras.applications architecture Keras builds on its torch backend, written with model.to_json()
at test time: darkbench counts it from the JSON as Keras counts it, and builds it with Keras' shapes.

The sweep over all of them is marked slow (-m "not slow" keeps a representative few)."""
import contextlib
import math
import os

import pytest
import torch

from require import require_module

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = require_module("keras")

import darkbench  # noqa: E402
from darkbench import keras as dkeras  # noqa: E402
from darkbench.cli import main  # noqa: E402
from darkbench.errors import DarkbenchError  # noqa: E402
from keras_models import assert_values_equal_keras, leaves  # noqa: E402

SMALLEST = {"InceptionV3": 75, "InceptionResNetV2": 75, "Xception": 71}  # others take 32x32
NOT_ON_TORCH = {"NASNetMobile"}  # Keras refuses it on its torch backend
NAMES = sorted(n for n in dir(keras.applications) if n[:1].isupper() and callable(getattr(keras.applications, n)))
# nested Sequential and LayerScale; SE blocks and hard_swish; Normalization, Rescaling and swish;
# concatenation in depth; CustomScaleLayer; pre-activation residuals; separable convolutions
QUICK = {"ConvNeXtTiny", "MobileNetV3Small", "EfficientNetB0", "DenseNet121", "InceptionResNetV2",
         "ResNet50V2", "Xception"}


def _size(ws):
    return sum(math.prod(w.shape) for w in ws)


def _counts(model):
    return model.count_params(), _size(model.trainable_weights), _size(model.non_trainable_weights)


@contextlib.contextmanager
def _zero_init():
    """Zeros for Keras' random initialisers: counts and shapes do not depend on them, and drawing
    hundreds of millions of random numbers is most of the time spent building the big ones."""
    import keras.src.backend.torch.random as rnd
    saved = {k: getattr(rnd, k) for k in ("uniform", "normal", "truncated_normal")}
    for k in saved:
        setattr(rnd, k, lambda shape, *a, dtype=None, **kw: torch.zeros(tuple(shape)))
    try:
        yield
    finally:
        for k, v in saved.items():
            setattr(rnd, k, v)


_CACHE = {}


@pytest.fixture(scope="session")
def application(tmp_path_factory):
    """name -> (JSON path, Keras' counts, Keras' output shape per darkbench layer name); built once a session."""
    folder = tmp_path_factory.mktemp("applications")

    def get(name):
        if name not in _CACHE:
            size = SMALLEST.get(name, 32)
            with _zero_init():
                model = getattr(keras.applications, name)(weights=None, input_shape=(size, size, 3))
            path = folder / f"{name}.json"
            path.write_text(model.to_json())
            shapes = {n: tuple(layer.output.shape[1:]) for n, layer in leaves(model)}
            _CACHE[name] = path, _counts(model), shapes
            del model
        return _CACHE[name]
    return get


def _param(name):
    marks = [pytest.mark.skip(reason="Keras does not build it on its torch backend")] if name in NOT_ON_TORCH \
        else [] if name in QUICK else [pytest.mark.slow]
    return pytest.param(name, marks=marks)


@pytest.mark.parametrize("name", [_param(n) for n in NAMES])
def test_counts_equal_keras(application, name):
    path, counts, shapes = application(name)
    net = dkeras.analyse(path)
    assert (net.params, net.trainable, net.non_trainable) == counts
    ours = {l.name: l for l in net.layers}
    assert {key: ours[key].keras_shape for key in shapes} == shapes
    # the rest are Keras operations (x + y: keras.src.ops.numpy.Add), not layers: no weights
    assert all(l.params == 0 for key, l in ours.items() if key not in shapes)


@pytest.mark.parametrize("name", [_param(n) for n in NAMES])
def test_built_shapes_equal_keras(application, name):
    """Every layer of the PyTorch module (nested models' too) gives Keras' output shape."""
    path, _, shapes = application(name)
    m = darkbench.load(path)
    with torch.no_grad():
        got = m.trace(torch.zeros(1, *m.input_shape))
    for key, want in shapes.items():
        g = tuple(got[key].shape[1:])
        assert (g[1], g[2], g[0]) == want if len(want) == 3 else g == want, key


def test_every_name_is_swept():
    """A new Keras release's architectures join the sweep; the few known here still exist."""
    assert QUICK | set(SMALLEST) | NOT_ON_TORCH <= set(NAMES)


@pytest.mark.parametrize("name,shape", [("ConvNeXtTiny", (32, 32, 3)), ("MobileNetV3Small", (32, 32, 3))])
def test_values_equal_keras(tmp_path, name, shape):
    """Same weights in both: ConvNeXt's nested stem, LayerScale and Dense on images, MobileNetV3's
    hard sigmoid written as Keras operations (relu6(x + 3) * (1 / 6)) compute what Keras computes
    (MobileNetV2 and EfficientNetB0: test_keras.py)."""
    model = getattr(keras.applications, name)(weights=None, input_shape=shape, classes=5,
                                              classifier_activation=None)
    p = tmp_path / "app.json"
    p.write_text(model.to_json())
    assert_values_equal_keras(model, p, shape)


@pytest.mark.parametrize("name", ["MobileNetV3Small", "ResNet50", "ConvNeXtTiny"])
def test_open_input_size_needs_width_and_height(tmp_path, capsys, name):
    """MobileNetV3Small() and include_top=False backbones take any image size: (None, None, 3)."""
    kw = {} if name == "MobileNetV3Small" else dict(include_top=False)
    with _zero_init():
        model = getattr(keras.applications, name)(weights=None, **kw)
    assert model.input_shape == (None, None, None, 3)
    p = tmp_path / "open.json"
    p.write_text(model.to_json())
    with pytest.raises(DarkbenchError, match="any size .*give the size with --width and --height"):
        dkeras.analyse(p)
    assert main(["ops", str(p)]) == 1
    assert "--width and --height" in capsys.readouterr().err
    net = dkeras.analyse(p, width=64, height=48)
    assert (net.params, net.trainable, net.non_trainable) == _counts(model)
    want = model.compute_output_shape((1, 48, 64, 3))[1:]
    assert net.layers[net.output_index].keras_shape == tuple(want)
    m = dkeras.load(p, width=64, height=48)
    with torch.no_grad():
        y = m(torch.zeros(1, 3, 48, 64))
    assert tuple(y.shape[1:]) == ((want[2], want[0], want[1]) if len(want) == 3 else tuple(want))
    with pytest.raises(DarkbenchError, match="give the size with --height"):
        dkeras.analyse(p, width=64)


def test_nested_stem_in_summary(application, capsys):
    """ConvNeXt's stem (a Sequential inside the model): a row with its subtotal, its layers indented."""
    path, _, _ = application("ConvNeXtTiny")
    with _zero_init():
        stem = keras.applications.ConvNeXtTiny(weights=None, input_shape=(32, 32, 3)).get_layer("convnext_tiny_stem")
    assert main(["summary", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    i = next(i for i, l in enumerate(lines) if "convnext_tiny_stem " in l)
    assert "Sequential" in lines[i] and f"{stem.count_params():,}" in lines[i] and "subtotal" in lines[i]
    assert ". convnext_tiny_stem_conv" in lines[i + 1] and ". convnext_tiny_stem_layernorm" in lines[i + 2]


def test_frozen_backbone_wrapped_in_a_model(tmp_path, capsys):
    """Transfer learning as people write it: a frozen include_top=False backbone (any image size) as a layer
    of their own model."""
    with _zero_init():
        base = keras.applications.MobileNetV3Small(weights=None, include_top=False)
    base.trainable = False
    x = keras.Input((None, None, 3))
    y = keras.layers.GlobalAveragePooling2D()(base(x))
    model = keras.Model(x, keras.layers.Dense(4)(keras.layers.Dropout(0.2)(y)))
    p = tmp_path / "wrapped.json"
    p.write_text(model.to_json())
    net = dkeras.analyse(p, width=64, height=64)
    assert (net.params, net.trainable, net.non_trainable) == _counts(model)
    assert net.trainable == 4 * (base.output.shape[-1] + 1)
    assert {m.label for m in net.nested} == {base.name}
    m = darkbench.load(p, width=64, height=64)
    with torch.no_grad():
        assert tuple(m(torch.zeros(2, 3, 64, 64)).shape) == (2, 4)
    assert main(["summary", str(p), "--width", "64", "--height", "64"]) == 0
    out = capsys.readouterr().out
    assert f"{base.name}  " in out and f". {base.layers[1].name} " in out
