"""The dtypes a benchmark knows, in one place: their names (the command's choices), torch's type, bytes per
value (per-layer traffic), the agreement tolerance beyond which the report flags an entry's outputs, and
whether the dtype is a quantized one (calibrated; its backends say how many convolutions ran quantized).

What each engine makes of a dtype is its backend's (README: precision conventions): fp32 and bf16 are the torch
types; fp16 an fp16 model or precision hint where the engine runs one; int8 a statically quantized model
(int8 weights per channel, 8-bit activations calibrated on images), the nodes the layers name kept in fp32."""
import dataclasses


@dataclasses.dataclass(frozen=True)
class DType:
    name: str
    torch: str  # torch's name for it: getattr(torch, torch_name)
    item_bytes: int
    tolerance: float  # relative L2 against darkbench's fp32 eager (all outputs of all inputs, as one vector)
    quantized: bool = False  # integer arithmetic on calibrated scales, not a float format


# fp32's tolerance is the darknet parity tests' (1e-4); bf16 keeps 8 bits of mantissa, fp16 11. int8's is the
# raw outputs' distance at which a quantized detector still finds fp32's objects: yolov3-tiny's int8 with the
# padding kept in fp32 is at 0.08-0.24 per image (agreement mAP@0.5 0.97-0.99 against fp32's boxes), the naive
# quantization that loses them (agreement mAP 0.03) at 0.5-0.8 (README, benchmark section)
DTYPES = {d.name: d for d in (DType("fp32", "float32", 4, 1e-4), DType("bf16", "bfloat16", 2, 5e-2),
                              DType("fp16", "float16", 2, 1e-2), DType("int8", "int8", 1, 0.3, quantized=True))}
NAMES = tuple(DTYPES)


def torch_dtype(name):
    import torch
    return getattr(torch, DTYPES[name].torch)


def tolerance_text(present=()):
    """"fp32 0.0001, bf16 0.05, fp16 0.01": the float dtypes' tolerances, and a quantized dtype's when it is among
    `present` (the dtypes of the results shown)."""
    return ", ".join(f"{k} {d.tolerance:g}" for k, d in DTYPES.items() if not d.quantized or k in set(present))
