"""Benchmark (not a test): one `darkbench ops --dialect alexeyab` over the AlexeyAB fork's zoo vs the fork's
`darknet ops` run on each cfg ($DARKBENCH_ALEXEYAB: the fork's build, its cfg/ zoo).

Prints both wall times and the ratio, measured side by side in one run (target: ratio >= 100), and how many
cfgs each side refused: the fork crashes on some of its own zoo (2018 resnets, rnn text models), and
darkbench errors are counted and named rather than stopping the benchmark.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def wall(cmd, **kw):
    """(seconds, exit status, stderr): a crash or an error exit is timed and reported, not raised."""
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, errors="replace", **kw)
    return time.perf_counter() - t, r.returncode, r.stderr


def main():
    root = os.environ.get("DARKBENCH_ALEXEYAB")
    if not root or not (Path(root) / "darknet").exists():
        sys.exit("set DARKBENCH_ALEXEYAB to the AlexeyAB fork's build (its darknet and cfg/ zoo)")
    root = Path(root).resolve()
    cfgs = sorted(str(p) for p in (root / "cfg").glob("*.cfg"))
    # the fork's cwd: yolo9000.cfg names data/9k.tree, which the fork keeps in cfg/
    home = Path(tempfile.mkdtemp(prefix="darkbench-bench-ak-"))
    (home / "data").symlink_to(root / "cfg")
    ours_cmd = [sys.executable, "-m", "darkbench", "ops", "--dialect", "alexeyab", *cfgs]
    first = wall(ours_cmd, cwd=home)  # warms the file cache
    if first[1] == 2 and "--dialect" in first[2]:
        sys.exit("this darkbench has no `ops --dialect`: " + first[2].strip().splitlines()[-1])
    errors = [l for l in first[2].splitlines() if l.startswith("darkbench ops: error:")]
    ours = []
    fork, crashed = 0.0, []
    for i, c in enumerate(cfgs):  # interleave: the fork on one cfg, then a full darkbench run now and then
        t, rc, _ = wall([str(root / "darknet"), "ops", c], cwd=home)
        fork += t
        if rc:
            crashed.append(f"{Path(c).stem} ({'signal ' + str(-rc) if rc < 0 else 'exit ' + str(rc)})")
        if i % 9 == 0:
            ours.append(wall(ours_cmd, cwd=home)[0])
    best = statistics.median(ours)
    print(f"cfgs: {len(cfgs)}")
    print(f"the fork's darknet ops, one process per cfg: {fork:.2f} s "
          f"({len(crashed)} crashed: {', '.join(crashed) or 'none'})")
    print(f"darkbench ops --dialect alexeyab, one call (median of {len(ours)}, interpreter start included): "
          f"{best:.3f} s ({len(errors)} refused)")
    for e in errors:
        print(f"  {e[len('darkbench ops: error: '):]}")
    print(f"ratio: {fork / best:.0f}x (target >= 100x)")


if __name__ == "__main__":
    main()
