"""The one door to every kind of model: `analyse` and `load` for a darknet cfg or a Keras model (.json/.keras).

Only this module tells the kinds apart (by the file's suffix). Everyone else asks the analysed network what it
supports, or `traits(name)` before reading the file:
    kind                      "darknet" or "keras"
    has_darknet_layers        its layers are darknet's (per-layer joins, crosscheck's rules)
    supports_weights          darknet .weights files can be read into it and written from it
    supports_darknet_backend  the installed darknet program can run it
Analysis never prints: a network carries its warnings (net.warnings), and whoever runs a command (the CLI) may
watch every analysis through this door with `warnings_to(callback)`."""
import contextlib
import contextvars
import os

from . import keras, network
from .errors import DarkbenchError
from .paths import DARKNET_ZOO, PROJECT_CFG, resolve, search_path  # noqa: F401 (models.resolve as before)

KERAS_SUFFIXES = (".json", ".keras")

# (analyse, network class) for each kind of file
_CFG = (network.analyse, network.Network)
_KERAS = (keras.analyse, keras.KerasNetwork)

_listener = contextvars.ContextVar("darkbench_warning_listener", default=None)
_dialect = contextvars.ContextVar("darkbench_dialect", default=network.dialects.AUTO)


def _kind(path):
    return _KERAS if os.fspath(path).lower().endswith(KERAS_SUFFIXES) else _CFG


def traits(name):
    """The class a model file reads as (network.Network or keras.KerasNetwork), for its capabilities (kind,
    has_darknet_layers, supports_weights, supports_darknet_backend) without reading the file."""
    return _kind(resolve(name))[1]


@contextlib.contextmanager
def warnings_to(callback):
    """Within the block (this thread/context only), callback(warnings) is called with the warnings (a list of
    str) of every network analysed through this module. The library never prints them itself."""
    token = _listener.set(callback)
    try:
        yield
    finally:
        _listener.reset(token)


@contextlib.contextmanager
def dialect_in(dialect):
    """Within the block (this thread/context only), analyse() and load() called without a dialect read cfgs in
    this one (pjreddie, alexeyab or auto): how a command's --dialect reaches analyses deep inside it."""
    token = _dialect.set(dialect)
    try:
        yield
    finally:
        _dialect.reset(token)


def dialect_for(dialect=None, weights=None):
    """The dialect asked for (None: the block's, see dialect_in), with auto made the fork's when a weights
    file's header says the fork wrote it."""
    dialect = _dialect.get() if dialect is None else dialect
    if dialect == network.dialects.AUTO and weights is not None:
        return network.dialects.of_weights(os.fspath(weights)) or dialect
    return dialect


def analyse(name, width=None, height=None, text=None, dialect=None, weights=None):
    """A Network (darknet cfg) or KerasNetwork (.json/.keras) for a name or path (see paths.resolve). With text,
    a cfg's text read in place of the file (name then only names it). dialect: pjreddie, alexeyab or auto
    (None: auto, or the one dialect_in set); weights: a .weights file whose header auto may follow.
    Raises DarkbenchError only."""
    asked = _dialect.get() if dialect is None else dialect
    dialect = dialect_for(dialect, weights)
    if text is not None:
        net = network.analyse(name, width, height, text=text, dialect=dialect)
    else:
        path = resolve(name)
        if _kind(path) is _CFG:
            net = network.analyse(path, width, height, dialect=dialect)
        else:  # a Keras model has no darknet dialect
            net = keras.analyse(path, width=width, height=height)
    if weights is not None and getattr(net, "dialect", None):
        why = "the cfg needs it" if asked == network.dialects.AUTO else "as chosen"
        mismatch = network.dialects.header_mismatch(os.fspath(weights), net.dialect, why)
        if mismatch:
            net.warnings.append(mismatch)
    listener = _listener.get()
    if listener is not None and net.warnings:
        listener(list(net.warnings))
    return net


def load(name, weights=None, width=None, height=None, fuse=False, dialect=None):
    """An eval-mode torch.nn.Module: a cfg (optionally with darknet .weights, optionally batch norm folded) or
    a Keras architecture (random weights), the cfg read in a dialect as analyse() reads it (auto follows the
    weights file's header too). Imports torch; analyse() never does."""
    path = resolve(name)
    if _kind(path) is _KERAS:
        if weights is not None:
            raise DarkbenchError("weights cannot be loaded into a Keras model (only its architecture is read)", path)
        return keras.load(path, width=width, height=height, fuse=fuse)
    return build(analyse(path, width, height, dialect=dialect, weights=weights), weights, fuse)


def build(net, weights=None, fuse=False):
    """load() for a network already analysed (analyse()'s result, used as it is: a benchmark analyses each
    model once and builds it many times): an eval-mode torch.nn.Module, with darknet .weights when given."""
    if isinstance(net, _KERAS[1]):
        if weights is not None:
            raise DarkbenchError("weights cannot be loaded into a Keras model (only its architecture is read)",
                                 net.path)
        from .keras.torch import build as build_keras
        return build_keras(net)  # nothing to fuse
    from . import torch_model  # torch is imported only to build: the analytic path stays torch-free
    model = torch_model.build(net)
    if weights is not None:
        model.load_weights(os.fspath(weights))
    if fuse:
        model.fuse()
    return model
