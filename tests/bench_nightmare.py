"""Benchmark (not a test): `darkbench nightmare` vs darknet's own `nightmare`, same arguments, one run.

jnet-conv layer 11, -iters 4 -rounds 2 -range 3 -octaves 2 -rate .01 on darknet's dog.jpg, with random
weights written by darknet itself. Target: ratio >= 10.
"""
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from darknet import Darknet  # noqa: E402

CFG = "/usr/share/darknet/cfg/jnet-conv.cfg"
IMAGE = "/usr/share/darknet/data/dog.jpg"
ARGS = ["11", "-iters", "4", "-rounds", "2", "-range", "3", "-octaves", "2", "-rate", ".01"]


def timed(cmd, cwd):
    """(wall seconds, CPU seconds of the child) for one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(device="cpu"):
    work = Path(tempfile.mkdtemp(prefix="darkbench-nightmare-"))
    try:
        dk = Darknet(work)
        weights = dk.save_random(CFG, work / "jnet-conv.weights", seed=3)
        ours_cmd = [sys.executable, "-m", "darkbench", "nightmare", CFG, str(weights), IMAGE, *ARGS,
                    "--device", device, "--force"]
        for d in ("ours", "theirs"):
            (work / d).mkdir()
        # ours, darknet, ours: neighbours on a shared machine change speed over minutes
        a = timed(ours_cmd, work / "ours")
        theirs = timed(["darknet", "nightmare", CFG, str(weights), IMAGE, *ARGS], work / "theirs")
        b = timed(ours_cmd, work / "ours")
        ours = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
        print(f"darknet nightmare {' '.join(ARGS)}: {theirs[0]:.1f} s ({theirs[1]:.1f} CPU s, one thread)")
        print(f"darkbench nightmare (same arguments, {device}, interpreter start included): {ours[0]:.1f} s "
              f"(runs before and after darknet: {a[0]:.1f}, {b[0]:.1f} s; {ours[1]:.1f} CPU s)")
        print(f"ratio: {theirs[0] / ours[0]:.1f}x wall clock (target >= 10x); {theirs[1] / ours[1]:.1f}x CPU time")
        print(f"load average (1, 5, 15 min) at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
              f"on {os.cpu_count()} cores (neighbours slow both; darknet uses one thread, torch all of them)")
        print("files:", sorted(p.name for p in (work / "ours").iterdir()),
              sorted(p.name for p in (work / "theirs").iterdir()))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(*sys.argv[1:2])
