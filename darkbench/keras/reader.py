"""Keras model architecture (model.to_json() or a .keras archive's config.json) as a layer graph.

Reads JSON only: never imports keras, never loads weights or anything pickled."""
import json
import os
import zipfile
import zlib
from dataclasses import dataclass, field

from ..errors import DarkbenchError


@dataclass
class Node:
    name: str
    cls: str
    config: dict
    inputs: list = field(default_factory=list)  # names of the layers feeding this one
    custom: str = None  # a user's class: where Keras would look it up (registered name or module)


def _custom(l):
    """Keras 3 marks a user's layer class with a registered name or a module outside Keras."""
    name, module = l.get("registered_name"), l.get("module")
    if isinstance(name, str) and name:
        return name
    if isinstance(module, str) and module.split(".")[0] not in ("keras", "tf_keras", "tensorflow"):
        return module
    return None


def load_config(path):
    path = os.fspath(path)
    if os.path.isdir(path):
        raise DarkbenchError("is a directory, not a Keras model", path)
    try:
        if path.lower().endswith(".keras"):
            try:
                with zipfile.ZipFile(path) as z:
                    if z.getinfo("config.json").file_size > MAX_CONFIG_BYTES:
                        raise DarkbenchError(f".keras archive's config.json is over "
                                             f"{MAX_CONFIG_BYTES >> 20} MiB", path)
                    text = z.read("config.json").decode("utf-8")
            except KeyError:
                raise DarkbenchError(".keras archive has no config.json", path) from None
            except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, zlib.error):
                raise DarkbenchError("not a readable .keras archive (not a zip file, or a damaged one)",
                                     path) from None
        else:
            with open(path, "rb") as f:
                raw = f.read(MAX_CONFIG_BYTES + 1)
            if len(raw) > MAX_CONFIG_BYTES:
                raise DarkbenchError(f"larger than {MAX_CONFIG_BYTES >> 20} MiB: not a Keras model JSON", path)
            text = raw.decode("utf-8")
        return json.loads(text)
    except FileNotFoundError:
        raise DarkbenchError("no such file", path) from None
    except UnicodeDecodeError:
        raise DarkbenchError("not a Keras model JSON (not UTF-8 text)", path) from None
    except json.JSONDecodeError as e:
        raise DarkbenchError(f"not valid JSON (line {e.lineno}: {e.msg})", path) from None
    except RecursionError:
        raise DarkbenchError("not a Keras model JSON (nested too deeply)", path) from None
    except OSError as e:
        raise DarkbenchError(f"cannot read: {e.strerror or e}", path) from None


MAX_CONFIG_BYTES = 64 << 20  # an architecture is small; refuse to inflate anything bigger


@dataclass
class Graph:
    name: str
    nodes: list                 # [Node], inputs before the layers that read them
    outputs: list               # names of the model's output layers
    trainable: bool = True      # False when the whole model is frozen


def _history_names(args):
    """Layer names in a Keras 3 inbound node's args (nested lists of __keras_tensor__)."""
    out = []
    if isinstance(args, dict):
        if args.get("class_name") == "__keras_tensor__":
            out.append(args["config"]["keras_history"][0])
    elif isinstance(args, (list, tuple)):
        for a in args:
            out += _history_names(a)
    return out


def _inbound(layer, path):
    nodes = layer.get("inbound_nodes") or []
    if len(nodes) > 1:
        raise DarkbenchError(f"layer '{layer.get('name')}' is called {len(nodes)} times: shared layers "
                             "are not supported", path)
    if not nodes:
        return []
    node = nodes[0]
    if isinstance(node, dict):  # Keras 3
        return _history_names(node.get("args", []))
    # tf.keras 2: [[name, node_index, tensor_index(, kwargs)], ...]
    for entry in node:
        if entry[1] != 0:
            raise DarkbenchError(f"layer '{layer.get('name')}' reads node {entry[1]} of '{entry[0]}': "
                                 "shared layers are not supported", path)
    return [entry[0] for entry in node]


def _endpoints(conf, key):
    """input_layers/output_layers: [name, 0, 0], [[name, 0, 0], ...] (Keras 2 and 3 both)."""
    v = conf.get(key)
    if not v:
        return []
    if isinstance(v[0], str):
        v = [v]
    return [e[0] for e in v]


def _check_node(n, path):
    if not isinstance(n.name, str) or not isinstance(n.cls, str) or not isinstance(n.config, dict):
        raise DarkbenchError(f"malformed layer entry '{n.name}'", path)
    if not (n.name.isprintable() and n.cls.isprintable()):  # messages quote them on one line
        raise DarkbenchError(f"layer {n.name!r} ({n.cls!r}): name or class has control characters", path)


def _sorted(nodes, path):
    """Inputs before readers; the file's order where it already is one (it normally is)."""
    by_name = {}
    for n in nodes:
        _check_node(n, path)
        if n.name in by_name:
            raise DarkbenchError(f"two layers are named '{n.name}'", path)
        by_name[n.name] = n
    for n in nodes:
        for i in n.inputs:
            if i not in by_name:
                raise DarkbenchError(f"layer '{n.name}' reads unknown layer {i!r}", path)
    seen = set()
    for n in nodes:
        if not all(i in seen for i in n.inputs):
            break
        seen.add(n.name)
    else:
        return nodes
    done, out = set(), []
    while len(out) < len(nodes):
        ready = [n for n in nodes if n.name not in done and all(i in done for i in n.inputs)]
        if not ready:
            stuck = next(n for n in nodes if n.name not in done)
            raise DarkbenchError(f"layer '{stuck.name}' is part of a cycle", path)
        for n in ready:
            done.add(n.name)
        out += ready
    return out


def _check_entry(l, i, path):
    if not isinstance(l, dict):
        raise DarkbenchError(f"malformed Keras model JSON (layer entry {i} is not an object)", path)


def _sequential(conf, path):
    layers = conf if isinstance(conf, list) else conf.get("layers")  # Keras <= 2.1: a bare list
    if not isinstance(layers, list):
        raise DarkbenchError("Keras Sequential has no layer list", path)
    nodes, prev = [], None
    for i, l in enumerate(layers):
        _check_entry(l, i, path)
        c = l.get("config", {})
        if not nodes and l.get("class_name") != "InputLayer":
            shape = (c.get("batch_input_shape") or c.get("batch_shape")
                     or (isinstance(conf, dict) and conf.get("build_input_shape")))
            if not shape:
                raise DarkbenchError("Sequential model without an input shape (build it, or start it "
                                     "with keras.Input)", path)
            nodes.append(Node("input", "InputLayer", {"batch_shape": shape}))
            prev = "input"
        name = c.get("name") or l.get("name") or f"layer_{len(nodes)}"
        nodes.append(Node(name, l["class_name"], c, [prev] if prev else [], _custom(l)))
        prev = name
    return _sorted(nodes, path), [prev]


def _functional(conf, path):
    layers = conf.get("layers")
    if not isinstance(layers, list):
        raise DarkbenchError("Keras Functional model has no layer list", path)
    nodes = []
    for i, l in enumerate(layers):
        _check_entry(l, i, path)
        c = l.get("config", {})
        name = l.get("name") or c.get("name")
        nodes.append(Node(name, l["class_name"], c, _inbound(l, path), _custom(l)))
    outputs = _endpoints(conf, "output_layers") or [nodes[-1].name]
    inputs = _endpoints(conf, "input_layers")
    if len(inputs) > 1:
        raise DarkbenchError(f"the model has {len(inputs)} inputs ({', '.join(map(repr, inputs))}): only "
                             "single-input models are supported", path)
    return _sorted(nodes, path), outputs


def read(path):
    """The model's Graph, for Sequential and Functional models (Keras 3 and tf.keras 2 JSON)."""
    cfg = load_config(path)
    if not isinstance(cfg, dict) or "class_name" not in cfg or "config" not in cfg:
        raise DarkbenchError("not a Keras model JSON (no class_name/config)", path)
    kind, conf = cfg["class_name"], cfg["config"]
    try:
        if kind == "Sequential":
            nodes, outputs = _sequential(conf, path)
        elif kind in ("Functional", "Model"):
            nodes, outputs = _functional(conf, path)
        else:
            raise DarkbenchError(f"unsupported Keras model class '{kind}' (Sequential or Functional)", path)
        names = {n.name for n in nodes}
        for o in outputs:
            if o not in names:
                raise DarkbenchError(f"output layer {o!r} is not in the layer list", path)
        trainable = not (isinstance(conf, dict) and conf.get("trainable") is False)
        name = (conf.get("name") if isinstance(conf, dict) else None) or ""
    except DarkbenchError:
        raise
    except (KeyError, TypeError, AttributeError, IndexError) as e:
        what = f"missing key {e}" if isinstance(e, KeyError) else " ".join(str(e).split())
        raise DarkbenchError(f"malformed Keras model JSON ({what})", path) from None
    if not nodes or nodes[0].cls != "InputLayer":
        raise DarkbenchError("the model has no InputLayer first", path)
    extra = [n.name for n in nodes[1:] if n.cls == "InputLayer"]
    if extra:
        raise DarkbenchError(f"the model has {len(extra) + 1} inputs: only single-input models are "
                             "supported", path)
    return Graph(name=name, nodes=nodes, outputs=outputs, trainable=trainable)
