"""ONNX export of a built model (the fused form exports best)."""
import contextlib
import os
import sys
import tempfile
import warnings

from . import files
from .errors import DarkbenchError

MIN_OPSET = 7  # torch's TorchScript exporter (dynamo=False) supports 7..20


@contextlib.contextmanager
def _quiet():
    """The exporter's C++ side prints the whole graph (fd 1) on failure; its error message is enough."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            for fd, old in zip((1, 2), saved):
                os.dup2(old, fd)
                os.close(old)


def check_output(path, overwrite=False):
    """Refuse early (before building anything) an output that cannot or must not be written."""
    return files.target(path, overwrite)


def check_opset(opset):
    import torch
    try:
        from torch.onnx._constants import ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET as max_opset
    except ImportError:
        max_opset = 20
    if not MIN_OPSET <= opset <= max_opset:
        raise DarkbenchError(f"--opset {opset}: torch {torch.__version__} exports opsets {MIN_OPSET} to {max_opset}")


def export_onnx(model, path, batch=1, opset=17, overwrite=True):
    """Write `model` (input "input" of (batch, *model.input_shape); outputs "output", or "output0".. for
    several yolo heads) as ONNX, atomically. Returns the path."""
    import torch
    path = os.fspath(path)
    check_opset(opset)
    check_output(path, overwrite)
    x = torch.rand(batch, *model.input_shape)
    try:
        # written beside the target, then renamed: no half-written file under `path`
        with files.replacing(path, overwrite, suffix=".onnx") as tmp:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with torch.no_grad():
                    y = model(x)
                n_out = len(y) if isinstance(y, tuple) else 1
                with _quiet():
                    names = [f"output{i}" for i in range(n_out)] if n_out > 1 else ["output"]
                    torch.onnx.export(model, (x,), tmp, opset_version=opset, dynamo=False,
                                      input_names=["input"], output_names=names)
    except DarkbenchError:
        raise
    except Exception as e:
        raise DarkbenchError(f"ONNX export failed: {type(e).__name__}: {str(e).splitlines()[0]}", path) from None
    return path


def layer_of(node_name):
    """The darknet layer index an exported node came from (torch's exporter names nodes after the module path,
    "/layers.INDEX/..."), or None for a node outside the layers."""
    head, _, rest = node_name.partition("/layers.")
    index = rest.partition("/")[0]
    return int(index) if not head and index.isdigit() else None


def kept_fp32(net, graph):
    """{node name: why} of an exported ONNX graph (onnx.GraphProto) of the network `net`: the nodes on the data
    path (not computing shapes) a quantizer must leave in fp32, as each layer's family says (its KEEP_FP32
    trait; the name says the layer). Networks without darknet layers keep nothing."""
    if not getattr(net, "has_darknet_layers", False):
        return {}
    data = {i.name for i in graph.input}  # tensors computed from the input (a Shape's output is not)
    wanted, out = {}, {}
    for node in graph.node:  # in topological order
        if node.op_type == "Shape" or not data.intersection(node.input):
            continue
        data.update(node.output)
        i = layer_of(node.name)
        if i is None or i >= len(net.layers):
            continue
        if i not in wanted:
            wanted[i] = net.layers[i].trait("KEEP_FP32")(net.layers[i])
        why = wanted[i].get(node.op_type)
        if why:
            out[node.name] = why
    return out
