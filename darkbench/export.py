"""ONNX export of a built model (the fused form exports best)."""
import os
import tempfile
import warnings

from .errors import DarkbenchError


def export_onnx(model, path, batch=1, opset=17, overwrite=True):
    import torch
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise DarkbenchError("exists; not overwriting (use --force)", path)
    x = torch.rand(batch, *model.input_shape)
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".darkbench-", suffix=".onnx")
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with torch.no_grad():
                y = model(x)
            n_out = len(y) if isinstance(y, tuple) else 1
            torch.onnx.export(model, (x,), tmp, opset_version=opset, dynamo=False, input_names=["input"],
                              output_names=[f"output{i}" for i in range(n_out)] if n_out > 1 else ["output"])
        os.replace(tmp, path)
    except DarkbenchError:
        raise
    except Exception as e:
        raise DarkbenchError(f"ONNX export failed: {type(e).__name__}: {str(e).splitlines()[0]}", path) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
