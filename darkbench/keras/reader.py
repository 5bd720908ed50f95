"""Keras model architecture (model.to_json() or a .keras archive's config.json) as a layer graph.

Reads JSON only: never imports keras, never loads weights or anything pickled."""
import json
import os
import zipfile
from dataclasses import dataclass, field

from ..errors import DarkbenchError


@dataclass
class Node:
    name: str
    cls: str
    config: dict
    inputs: list = field(default_factory=list)  # names of the layers feeding this one


def load_config(path):
    path = os.fspath(path)
    if os.path.isdir(path):
        raise DarkbenchError("is a directory, not a Keras model", path)
    try:
        if path.lower().endswith(".keras"):
            try:
                with zipfile.ZipFile(path) as z:
                    text = z.read("config.json").decode("utf-8")
            except KeyError:
                raise DarkbenchError(".keras archive has no config.json", path) from None
            except zipfile.BadZipFile:
                raise DarkbenchError("not a .keras archive (not a zip file)", path) from None
        else:
            with open(path, "rb") as f:
                text = f.read().decode("utf-8")
        return json.loads(text)
    except FileNotFoundError:
        raise DarkbenchError("no such file", path) from None
    except UnicodeDecodeError:
        raise DarkbenchError("not a Keras model JSON (not UTF-8 text)", path) from None
    except json.JSONDecodeError as e:
        raise DarkbenchError(f"not valid JSON (line {e.lineno}: {e.msg})", path) from None


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
    return [entry[0] for entry in node]  # tf.keras 2: [[name, node_index, tensor_index, kwargs], ...]


def read(path):
    """[Node] in topological order, for Sequential and Functional models."""
    cfg = load_config(path)
    if not isinstance(cfg, dict) or "class_name" not in cfg or "config" not in cfg:
        raise DarkbenchError("not a Keras model JSON (no class_name/config)", path)
    kind = cfg["class_name"]
    conf = cfg["config"]
    layers = conf.get("layers") if isinstance(conf, dict) else None
    if not isinstance(layers, list):
        raise DarkbenchError(f"Keras {kind} has no layer list", path)
    nodes = []
    if kind == "Sequential":
        prev = None
        for l in layers:
            c = l.get("config", {})
            if not nodes and l.get("class_name") != "InputLayer":
                shape = c.get("batch_input_shape") or c.get("batch_shape")
                if not shape:
                    raise DarkbenchError("Sequential model without an input shape", path)
                nodes.append(Node("input", "InputLayer", {"batch_shape": shape}))
                prev = "input"
            name = c.get("name") or l.get("name") or f"layer_{len(nodes)}"
            nodes.append(Node(name, l["class_name"], c, [prev] if prev else []))
            prev = name
    elif kind in ("Functional", "Model"):
        for l in layers:
            c = l.get("config", {})
            name = l.get("name") or c.get("name")
            nodes.append(Node(name, l["class_name"], c, _inbound(l, path)))
        known = set()
        for n in nodes:
            missing = [i for i in n.inputs if i not in known]
            if missing:
                raise DarkbenchError(f"layer '{n.name}' reads unknown or later layer '{missing[0]}'", path)
            known.add(n.name)
    else:
        raise DarkbenchError(f"unsupported Keras model class '{kind}' (Sequential or Functional)", path)
    if not nodes or nodes[0].cls != "InputLayer":
        raise DarkbenchError("the model has no InputLayer first", path)
    return nodes
