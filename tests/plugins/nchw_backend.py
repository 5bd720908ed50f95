"""nchw: darkbench's eager torch model in NCHW (no channels-last), a benchmark backend defined outside darkbench.

The proof that a backend is one file: tests/test_backend_plugin.py loads it through DARKBENCH_BACKENDS and runs
it through `darkbench bench` (its own --nchw-grad flag), the results file and `darkbench report` (its colour,
marker and version line) without any other module knowing it."""
from darkbench.bench.backends.base import Backend, Option, Runner
from darkbench.bench.traits import Traits

MODES = ("inference", "no-grad")


class Nchw(Backend):
    name = "nchw"
    devices = ("cpu",)
    dtypes = ("fp32", "bf16")
    options = (Option("nchw-grad", "how each forward runs: inference (torch.inference_mode, default) or no-grad "
                      "(torch.no_grad)", choices=MODES, default="inference", metavar="MODE"),)
    traits = Traits(order=15, color="tab:olive", marker="*", versions={"numpy": ("numpy",)})

    def prepare(self, case, timed):
        import numpy as np
        import torch
        mode = self.option("nchw-grad")
        guard = torch.inference_mode if mode == "inference" else torch.no_grad
        dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[case.dtype]
        m = case.model.build().to(dtype=dtype, memory_format=torch.contiguous_format)
        x = torch.rand(case.batch, *m.input_shape, generator=torch.Generator().manual_seed(0)).to(dtype)

        def run():
            with guard():
                m(x)

        def outputs(a):
            with guard():
                y = m(torch.from_numpy(np.array(a)).to(dtype))
            return [v.float().numpy() for v in (y if isinstance(y, tuple) else (y,))]
        return Runner(run, "cpu", f"darkbench.load in NCHW, torch.{guard.__name__}", outputs=outputs,
                      extra={"grad_mode": mode})
