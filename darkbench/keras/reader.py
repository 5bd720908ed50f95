"""Keras model architecture (model.to_json() or a .keras archive's config.json) as a layer graph.

Reads JSON only: never imports keras, never loads weights or anything pickled."""
import json
import math
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
    scope: tuple = ()   # names of the nested-model calls around it, outermost first
    shares: str = None  # a shared layer's later call: the node holding its weights
    frozen: bool = False  # inside a model saved with trainable=false
    op: str = None      # a Keras operation, not a layer: its module
    operands: tuple = None  # an operation's arguments: None for each tensor (in inputs' order), numbers


def _custom(l):
    """Keras 3 marks a user's layer class with a registered name or a module outside Keras."""
    name, module = l.get("registered_name"), l.get("module")
    if isinstance(module, str) and module.split(".")[0] in ("keras", "tf_keras", "tensorflow"):
        return None
    return name if isinstance(name, str) and name else module if isinstance(module, str) else None


def _operation(l):
    """The module of a Keras 3 operation written among the layers (x + y: keras.src.ops.numpy.Add)."""
    module = l.get("module")
    return module if isinstance(module, str) and module.startswith("keras.src.ops") else None


def _operands(node):
    """A Keras 3 operation call's arguments (x * 0.5: (None, 0.5)): None for a tensor, a number as it is;
    () when one is anything else."""
    args = node.get("args") if isinstance(node, dict) else None
    out = []
    for a in args if isinstance(args, list) else ():
        if isinstance(a, dict) and a.get("class_name") == "__keras_tensor__":
            out.append(None)
        elif isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(a):
            out.append(a)
        else:
            return ()
    return tuple(out)


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
class Nested:
    """One call of a model used as a layer; its layers are Nodes whose scope ends with this name."""
    name: str       # unique like a Node's name
    label: str      # the model's own name
    cls: str        # Sequential or Functional
    scope: tuple    # the nested models around it
    outputs: list   # names of the nodes giving its outputs
    shares: str = None  # a later call: the Nested whose layers hold the weights


@dataclass
class Graph:
    name: str
    nodes: list                 # [Node], inputs before the layers that read them
    outputs: list               # names of the model's output layers
    nested: list = field(default_factory=list)  # [Nested], outermost first


MODELS = ("Sequential", "Functional", "Model")  # Keras' model classes, also as layers of another model


def _refs(args):
    """(layer, call, tensor) read by a Keras 3 inbound node's args (nested lists of __keras_tensor__)."""
    out = []
    if isinstance(args, dict):
        if args.get("class_name") == "__keras_tensor__":
            out.append(tuple(args["config"]["keras_history"][:3]))
    elif isinstance(args, (list, tuple)):
        for a in args:
            out += _refs(a)
    return out


def _calls(layer):
    """One list of (layer, call, tensor) inputs per call of the layer (more than one: a shared layer)."""
    out = []
    for node in layer.get("inbound_nodes") or []:
        if isinstance(node, dict):  # Keras 3
            out.append(_refs(node.get("args", [])))
        else:  # tf.keras 2: [[name, node_index, tensor_index(, kwargs)], ...]
            out.append([tuple(entry[:3]) for entry in node])
    return out


def _endpoints(conf, key):
    """input_layers/output_layers as (layer, call, tensor): [name, 0, 0] or a list of them."""
    v = conf.get(key)
    if not v:
        return []
    if isinstance(v[0], str):
        v = [v]
    return [tuple(e[:3]) for e in v]


def _value(prefix, ref):
    """The name of the value a (layer, call, tensor) reference reads, in a model whose names get prefix."""
    layer, call, tensor = ref
    return prefix + layer + (f":{call}" if call else "") + (f"#{tensor}" if tensor else "")


def _checked(ref):
    layer, call, tensor = ref
    if not isinstance(layer, str) or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0
                                             for i in (call, tensor)):
        raise TypeError(f"bad reference {ref}")
    return ref


def _shift(refs, classes, legacy, endpoint):
    """Call numbers as the file's order of calls. Keras counts a Functional model's own graph as its
    call 0: in every reference of tf.keras 2 (Sequential is Functional there), in Keras 3's
    input_layers/output_layers only (not in its inbound nodes, nor for a Sequential)."""
    out = []
    for layer, call, tensor in map(_checked, refs):
        cls = classes.get(layer)
        if cls in MODELS and (legacy or (endpoint and cls != "Sequential")):
            call = max(call - 1, 0)
        out.append((layer, call, tensor))
    return out


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
    out, state = [], {}  # depth first from each node in the file's order: a node right after its inputs
    for root in nodes:
        if root.name in state:
            continue
        state[root.name], stack = "open", [(root, 0)]
        while stack:
            n, i = stack[-1]
            if i == len(n.inputs):
                stack.pop()
                state[n.name] = "done"
                out.append(n)
                continue
            stack[-1] = (n, i + 1)
            dep = by_name[n.inputs[i]]
            if state.get(dep.name) == "open":
                raise DarkbenchError(f"layer '{dep.name}' is part of a cycle", path)
            if dep.name not in state:
                state[dep.name] = "open"
                stack.append((dep, 0))
    return out


def _check_entry(l, i, path):
    if not isinstance(l, dict):
        raise DarkbenchError(f"malformed Keras model JSON (layer entry {i} is not an object)", path)


def _sequential(conf, path, nested=False):
    """(entries, input names, output refs): entries are (layer dict named, its calls as in _calls)."""
    layers = conf if isinstance(conf, list) else conf.get("layers")  # Keras <= 2.1: a bare list
    if not isinstance(layers, list):
        raise DarkbenchError("Keras Sequential has no layer list", path)
    entries, prev = [], None
    for i, l in enumerate(layers):
        _check_entry(l, i, path)
        c = l.get("config", {})
        if not entries and l.get("class_name") != "InputLayer":
            shape = (c.get("batch_input_shape") or c.get("batch_shape")
                     or (isinstance(conf, dict) and conf.get("build_input_shape")))
            if not shape and not nested:  # a nested one reads what its caller gives it
                raise DarkbenchError("Sequential model without an input shape (build it, or start it "
                                     "with keras.Input)", path)
            entries.append(({"class_name": "InputLayer", "name": "input", "config": {"batch_shape": shape}}, []))
            prev = "input"
        name = c.get("name") or l.get("name") or f"layer_{len(entries)}"
        entries.append((dict(l, name=name), [[(prev, 0, 0)]] if prev else []))
        prev = name
    return entries, [entries[0][0]["name"]] if entries else [], [(prev, 0, 0)]


def _functional(conf, path):
    layers = conf.get("layers")
    if not isinstance(layers, list):
        raise DarkbenchError("Keras Functional model has no layer list", path)
    entries = []
    for i, l in enumerate(layers):
        _check_entry(l, i, path)
        name = l.get("name") or l.get("config", {}).get("name")
        entries.append((dict(l, name=name), _calls(l)))
    outputs = _endpoints(conf, "output_layers") or [(entries[-1][0]["name"], 0, 0)]
    inputs = [ref[0] for ref in _endpoints(conf, "input_layers")]
    return entries, inputs, outputs


class _Flat:
    """Nested models' layers in place of the model (names 'model/layer'), shared layers' later calls
    as their own nodes ('layer:1'), inner inputs and nested outputs as aliases of the values they stand for."""

    def __init__(self, path):
        self.path, self.nodes, self.nested, self.alias, self.by_name = path, [], [], {}, {}

    def model(self, kind, conf, prefix="", scope=(), frozen=False, feed=None, twin=None):
        """Adds one call of a model; feed: the values its inputs read (None: the top model); twin: the
        prefix of the model's first call when this is a later one. Returns its output value names."""
        if kind == "Sequential":
            entries, inputs, outputs = _sequential(conf, self.path, nested=feed is not None)
        else:
            entries, inputs, outputs = _functional(conf, self.path)
        frozen = frozen or (isinstance(conf, dict) and conf.get("trainable") is False)
        classes = {}
        for l, _ in entries:
            if not isinstance(l["name"], str):
                raise DarkbenchError(f"malformed layer entry '{l['name']}'", self.path)
            if l["name"] in classes:
                raise DarkbenchError(f"two layers are named '{prefix}{l['name']}'", self.path)
            classes[l["name"]] = l.get("class_name")
        legacy = any(isinstance(n, list) for l, _ in entries for n in l.get("inbound_nodes") or [])
        outputs = _shift(outputs, classes, legacy, True)
        if feed is not None:
            inner = [l["name"] for l, _ in entries if l.get("class_name") == "InputLayer"]
            inputs = inputs or inner
            if len(inputs) != len(feed):
                raise DarkbenchError(f"nested model '{prefix[:-1]}' has {len(inputs)} inputs but is called "
                                     f"with {len(feed)}", self.path)
            for name, value in zip(inputs, feed):
                self.alias[prefix + name] = value
        for l, calls in entries:
            cls, c, name = l["class_name"], l.get("config", {}), l["name"]
            if feed is not None and cls == "InputLayer":
                continue
            for i, refs in enumerate(calls or [[]]):
                key = _value(prefix, (name, i, 0))
                ins = [_value(prefix, r) for r in _shift(refs, classes, legacy, False)]
                first = None  # the call holding the weights, when this one shares them
                if twin is not None:  # in a later call of a nested model: its first call's layer
                    first = _value(twin, (name, i, 0))
                elif i:
                    first = _value(prefix, (name, 0, 0))
                if cls in MODELS and isinstance(c, dict) and ("layers" in c or cls == "Sequential"):
                    self._nested(l, key, ins, scope, frozen, first)
                else:
                    op = _operation(l)
                    operands = _operands(l["inbound_nodes"][i]) if op and calls else None
                    self._add(Node(key, cls, c, ins, _custom(l), scope, frozen=frozen, op=op, operands=operands),
                              first)
        return [_value(prefix, r) for r in outputs]

    def _nested(self, l, key, ins, scope, frozen, first):
        cls = "Sequential" if l["class_name"] == "Sequential" else "Functional"
        nest = Nested(key, l["name"], cls, scope, [], shares=self._root_nested(first))
        self.nested.append(nest)
        outs = self.model(cls, l["config"], key + "/", scope + (key,), frozen, ins,
                          twin=first + "/" if first is not None else None)
        nest.outputs = outs
        for t, value in enumerate(outs):
            self.alias[key + (f"#{t}" if t else "")] = value

    def _root_nested(self, first):
        if first is None:
            return None
        n = next((m for m in self.nested if m.name == first), None)
        return (n.shares or n.name) if n else None

    def _add(self, node, first):
        if first is not None:
            twin = self.by_name.get(first)
            if twin is None:
                raise DarkbenchError(f"layer '{node.name}' is a later call of '{first}', which is not called "
                                     "first", self.path)
            node.shares = twin.shares or twin.name
        _check_node(node, self.path)
        if node.name in self.by_name:
            raise DarkbenchError(f"two layers are named '{node.name}'", self.path)
        self.by_name[node.name] = node
        self.nodes.append(node)

    def resolve(self, value):
        seen = set()
        while value in self.alias and value not in seen:
            seen.add(value)
            value = self.alias[value]
        return value


def read(path):
    """The model's Graph, for Sequential and Functional models (Keras 3 and tf.keras 2 JSON); models used
    as layers are read into the same graph."""
    cfg = load_config(path)
    if not isinstance(cfg, dict) or "class_name" not in cfg or "config" not in cfg:
        raise DarkbenchError("not a Keras model JSON (no class_name/config)", path)
    kind, conf = cfg["class_name"], cfg["config"]
    if kind not in MODELS:
        raise DarkbenchError(f"unsupported Keras model class '{kind}' (Sequential or Functional)", path)
    flat = _Flat(path)
    try:
        if kind != "Sequential":
            inputs = _endpoints(conf, "input_layers")
            if len(inputs) > 1:
                raise DarkbenchError(f"the model has {len(inputs)} inputs ({', '.join(repr(i[0]) for i in inputs)})"
                                     ": only single-input models are supported", path)
        outputs = [flat.resolve(o) for o in flat.model("Sequential" if kind == "Sequential" else "Functional",
                                                       conf)]
        for n in flat.nodes:
            n.inputs = [flat.resolve(i) for i in n.inputs]
        for m in flat.nested:
            m.outputs = [flat.resolve(o) for o in m.outputs]
        nodes = _sorted(flat.nodes, path)
        names = {n.name for n in nodes}
        for o in outputs:
            if o not in names:
                raise DarkbenchError(f"output layer {o!r} is not in the layer list", path)
        name = (conf.get("name") if isinstance(conf, dict) else None) or ""
    except DarkbenchError:
        raise
    except RecursionError:
        raise DarkbenchError("models nested too deeply", path) from None
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as e:
        what = f"missing key {e}" if isinstance(e, KeyError) else " ".join(str(e).split())
        raise DarkbenchError(f"malformed Keras model JSON ({what})", path) from None
    if not nodes or nodes[0].cls != "InputLayer":
        raise DarkbenchError("the model has no InputLayer first", path)
    extra = [n.name for n in nodes[1:] if n.cls == "InputLayer"]
    if extra:
        raise DarkbenchError(f"the model has {len(extra) + 1} inputs: only single-input models are "
                             "supported", path)
    return Graph(name=name, nodes=nodes, outputs=outputs, nested=flat.nested)
