"""eager: darkbench's torch model as darkbench.load builds it (channels-last), batch norm unfolded."""
from ..traits import Traits
from . import torchbase
from .base import Backend


class Eager(Backend):
    name = "eager"
    devices, dtypes, limits = torchbase.DEVICES, torchbase.DTYPES, torchbase.LIMITS
    traits = Traits(order=10, color="tab:green", marker="D")
    layers = False  # per-layer timing of the unfused model
    _fuse, _note = False, "darkbench.load as built (channels-last)"

    def prepare(self, case, timed):
        m = torchbase.model_on(case.model, case.device, case.dtype, fuse=self._fuse)
        x = torchbase.batch_input(m.input_shape, case.batch, case.device, case.dtype, channels_last=True)
        return torchbase.torch_runner(m, m, x, case, self._note)
