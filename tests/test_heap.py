"""darkbench.heap: after keep_freed_memory() a large block freed and asked for again is served from the heap,
not faulted in anew (what `darkbench map` gains per batch); without it glibc maps and zeroes it each time.
Counted in page faults (the kernel's count for the process), in a fresh interpreter each."""
import json
import platform
import subprocess
import sys

from require import require

PROBE = """
import json, resource, sys
import numpy as np
from darkbench.heap import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "keep" else None
np.ones(64 << 18, np.float32)  # 64 MiB, touched, freed: the first one always faults its pages in
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(4):
    np.ones(64 << 18, np.float32)
print(json.dumps([kept, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before]))
"""
HUGE_PAGES = 64 // 2  # the fewest faults a 64 MiB block can take to be touched (2 MiB transparent huge pages)


def faults(mode):
    r = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def test_freed_blocks_are_reused_not_faulted_in_again():
    if platform.libc_ver()[0] != "glibc":
        require("keep_freed_memory changes glibc's malloc only")
    _, plain = faults("plain")
    kept, reused = faults("keep")
    assert kept is True
    assert plain >= 4 * HUGE_PAGES  # each of the four blocks mapped and faulted in anew
    assert reused * 10 < plain      # the first block's pages, reused
