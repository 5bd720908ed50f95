"""What the backends that run darkbench's torch model share: the model on a device and dtype, its input, and a
Runner around a torch callable (with `outputs` for the agreement check)."""
import numpy as np

from ..dtypes import torch_dtype
from .base import DEVICES, Runner, Skip  # noqa: F401 - DEVICES: where torch backends run

DTYPES = {"cpu": ("fp32", "bf16"), "cuda": ("fp32", "bf16", "fp16")}
LIMITS = "fp16 is not a CPU inference type (use bf16); int8 is quantized by the ONNX Runtime and OpenVINO backends"


def model_on(model, device, dtype, fuse=False):
    """The Model (bench/model.py) built as a torch module on `device` in `dtype`; Skip where torch cannot."""
    import torch
    if device == "cuda" and not torch.cuda.is_available():
        raise Skip("CUDA is not available")
    if dtype == "bf16" and device == "cuda" and not torch.cuda.is_bf16_supported():
        raise Skip("this GPU has no bf16")
    return model.build(fuse).to(device=device, dtype=torch_dtype(dtype))


def batch_input(shape, batch, device, dtype, channels_last=False):
    """A seeded uniform input (batch, *shape)."""
    import torch
    x = torch.rand(batch, *shape, generator=torch.Generator().manual_seed(0))
    x = x.to(device=device, dtype=torch_dtype(dtype))
    return x.contiguous(memory_format=torch.channels_last) if channels_last and x.dim() == 4 else x


def numpy_outputs(forward, device, dtype, channels_last=True):
    """A torch forward as numpy (batch, ...) float32 -> list of float32 arrays (4-D inputs channels-last, as the
    timed input)."""
    import torch

    def fn(x):
        t = torch.from_numpy(np.array(x)).to(device=device, dtype=torch_dtype(dtype))
        if channels_last and t.dim() == 4:
            t = t.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            y = forward(t)
        return [v.float().cpu().numpy() for v in (y if isinstance(y, (tuple, list)) else (y,))]
    return fn


def held_bytes(module):
    """The bytes of a torch module's parameters and buffers at the dtype they are held in: the weights as the
    engine holds them (torch loads no model file; batch norm's running statistics count where unfused)."""
    tensors = [*module.parameters(), *module.buffers()]
    return int(sum(t.numel() * t.element_size() for t in tensors))


def torch_runner(fn, model, x, case, note="", compile_s=None, cleanup=None):
    """A Runner calling fn(x) under inference mode; outputs through fn (bench/agreement.py); model_bytes: the
    weights as `model` holds them (held_bytes)."""
    import torch

    def run():
        with torch.inference_mode():
            fn(x)
    return Runner(run, case.device, note, compile_s, forward=fn, model=model, cleanup=cleanup,
                  outputs=numpy_outputs(fn, case.device, case.dtype), extra={"model_bytes": held_bytes(model)})
