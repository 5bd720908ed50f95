"""Keras models used to check darkbench's Keras counting against Keras itself.

`python tests/keras_models.py` rewrites cfg/inception.json (the inception blog's model) with real Keras.
"""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")


def inception_seed():
    """The blog's model: inception module (64, 96, 128, 16, 32, 32) on 28x28x3, pool, flatten, 64, 2."""
    import keras
    from keras import layers
    x_in = layers.Input(shape=(28, 28, 3))
    p1 = layers.Conv2D(64, (1, 1), padding="same", activation="relu")(x_in)
    p2 = layers.Conv2D(96, (1, 1), padding="same", activation="relu")(x_in)
    p2 = layers.Conv2D(128, (3, 3), padding="same", activation="relu")(p2)
    p3 = layers.Conv2D(16, (1, 1), padding="same", activation="relu")(x_in)
    p3 = layers.Conv2D(32, (5, 5), padding="same", activation="relu")(p3)
    p4 = layers.MaxPooling2D((3, 3), strides=(1, 1), padding="same")(x_in)
    p4 = layers.Conv2D(32, (1, 1), padding="same", activation="relu")(p4)
    x = layers.concatenate([p1, p2, p3, p4], axis=-1)
    x = layers.MaxPooling2D(pool_size=(2, 2))(x)
    x = layers.Flatten()(x)
    x = layers.Dense(64, activation="relu")(x)
    x = layers.Dense(2, activation="softmax")(x)
    return keras.Model(x_in, x, name="inception_seed")


def conv_options():
    import keras
    from keras import layers
    x_in = layers.Input(shape=(33, 29, 6))
    a = layers.Conv2D(12, 3, strides=2, padding="same", activation="relu")(x_in)
    b = layers.Conv2D(12, (5, 3), strides=(2, 1), padding="valid", dilation_rate=1, use_bias=False)(x_in)
    c = layers.Conv2D(8, 3, padding="same", dilation_rate=2, groups=2)(x_in)
    d = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same")(c)
    e = layers.SeparableConv2D(10, 3, strides=2, padding="same", depth_multiplier=3)(d)
    f = layers.Conv2DTranspose(7, 3, strides=2, padding="same")(e)
    g = layers.Conv2DTranspose(5, 4, strides=3, padding="valid", use_bias=False)(e)
    h = layers.BatchNormalization()(a)
    h = layers.ReLU(max_value=6.0)(h)
    i = layers.Add()([h, layers.Conv2D(12, 1, strides=2, padding="same")(x_in)])
    j = layers.Multiply()([i, i])
    # 19x17: symmetric 'same' padding below (Keras' torch backend averages asymmetric windows
    # differently from TensorFlow and JAX; see test_average_pool_same_excludes_padding)
    k = layers.ZeroPadding2D(((0, 2), (1, 1)))(j)
    k = layers.AveragePooling2D(3, strides=2, padding="same")(k)
    k = layers.LeakyReLU(negative_slope=0.2)(k)
    m = layers.GlobalAveragePooling2D()(k)
    n = layers.GlobalMaxPooling2D(keepdims=True)(f)
    n = layers.Flatten()(n)
    o = layers.Reshape((-1, 5))(layers.Flatten()(g))
    o = layers.Dense(3)(o)
    o = layers.Flatten()(o)
    p = layers.Concatenate()([m, n, o])
    p = layers.BatchNormalization(center=False)(p)
    p = layers.Dropout(0.3)(p)
    p = layers.Activation("tanh")(p)
    p = layers.Dense(4, use_bias=False)(p)
    p = layers.Softmax()(p)
    return keras.Model(x_in, p, name="conv_options")


def sequential_small():
    import keras
    from keras import layers
    return keras.Sequential([keras.Input((16, 16, 3)), layers.Conv2D(8, 3, activation="relu"),
                             layers.MaxPooling2D(), layers.BatchNormalization(), layers.Conv2D(4, 1),
                             layers.Flatten(), layers.Dense(10, activation="softmax")], name="seq")


def frozen():
    m = sequential_small()
    m.layers[0].trainable = False  # a frozen conv counts as non-trainable
    return m


def frozen_model():
    m = conv_options()
    m.trainable = False  # the whole model: every weight non-trainable
    return m


def transpose_options():
    """Conv2DTranspose paddings: output_padding, dilation, bias-only rows (k < s), odd and even k."""
    import keras
    from keras import layers
    x_in = layers.Input(shape=(5, 6, 4))
    outs = [
        layers.Conv2DTranspose(3, 1, strides=2, padding="same")(x_in),
        layers.Conv2DTranspose(3, 4, strides=2, padding="same")(x_in),
        layers.Conv2DTranspose(3, (3, 2), strides=(2, 3), padding="valid")(x_in),
        layers.Conv2DTranspose(3, 3, strides=2, padding="same", output_padding=1)(x_in),
        layers.Conv2DTranspose(3, 2, strides=3, padding="valid", output_padding=(2, 1))(x_in),
        layers.Conv2DTranspose(3, 3, strides=1, padding="valid", dilation_rate=2)(x_in),
        layers.Conv2DTranspose(3, 1, strides=3, padding="valid")(x_in),
    ]
    flat = [layers.Flatten()(o) for o in outs]
    return keras.Model(x_in, layers.Concatenate()(flat), name="transpose_options")


def pool_options():
    """Pooling on odd sizes, both paddings, uneven windows; valid convs rounding down; Dense on images."""
    import keras
    from keras import layers
    x_in = layers.Input(shape=(11, 9, 5))
    a = layers.MaxPooling2D(3, strides=2, padding="same")(x_in)            # 6x5: -inf padding matters
    b = layers.AveragePooling2D((3, 2), strides=(2, 1), padding="valid")(x_in)
    c = layers.MaxPooling2D((2, 3), strides=(3, 2))(x_in)
    d = layers.AveragePooling2D(3, strides=2, padding="same")(x_in)
    e = layers.Conv2D(6, (4, 2), strides=(3, 2), padding="valid")(x_in)
    f = layers.Conv2D(6, (2, 3), strides=(2, 2), padding="same", dilation_rate=1)(x_in)
    g = layers.Conv2D(4, 3, padding="valid", dilation_rate=(2, 3))(x_in)
    h = layers.Dense(7, activation="softmax")(layers.ReLU(negative_slope=0.1, threshold=0.2)(x_in))
    i = layers.Activation("sigmoid")(layers.GlobalMaxPooling2D()(h))
    j = layers.Multiply()([layers.Dense(7)(layers.GlobalAveragePooling2D(keepdims=False)(a)), i])
    parts = [layers.Flatten()(t) for t in (b, c, d, e, f, g)] + [j]
    return keras.Model(x_in, layers.Concatenate(axis=1)(parts), name="pool_options")


def norm_options():
    """BatchNormalization on other axes and ranks, without scale, frozen; Reshape to an image and back."""
    import keras
    from keras import layers
    x_in = layers.Input(shape=(6, 4, 3))
    a = layers.BatchNormalization(axis=1, scale=False, epsilon=0.01)(x_in)   # normalises H
    b = layers.Reshape((8, 9))(a)
    b = layers.BatchNormalization(center=False, scale=False)(b)              # rank-2 features
    c = layers.Reshape((3, 4, 6))(b)
    c = layers.Conv2D(5, 2, strides=1, padding="same", groups=1, activation="elu")(c)
    frozen_bn = layers.BatchNormalization(trainable=False)
    c = frozen_bn(c)
    d = layers.SeparableConv2D(4, (2, 3), padding="valid", use_bias=False, depth_multiplier=2)(c)
    e = layers.DepthwiseConv2D((3, 1), strides=(2, 1), padding="same", use_bias=False)(c)
    f = layers.Add()([layers.Flatten()(d), layers.Dense(2 * 2 * 4)(layers.Flatten()(e))])
    g = layers.Softmax()(layers.Dense(3, activation="leaky_relu")(f))
    return keras.Model(x_in, g, name="norm_options")


def extra_layers():
    """Layers beyond the required list: merges with broadcasting (a squeeze-excite block), up-sampling,
    cropping, PReLU, ELU, rescaling, inference-time no-ops."""
    import keras
    from keras import layers
    x_in = layers.Input(shape=(7, 6, 4))
    x = layers.Rescaling(1 / 127.5, offset=-1.0)(x_in)
    x = layers.GaussianNoise(0.1)(x)
    a = layers.Conv2D(8, 3, padding="same")(x)
    a = layers.PReLU(shared_axes=[1, 2])(a)
    se = layers.GlobalAveragePooling2D()(a)
    se = layers.Dense(8, activation="sigmoid")(layers.Dense(2, activation="relu")(se))
    a = layers.Multiply()([a, layers.Reshape((1, 1, 8))(se)])        # (7, 6, 8) * (1, 1, 8)
    a = layers.Add()([a, layers.Dense(8)(se)])                       # (7, 6, 8) + (8,)
    b = layers.UpSampling2D((2, 3))(a)
    b = layers.Cropping2D(((1, 2), (3, 0)))(b)                       # 11 x 15
    bil = layers.UpSampling2D(2, interpolation="bilinear")(layers.SpatialDropout2D(0.2)(a))
    bil = layers.Cropping2D(((2, 1), (0, 3)))(bil)                   # 11 x 9
    c = layers.ELU(alpha=0.5)(layers.Conv2D(8, (1, 7), padding="valid")(b))   # 11 x 9
    d = layers.Subtract()([c, bil])
    e = layers.Average()([c, d])
    f = layers.Maximum()([c, d, e])
    g = layers.Minimum()([f, e])
    g = layers.AlphaDropout(0.1)(layers.GaussianDropout(0.1)(g))
    g = layers.LayerNormalization(axis=[1, 3], epsilon=0.01)(g)
    g = layers.LayerNormalization(center=False)(g)
    g = layers.Normalization(axis=-1)(g)                                  # adapted: 2*8 + 1 weights
    g = layers.Normalization(axis=(1, 2), mean=0.5, variance=4.0, invert=True)(g)  # constants
    g = layers.GroupNormalization(groups=4, epsilon=0.01)(g)                  # 2 channels a group
    g = layers.GroupNormalization(groups=-1, center=False)(layers.Reshape((11 * 9, 8))(g))
    g = layers.PReLU()(layers.Flatten()(g))
    return keras.Model(x_in, layers.Dense(3)(g), name="extra_layers")


def application_layers():
    """keras.applications' own layer classes (Keras saves them as custom layers): ConvNeXt's LayerScale
    and StochasticDepth, InceptionResNetV2's CustomScaleLayer."""
    import keras
    from keras import layers
    from keras.src.applications.convnext import LayerScale, StochasticDepth
    from keras.src.applications.inception_resnet_v2 import CustomScaleLayer
    x_in = layers.Input(shape=(6, 5, 4))
    a = layers.Conv2D(4, 3, padding="same")(x_in)
    b = LayerScale(1e-6, 4)(a)
    b = StochasticDepth(0.1)(b)
    c = CustomScaleLayer(0.17)([x_in, b])
    return keras.Model(x_in, layers.Flatten()(c), name="application_layers")


def image_layers():
    """Resizing (up, down, to an aspect ratio), CenterCrop, Permute; augmentation layers (identity at
    inference)."""
    import keras
    from keras import layers
    x_in = layers.Input(shape=(9, 8, 3))
    x = layers.Identity()(x_in)
    for cls, args in [("RandomBrightness", [0.2]), ("RandomColorDegeneration", [0.2]), ("RandomColorJitter", []),
                      ("RandomContrast", [0.2]), ("RandomElasticTransform", []), ("RandomErasing", []),
                      ("RandomFlip", []), ("RandomGaussianBlur", []), ("RandomGrayscale", []), ("RandomHue", [0.2]),
                      ("RandomInvert", []), ("RandomPerspective", []), ("RandomPosterization", [(1, 8)]),
                      ("RandomRotation", [0.2]), ("RandomSaturation", [0.2]), ("RandomSharpness", [0.2]),
                      ("RandomShear", []), ("RandomTranslation", [0.2, 0.2]), ("RandomZoom", [0.2])]:
        x = getattr(layers, cls)(*args)(x)
    a = layers.Resizing(13, 11)(x)                                              # bilinear, up
    b = layers.Resizing(5, 6, interpolation="nearest", crop_to_aspect_ratio=True)(x)
    c = layers.Resizing(4, 3, interpolation="bicubic", antialias=True)(x)
    d = layers.CenterCrop(6, 5)(x)
    e = layers.Permute((2, 1, 3))(x)                                            # 8 x 9
    parts = [layers.Flatten()(t) for t in (a, b, c, d, e)]
    return keras.Model(x_in, layers.Concatenate()(parts), name="image_layers")


MODELS = {"inception_seed": inception_seed, "application_layers": application_layers, "image_layers": image_layers, "conv_options": conv_options, "sequential_small": sequential_small,
          "frozen": frozen, "frozen_model": frozen_model, "transpose_options": transpose_options,
          "pool_options": pool_options, "norm_options": norm_options, "extra_layers": extra_layers}


def nested():
    """Models used as layers, three deep: a Sequential stem; a Functional trunk with two outputs that calls
    one block model twice (shared weights); a frozen Sequential without an Input."""
    import keras
    from keras import layers
    bx = layers.Input((8, 8, 4))
    by = layers.Conv2D(4, 3, padding="same", name="b_conv")(bx)
    by = layers.BatchNormalization(name="b_bn")(by)
    block = keras.Model(bx, layers.Add(name="b_add")([bx, by]), name="block")
    tx = layers.Input((8, 8, 4))
    t1 = block(tx)
    t2 = block(layers.ReLU(name="t_relu")(t1))
    trunk = keras.Model(tx, [t2, layers.GlobalAveragePooling2D(name="t_gap")(t1)], name="trunk")
    stem = keras.Sequential([keras.Input((16, 16, 3)), layers.Conv2D(4, 3, strides=2, padding="same", name="s_conv"),
                             layers.ReLU(name="s_relu")], name="stem")
    frozen = keras.Sequential([layers.Dense(4, name="f_dense"), layers.BatchNormalization(name="f_bn")],
                              name="frozen")
    frozen.trainable = False
    x_in = layers.Input((16, 16, 3))
    a, v = trunk(stem(x_in))
    v = frozen(v)
    a = layers.GlobalMaxPooling2D(name="gmp")(a)
    out = layers.Dense(3, name="head")(layers.Concatenate(name="cat")([a, v]))
    return keras.Model(x_in, out, name="nested")


def tf_keras2(cfg, ranks, input_on_first_layer=False):
    """A Keras 3 model config rewritten in tf.keras 2's to_json() layout: batch_input_shape, no
    module/registered_name keys, string dtypes, nested-list inbound nodes with node/tensor indices
    and kwargs, input_layers/output_layers as [name, 0, 0], batch-norm axis as a list, LeakyReLU's
    alpha. ranks: layer name -> rank of its output with the batch axis (a built tf.keras 2 batch norm
    writes its axis as a positive list, e.g. [3]). With input_on_first_layer a Sequential has no
    InputLayer (Keras <= 2.3)."""
    import copy
    cfg = copy.deepcopy(cfg)

    def layer2(l):
        out = {"class_name": l["class_name"], "config": dict(l["config"])}
        c = out["config"]
        if isinstance(c.get("dtype"), dict):
            c["dtype"] = c["dtype"]["config"]["name"]
        if l["class_name"] == "InputLayer":
            c["batch_input_shape"] = c.pop("batch_shape")
            c.pop("optional", None)
        if l["class_name"] == "BatchNormalization":
            c["axis"] = [c["axis"] % ranks[c["name"]]]
        if l["class_name"] == "LeakyReLU":
            c["alpha"] = c.pop("negative_slope")
        for k, v in list(c.items()):
            if isinstance(v, dict) and "module" in v:  # initializers etc.: Keras 2 had no module key
                c[k] = {"class_name": v["class_name"], "config": v.get("config", {})}
        if "name" in l:
            out["name"] = l["name"]
        if "inbound_nodes" in l:
            out["inbound_nodes"] = [[[h, 0, 0, {}] for h in _histories(node["args"])]
                                    for node in l["inbound_nodes"]]
        return out

    conf = {k: v for k, v in cfg["config"].items()
            if k in ("name", "trainable", "layers", "input_layers", "output_layers")}
    conf["layers"] = [layer2(l) for l in conf["layers"]]
    for key in ("input_layers", "output_layers"):
        if key in conf:
            v = conf[key]
            conf[key] = [v] if isinstance(v[0], str) else v
    conf.pop("build_input_shape", None)
    if input_on_first_layer and cfg["class_name"] == "Sequential":
        first = conf["layers"].pop(0)
        conf["layers"][0]["config"]["batch_input_shape"] = first["config"]["batch_input_shape"]
    out = {"class_name": cfg["class_name"], "config": conf, "keras_version": "2.15.0",
           "backend": "tensorflow"}
    return out


def _histories(args):
    if isinstance(args, dict):
        return [args["config"]["keras_history"][0]] if args.get("class_name") == "__keras_tensor__" else []
    if isinstance(args, list):
        return [h for a in args for h in _histories(a)]
    return []


def randomise(model, seed=0):
    """Random weights everywhere (positive variances), so every weight shows in the outputs."""
    import numpy as np
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        new = []
        for w in layer.weights:
            v = rng.uniform(0.5, 1.5, w.shape) if "variance" in w.path else rng.normal(0, 0.5, w.shape)
            new.append(v.astype("float32"))
        if new:
            layer.set_weights(new)


def leaves(model, prefix=""):
    """(darkbench's name, layer) for every layer, nested models' layers named 'model/layer'."""
    for layer in model.layers:
        if hasattr(layer, "layers"):  # a model used as a layer
            yield from leaves(layer, prefix + layer.name + "/")
        elif layer.__class__.__name__ != "InputLayer":
            yield prefix + layer.name, layer


def assert_values_equal_keras(model, path, shape):
    """Random Keras weights copied into darkbench.load(path): the same image gives Keras' outputs."""
    import numpy as np
    import torch
    import darkbench
    from keras import ops
    randomise(model, seed=3)
    m = darkbench.load(path)
    copy_weights(model, m)
    x = np.random.default_rng(4).uniform(0, 255, size=(1, *shape)).astype("float32")
    with torch.no_grad():
        got = m(torch.from_numpy(x).permute(0, 3, 1, 2)).numpy()
    want = ops.convert_to_numpy(model(x))
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4 * float(np.abs(want).max()))


def copy_weights(model, module):
    """Keras weights into darkbench.keras.torch's module (Keras' layouts -> PyTorch's)."""
    import torch
    ops = dict(zip(module.names, module.layers))
    for name, layer in leaves(model):
        ws = [torch.from_numpy(w) for w in layer.get_weights()]
        if not ws:
            continue
        mods = list(ops[name].mods)
        kind = layer.__class__.__name__
        with torch.no_grad():
            if kind in ("Conv2D", "Conv2DTranspose"):    # (kh, kw, in, out) / (kh, kw, out, in)
                mods[0].weight.copy_(ws[0].permute(3, 2, 0, 1))
            elif kind in ("DepthwiseConv2D", "SeparableConv2D"):  # (kh, kw, c, m): channel c*m + j
                k = ws[0]
                mods[0].weight.copy_(k.reshape(k.shape[0], k.shape[1], -1).permute(2, 0, 1).unsqueeze(1))
                if kind == "SeparableConv2D":
                    mods[1].weight.copy_(ws[1].permute(3, 2, 0, 1))
            elif kind == "Dense":
                mods[0].weight.copy_(ws[0].T)
            elif kind == "PReLU":
                mods[0].alpha.copy_(ws[0])
                continue
            elif kind == "LayerScale":
                mods[0].gamma.copy_(ws[0])
                continue
            elif kind in ("LayerNormalization", "Normalization", "GroupNormalization"):
                holder = mods[0]
                for w, v in zip(layer.weights, ws):
                    key = {"gamma": "weight", "beta": "bias"}.get(w.path.rsplit("/", 1)[-1], w.path.rsplit("/", 1)[-1])
                    if key != "count":
                        getattr(holder, key).copy_(v.reshape(getattr(holder, key).shape))
                continue
            elif kind == "BatchNormalization":
                bn = mods[0]
                named = dict(zip([w.path.rsplit("/", 1)[-1] for w in layer.weights], ws))
                bn.running_mean.copy_(named["moving_mean"])
                bn.running_var.copy_(named["moving_variance"])
                if bn.weight is not None:
                    bn.weight.copy_(named["gamma"])
                if bn.bias is not None:
                    bn.bias.copy_(named["beta"])
                continue
            else:
                raise AssertionError(f"no weight mapping for {kind}")
            if getattr(layer, "use_bias", False):
                mods[-1].bias.copy_(ws[-1])


if __name__ == "__main__":
    from pathlib import Path
    out = Path(__file__).resolve().parent.parent / "cfg" / "inception.json"
    out.write_text(inception_seed().to_json(indent=1) + "\n")
    print(f"wrote {out}")
