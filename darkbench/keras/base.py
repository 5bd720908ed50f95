"""What every Keras kind shares: the Kind record and the helpers of its counting rule (never torch)."""
from dataclasses import dataclass
from typing import Callable


MAX_VALUES = 1 << 34     # the most values in one tensor: the cfg reader's limit (network.py)
MAX_WINDOW = 2 ** 31 - 1  # kernel, stride, padding...: torch's pooling takes 32-bit ints


@dataclass(frozen=True)
class Kind:
    """One Keras layer class: its counting rule and its PyTorch module, defined side by side in a module of
    darkbench/keras/kinds/ (the module function imports torch itself: only building needs it)."""
    count: Callable          # (config, input shapes) -> (output shape, trainable, non-trainable, MACs, formula)
    module: Callable         # (KerasLayer, where) -> torch module taking the layer's inputs (NCHW images)
    image: bool = False      # needs (H, W, C) inputs
    desc: Callable = None    # config -> its window for tables, e.g. '3x3/2 same' (after the count validated it)
    op: Callable = None      # the counting rule of Keras' operation of this name (x + y: keras.src.ops.numpy.Add)


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def pair(v, key="size"):
    """Keras' int-or-pair options (kernel_size, strides, ...): two positive integers."""
    p = (v, v) if is_int(v) else tuple(v) if isinstance(v, (list, tuple)) else ()
    if len(p) != 2 or not all(is_int(x) and 0 < x <= MAX_WINDOW for x in p):
        raise ValueError(f"{key}={short(v)} must be one or two positive integers (at most {MAX_WINDOW})")
    return p


def short(v, limit=60):
    """A config value for a one-line message, cut short."""
    text = " ".join(str(v).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def positive(c, key):
    v = c[key]
    if not is_int(v) or v <= 0:
        raise ValueError(f"{key}={short(v)} must be a positive integer")
    return v


def padding(c):
    pad = c.get("padding", "valid")
    if pad not in ("valid", "same"):
        raise ValueError(f"padding='{short(pad)}' must be 'valid' or 'same'")
    return pad


def conv_len(n, k, s, d, padding):
    k = (k - 1) * d + 1
    return (n - k) // s + 1 if padding == "valid" else -(-n // s)


def check_padded(h, w, c, kh, kw, sh, sw, dh, dw, padding):
    """'same' padding of a huge window makes a huge padded input (the builder pads explicitly)."""
    if padding != "same":
        return
    extent = [(-(-n // s) - 1) * s + (k - 1) * d + 1 for n, k, s, d in ((h, kh, sh, dh), (w, kw, sw, dw))]
    n = max(extent[0], h) * max(extent[1], w) * c
    if n > MAX_VALUES:
        raise ValueError(f"the padded input of {n} values is too large (a window of {kh}x{kw}, "
                         f"dilation {dh}x{dw})")


def bias(c, units):
    """The biases a layer with use_bias stores."""
    return units if c.get("use_bias", True) else 0


def formula(terms, total):
    return f"{terms} = {total:,}"


def window_desc(kh, kw, sh, sw, c):
    """A window for tables: '3x3/2 same'."""
    return f"{kh}x{kw}/{sh if sh == sw else f'{sh}x{sw}'} {padding(c)}"


def feature_axes(axis, rank):
    """Keras axis option (counting the batch axis, maybe negative, maybe a list) as sorted indices
    into the shape without the batch axis."""
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    out = []
    for a in axes:
        if not is_int(a) or not -rank <= a <= rank or a == 0:
            raise ValueError(f"axis={short(axis)} is not a feature axis of rank-{rank} inputs")
        out.append(a - 1 if a > 0 else rank + a)
    return sorted(set(out))


def passthrough(c, shapes):
    (s,) = shapes
    return s, 0, 0, 0, ""


# Keras 3's built-in activations (keras.activations, aliases included)
ACTIVATIONS = {
    "celu", "elu", "exponential", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu", "hard_swish",
    "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish", "relu", "relu6", "selu",
    "sigmoid", "silu", "soft_shrink", "softmax", "softplus", "softsign", "sparse_plus", "sparse_sigmoid",
    "sparsemax", "squareplus", "swish", "tanh", "tanh_shrink", "threshold"}


def activation(v):
    """A layer's activation option as a built-in activation's name (None when absent).

    Keras writes a name, or a dict: Keras 3 {"module": "builtins", "class_name": "function",
    "config": NAME, ...}, tf.keras 2 {"class_name": NAME, "config": null}. A custom function
    (only its name is saved), a lambda (its bytecode) or a layer object is refused: its code is the
    user's, and darkbench never runs code from a model file."""
    if isinstance(v, dict):
        v = _activation_dict(v)
    if v is None:
        return None
    if not isinstance(v, str):
        raise ValueError(f"activation={short(v)} is not an activation name")
    if v not in ACTIVATIONS:
        raise ValueError(f"activation '{short(v)}' is not one of Keras' built-in activations (a custom "
                         "function: darkbench never runs code from a model file)")
    return v


def _activation_dict(v):
    cls, conf, module = v.get("class_name"), v.get("config"), v.get("module")
    if cls == "function" and isinstance(conf, str):
        if _builtin_module(module):
            return conf
        raise ValueError(f"activation '{short(conf)}' comes from module '{short(module)}' (a custom "
                         "function: darkbench never runs code from a model file)")
    if isinstance(cls, str) and cls in ACTIVATIONS and not conf:
        return cls
    if ("value" in v and cls is None) or cls == "__lambda__":  # Keras 3 writes a lambda's bytecode
        raise ValueError("activation is a serialised Python lambda (darkbench never runs code from a "
                         "model file)")
    if isinstance(cls, str) and cls != "function":
        raise ValueError(f"activation given as a {short(cls)} object is not supported (only Keras' "
                         "built-in activation functions)")
    raise ValueError(f"activation={short(v)} is not an activation name")


def _builtin_module(module):
    """Where Keras looks a function's name up among its own: "builtins" (Keras 3) or an activations
    module of Keras or tf.keras."""
    if module is None or module == "builtins":
        return True
    return (isinstance(module, str) and module.endswith("activations")
            and module.split(".")[0] in ("keras", "tf_keras", "tensorflow"))
