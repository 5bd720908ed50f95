"""Memory: what a prepared runner keeps on the GPU, the process's resident high-water mark on the host, and
freeing between entries.

Host memory (peak_rss_mib) is measured in the benchmarking process itself, so interleaving stays as it is:
before each entry is prepared, freed memory is returned to the kernel (gc, glibc's malloc_trim) and the
kernel's high-water mark VmHWM is reset (writing 5 to /proc/self/clear_refs, Linux >= 4.0); the entry's
figure is the new high-water mark minus the resident size at that moment. Earlier entries' runners stay
resident but are in the base, not in the figure. Where the reset is not allowed, no figure is recorded."""
import ctypes
import gc

MIB = 2 ** 20


def free(device):
    gc.collect()
    trim()
    if device == "cuda":
        import torch
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def trim():
    """Give freed heap memory back to the kernel (glibc), so the next entry's growth shows as resident."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _status(key):
    """A /proc/self/status figure in bytes (VmRSS, VmHWM), or None off Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def rss_reset():
    """Reset the resident high-water mark to the current resident size; the resident size in bytes, or
    None where the kernel does not allow the reset (then no figure is honest: the mark may be an
    earlier entry's)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return None
    return _status("VmRSS")


def rss_peak_since(base):
    """MiB the resident high-water mark rose above `base` (bytes, from rss_reset) since the reset."""
    if base is None:
        return None
    hwm = _status("VmHWM")
    return None if hwm is None else max(0, hwm - base) / MIB


def method():
    """How peak_rss_mib is measured here (recorded with every result)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return "VmHWM reset per entry (/proc/self/clear_refs), minus VmRSS at the reset"
    except OSError:
        return None


def allocated(device):
    import torch
    return torch.cuda.memory_allocated() if device == "cuda" and torch.cuda.is_available() else 0


def peak_mem_mb(r):
    """What this runner keeps on the GPU (weights, input) plus the peak of one call above that."""
    import torch
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    r()
    torch.cuda.synchronize()
    return (r.resident_bytes + torch.cuda.max_memory_allocated() - before) / 2 ** 20


def estimated_bytes(net, batch):
    """The analytic estimate a measured figure is set beside, at `batch`: THE one place it is chosen. The
    liveness peak of fp32 activations (darkbench.footprint: what is alive while the busiest layer runs) plus
    the parameters held (4 bytes per stored value). Bench records it (estimated_mib), --batch auto uses it."""
    from ..footprint import footprint
    fp = footprint(net, batch)
    return fp.peak_activation_bytes + fp.total_param_bytes


def darknet_estimated_bytes(net, batch):
    """darknet's own footprint (every output and delta it touches, its workspace, the weights), beside darknet's
    process peak; None for a network darknet does not run. Its process and libraries add a constant (~80 MiB)."""
    from ..footprint import footprint
    return footprint(net, batch).darknet_bytes
