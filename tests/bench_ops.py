"""Benchmark (not a test): one `darkbench ops` over darknet's 45-cfg zoo vs `darknet ops` on each.

Prints both wall times and the ratio, measured side by side in one run. Target: ratio >= 100.
"""
import glob
import statistics
import subprocess
import sys
import time

ZOO = "/usr/share/darknet/cfg"


def wall(cmd, **kw):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    return time.perf_counter() - t


def main():
    cfgs = sorted(glob.glob(f"{ZOO}/*.cfg"))
    ours_cmd = [sys.executable, "-m", "darkbench", "ops", *cfgs]
    ours = [wall(ours_cmd, cwd=ZOO)]  # warm the file cache first
    darknet = 0.0
    for i, c in enumerate(cfgs):  # interleave: darknet on one cfg, then a full darkbench run now and then
        darknet += wall(["darknet", "ops", c], cwd=ZOO)
        if i % 9 == 0:
            ours.append(wall(ours_cmd, cwd=ZOO))
    best = statistics.median(ours[1:])
    print(f"cfgs: {len(cfgs)}")
    print(f"darknet ops, one process per cfg: {darknet:.2f} s")
    print(f"darkbench ops, one call (median of {len(ours) - 1}, interpreter start included): {best:.3f} s")
    print(f"ratio: {darknet / best:.0f}x (target >= 100x)")


if __name__ == "__main__":
    main()
