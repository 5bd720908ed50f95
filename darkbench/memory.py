"""Will a network fit in memory once built? Counted from the analysis alone (no torch), for any kind of model
(cfg or Keras: whatever has layers with .outputs, .inputs and .weight_floats)."""
from .errors import DarkbenchError


def available_memory():
    """Bytes the kernel says are available (MemAvailable), or None where it does not say."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def estimate_bytes(net, batch=1):
    """Activations kept during a forward pass plus the weights, at fp32."""
    return 4 * (batch * (sum(l.outputs for l in net.layers) + net.inputs) + net.weight_floats)


def check_memory(net):
    """Refuse a build that would not fit (cfg or Keras network: layers' outputs, inputs, weight_floats)."""
    need = estimate_bytes(net)
    avail = available_memory()
    if avail is not None and need > 0.8 * avail:
        raise DarkbenchError(f"{net.path}: building needs about {need / 2**30:.1f} GiB at batch 1 "
                             f"(activations + weights) but only {avail / 2**30:.1f} GiB is available")
