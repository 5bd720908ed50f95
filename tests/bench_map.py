"""Benchmark (not a test): `darkbench map` vs the AlexeyAB fork's `darknet detector map` over the same images
($DARKBENCH_ALEXEYAB: the fork's build; the trained yolov3-tiny weights in ../shared/weights).

The set is tests/mapsets.py's 10 labelled PNG images written COPIES times (default 10: 100 images). Each
program runs as the user runs it (process start, loading the network and weights included), alternately,
ROUNDS times (default 2); prints the median wall and CPU times (user + system, all threads), per image too, the
ratios (target >= 10) and whether each printed every figure the fork printed. More COPIES spread the start-up
(Python, torch, the weights) over more images, as a real validation set would. darkbench runs with its own model
(PyTorch, batch norm folded, oneDNN's convolutions with their activation inside, an image on each core at a time)
and, where installed, OpenCV DNN (--backend opencv: no export, it reads the cfg itself) and OpenVINO
(--backend openvino: exported to ONNX first), both 8 images a pass.
Usage: bench_map.py [COPIES] [ROUNDS]"""
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mapsets  # noqa: E402
from detections import WEIGHTS  # noqa: E402


def cpu():
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def timed(cmd, cwd):
    """(wall seconds, CPU seconds, stdout) of one run."""
    t, c = time.perf_counter(), cpu()
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"{cmd[0]} failed ({r.returncode}): {r.stderr[-1500:]}")
    return time.perf_counter() - t, cpu() - c, r.stdout


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
    for backend, module in (("opencv", "cv2"), ("openvino", "openvino")):
        try:
            __import__(module)
            runs[f"darkbench map --backend {backend}"] = ours_cmd + ["--backend", backend]
        except ImportError:
            print(f"({module} is not installed: no --backend {backend} run)")
    times, cpus, figures = {k: [] for k in runs}, {k: [] for k in runs}, {k: [] for k in runs}
    try:
        for _ in range(rounds):
            for name, cmd in runs.items():
                t, c, out = timed(cmd, home)
                times[name].append(t)
                cpus[name].append(c)
                figures[name].append(mapsets.parse_map(out))
    finally:
        shutil.rmtree(home)
    print(f"images: {images} (yolov3-tiny 416x416, trained COCO weights; {os.cpu_count()} CPUs; "
          f"load average {os.getloadavg()[0]:.1f} at the end)")
    first = next(iter(runs))
    fork, fork_cpu = statistics.median(times[first]), statistics.median(cpus[first])
    for name, ts in times.items():
        m, c = statistics.median(ts), statistics.median(cpus[name])
        ratio = "" if name == first else (f"; ratio {fork / m:.1f}x wall (target >= 10x), {fork_cpu / c:.1f}x CPU; "
                                          f"every figure the fork's: {figures[name] == figures[first]}")
        print(f"{name}: {m:.2f} s wall, {c:.2f} s CPU (medians of {rounds}: {', '.join(f'{t:.2f}' for t in ts)} s); "
              f"per image {m / images * 1e3:.0f} ms wall, {c / images * 1e3:.0f} ms CPU{ratio}")
    print(f"mAP printed: {', '.join(str((f[-1]['map'] or (None, None))[1]) for f in figures.values())}")


if __name__ == "__main__":
    main()
