"""The C heap of a long run of same-sized forward passes (`darkbench map`'s loop over a validation set).

glibc hands every block above its mmap threshold (32 MiB at most, less than a batch's larger activations) back to
the kernel when it is freed, so each pass faults those pages in again, zeroed by the kernel (system time that
README's benchmark section counts). keep_freed_memory() serves them from the heap and keeps what is freed for
the next pass. The values computed are the same; the process holds on to its peak memory until it exits."""
import ctypes

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
M_MMAP_MAX = -4
KEEP = 1 << 30         # freed memory at the top of the heap kept up to this much


def keep_freed_memory():
    """Whether glibc's malloc now keeps freed memory for reuse (False where the C library is not glibc)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS, Windows): nothing to change
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, KEEP))
