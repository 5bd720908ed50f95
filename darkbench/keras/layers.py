"""The Keras layer classes darkbench counts: every Kind of darkbench/keras/kinds/ by class name, and the
evaluation of one layer (output shape and parameters exactly as Keras counts them, channels-last)."""
import dataclasses
import importlib
import math
import pkgutil

from ..errors import DarkbenchError
from . import kinds
from .base import MAX_VALUES, short


def _collect():
    out = {}
    for info in sorted(pkgutil.iter_modules(kinds.__path__), key=lambda i: i.name):
        mod = importlib.import_module(f"{kinds.__name__}.{info.name}")
        for name, kind in mod.KINDS.items():
            if name in out:
                raise RuntimeError(f"Keras class {name} has two kinds ({info.name} and another module)")
            out[name] = kind
    return dict(sorted(out.items()))


KINDS = _collect()
RULES = {name: kind.count for name, kind in KINDS.items()}


def window_text(cls, c):
    """Window text for tables, e.g. '3x3/2 same' (conv and pooling layers; after evaluate())."""
    kind = KINDS.get(cls)
    return kind.desc(c) if kind and kind.desc else ""


def _operation(node, kind, shapes, path):
    """The Kind counting a Keras operation (x + y, x * 0.5): two operands, tensors or numbers."""
    if kind is None or not kind.op:
        ops = ", ".join(sorted(k for k, v in KINDS.items() if v.op))
        raise DarkbenchError(f"layer '{node.name}': Keras operation {node.cls} ({short(node.op)}) is not "
                             f"supported (supported operations: {ops})", path)
    if len(node.operands or ()) != 2 or node.operands.count(None) != len(shapes):
        raise DarkbenchError(f"layer '{node.name}': Keras operation {node.cls} is supported on two operands, "
                             "tensors or numbers", path)
    return dataclasses.replace(kind, count=kind.op)


def evaluate(node, shapes, path):
    kind = KINDS.get(node.cls)
    if node.op:
        kind = _operation(node, kind, shapes, path)
    if kind is None:
        raise DarkbenchError(unknown_class(node), path)
    c = node.config
    if c.get("data_format") not in (None, "channels_last"):  # None: Keras' default, channels_last
        raise DarkbenchError(f"layer '{node.name}' ({node.cls}): only channels_last is supported", path)
    if kind.image and any(len(s) != 3 for s in shapes):
        raise DarkbenchError(f"layer '{node.name}' ({node.cls}) needs an image input (H, W, C), "
                             f"got {shapes}", path)
    try:
        out, trainable, non_trainable, macs, formula = kind.count(c, shapes)
    except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError) as e:
        what = f"missing option {e}" if isinstance(e, KeyError) else " ".join(str(e).split())
        raise DarkbenchError(f"layer '{node.name}' ({node.cls}): {what}", path) from None
    if any(d <= 0 for d in out):
        raise DarkbenchError(f"layer '{node.name}' ({node.cls}): output shape {out} is empty", path)
    if math.prod(out) > MAX_VALUES:
        raise DarkbenchError(f"layer '{node.name}' ({node.cls}): output of {math.prod(out)} values "
                             f"{out} is too large", path)
    if not c.get("trainable", True):
        trainable, non_trainable = 0, trainable + non_trainable
    return out, trainable, non_trainable, macs, formula


def unknown_class(node):
    """The one-line refusal of a class darkbench does not count."""
    where = f"layer '{node.name}' of class {node.cls} is not supported"
    if node.custom:
        return (f"{where}: a custom layer ('{short(node.custom)}'); the file holds only its config, so even "
                "Keras needs the class's code to count it (darkbench never runs code from a model file)")
    return (f"{where} (supported: InputLayer, {', '.join(sorted(KINDS))}; a custom layer: even Keras "
            "needs the class's code to count it)")
