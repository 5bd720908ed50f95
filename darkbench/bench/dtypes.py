"""The dtypes a benchmark knows, in one place: their names (the command's choices), torch's type, bytes per
value (per-layer traffic) and the agreement tolerance beyond which the report flags an entry's outputs."""
import dataclasses


@dataclasses.dataclass(frozen=True)
class DType:
    name: str
    torch: str  # torch's name for it: getattr(torch, torch_name)
    item_bytes: int
    tolerance: float  # relative L2 against darkbench's fp32 eager (all outputs of all inputs, as one vector)


# fp32's tolerance is the darknet parity tests' (1e-4); bf16 keeps 8 bits of mantissa, fp16 11
DTYPES = {d.name: d for d in (DType("fp32", "float32", 4, 1e-4), DType("bf16", "bfloat16", 2, 5e-2),
                              DType("fp16", "float16", 2, 1e-2))}
NAMES = tuple(DTYPES)


def torch_dtype(name):
    import torch
    return getattr(torch, DTYPES[name].torch)
