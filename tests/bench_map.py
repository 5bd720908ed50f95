"""Benchmark (not a test): `darkbench map` vs the AlexeyAB fork's `darknet detector map` over the same images
($DARKBENCH_ALEXEYAB: the fork's build; the trained yolov3-tiny weights in ../shared/weights).

The set is tests/mapsets.py's 10 labelled PNG images written COPIES times (default 10: 100 images). Each
program runs as the user runs it (process start, loading the network and weights included), alternately,
ROUNDS times (default 2); prints both median wall times, the ratio (target >= 10) and whether both printed the
same mAP.  Usage: bench_map.py [COPIES] [ROUNDS]"""
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mapsets  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = ROOT.parent / "shared" / "weights" / "yolov3-tiny-coco.weights"


def wall(cmd, cwd):
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"{cmd[0]} failed ({r.returncode}): {r.stderr[-1500:]}")
    return time.perf_counter() - t, r.stdout


def main():
    copies = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    root = os.environ.get("DARKBENCH_ALEXEYAB")
    if not root or not (Path(root) / "darknet").exists():
        sys.exit("set DARKBENCH_ALEXEYAB to the AlexeyAB fork's build (its darknet and cfg/ zoo)")
    if not WEIGHTS.exists():
        sys.exit(f"the trained weights are not at {WEIGHTS}")
    root = Path(root).resolve()
    cfg = root / "cfg" / "yolov3-tiny.cfg"
    home = Path(tempfile.mkdtemp(prefix="darkbench-bench-map-"))
    data = mapsets.write_set(home, copies=copies)
    images = len((home / "valid.txt").read_text().split())
    fork_cmd = [str(root / "darknet"), "detector", "map", str(data), str(cfg), str(WEIGHTS), "-dont_show"]
    ours_cmd = [sys.executable, "-m", "darkbench", "map", str(cfg), str(WEIGHTS), str(data)]
    fork, ours = [], []
    for _ in range(rounds):
        t, fork_out = wall(fork_cmd, home)
        fork.append(t)
        t, ours_out = wall(ours_cmd, home)
        ours.append(t)
    a, b = mapsets.parse_map(fork_out)["map"], mapsets.parse_map(ours_out)["map"]
    f, o = statistics.median(fork), statistics.median(ours)
    print(f"images: {images} (yolov3-tiny 416x416, trained COCO weights; {os.cpu_count()} CPUs, torch threads "
          "as darkbench sets them)")
    print(f"the fork's darknet detector map: {f:.2f} s (median of {rounds}: {', '.join(f'{t:.2f}' for t in fork)})")
    print(f"darkbench map (COCO metrics included): {o:.2f} s (median of {rounds}: "
          f"{', '.join(f'{t:.2f}' for t in ours)})")
    print(f"same mAP printed: {a == b} ({a[1] if a else None} vs {b[1] if b else None})")
    print(f"ratio: {f / o:.1f}x (target >= 10x)")


if __name__ == "__main__":
    main()
