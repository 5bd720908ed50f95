"""fused: darkbench's torch model with batch norm folded into the convolutions (darkbench.load(fuse=True))."""
from ..traits import Traits
from .eager import Eager


class Fused(Eager):
    name = "fused"
    traits = Traits(order=20, color="tab:red", marker="^")
    layers = True  # per-layer timing of the fused model
    _fuse, _note = True, "darkbench.load(fuse=True): batch norm folded, channels-last"
