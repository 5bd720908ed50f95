"""CUDA memory: what a prepared runner keeps on the GPU, and freeing between groups (no-ops on the CPU)."""
import gc


def free(device):
    gc.collect()
    if device == "cuda":
        import torch
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


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
