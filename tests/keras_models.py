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
    k = layers.ZeroPadding2D(((1, 2), (0, 1)))(j)
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


MODELS = {"inception_seed": inception_seed, "conv_options": conv_options, "sequential_small": sequential_small,
          "frozen": frozen}


if __name__ == "__main__":
    from pathlib import Path
    out = Path(__file__).resolve().parent.parent / "cfg" / "inception.json"
    out.write_text(inception_seed().to_json(indent=1) + "\n")
    print(f"wrote {out}")
