"""Benchmark (not a test): `darkbench map` vs the AlexeyAB fork's `darknet detector map` over the same images
($DARKBENCH_ALEXEYAB: the fork's build; the trained yolov3-tiny weights in ../shared/weights).

The set is tests/mapsets.py's 10 labelled PNG images written COPIES times (default 10: 100 images). Each
program runs as the user runs it (process start, loading the network and weights included), alternately,
ROUNDS times (default 2); prints the median wall times, the ratios (target >= 10) and whether all printed the
same mAP. darkbench runs with its default backend (eager PyTorch) and, where installed, OpenCV DNN (--backend
opencv), which needs no export and reads the cfg itself.  Usage: bench_map.py [COPIES] [ROUNDS]"""
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mapsets  # noqa: E402
from detections import WEIGHTS  # noqa: E402


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
    runs = {"the fork's darknet detector map": fork_cmd, "darkbench map (COCO metrics included)": ours_cmd}
    try:
        import cv2  # noqa: F401
        runs["darkbench map --backend opencv"] = ours_cmd + ["--backend", "opencv"]
    except ImportError:
        print("(OpenCV is not installed: no --backend opencv run)")
    times, maps = {k: [] for k in runs}, {}
    for _ in range(rounds):
        for name, cmd in runs.items():
            t, out = wall(cmd, home)
            times[name].append(t)
            maps[name] = (mapsets.parse_map(out)["map"] or (None, None))[1]
    print(f"images: {images} (yolov3-tiny 416x416, trained COCO weights; {os.cpu_count()} CPUs)")
    fork = statistics.median(times[next(iter(runs))])
    for name, ts in times.items():
        m = statistics.median(ts)
        ratio = "" if m == fork else f"; ratio {fork / m:.1f}x (target >= 10x)"
        print(f"{name}: {m:.2f} s (median of {rounds}: {', '.join(f'{t:.2f}' for t in ts)}){ratio}")
    print(f"same mAP printed by all: {len(set(maps.values())) == 1} ({', '.join(map(str, maps.values()))})")


if __name__ == "__main__":
    main()
