"""darkbench: count, build and time Darknet-style networks."""
__version__ = "0.1.0"

from .errors import DarkbenchError  # noqa: E402
from .network import analyse  # noqa: E402


def load(*args, **kwargs):
    """Build a torch.nn.Module from a cfg (imports torch only here)."""
    from .torch_model import load as _load
    return _load(*args, **kwargs)
