"""fused: darkbench's torch model with batch norm folded into the convolutions (darkbench.load(fuse=True))."""
from ..traits import Traits
from . import torchbase
from .base import Backend


class Fused(Backend):
    name = "fused"
    devices, dtypes, limits = torchbase.DEVICES, torchbase.DTYPES, torchbase.LIMITS
    traits = Traits(order=20, color="tab:red", marker="^")
    layers = True  # per-layer timing of the fused model

    def prepare(self, case, timed):
        m = torchbase.model_on(case.model, case.device, case.dtype, fuse=True)
        x = torchbase.batch_input(m.input_shape, case.batch, case.device, case.dtype, channels_last=True)
        return torchbase.torch_runner(m, m, x, case, "darkbench.load(fuse=True): batch norm folded, channels-last")
