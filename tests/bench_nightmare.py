"""Benchmark (not a test): `darkbench nightmare` vs darknet's own `nightmare`, same arguments, one run.

jnet-conv layer 11, -iters 4 -rounds 2 -range 3 -octaves 2 -rate .01 on darknet's dog.jpg, with random
weights written by darknet itself. Target: ratio >= 10.
"""
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


def main(device="cpu"):
    work = Path(tempfile.mkdtemp(prefix="darkbench-nightmare-"))
    dk = Darknet(work)
    weights = dk.save_random(CFG, work / "jnet-conv.weights", seed=3)
    (work / "ours").mkdir()
    (work / "theirs").mkdir()
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "darkbench", "nightmare", CFG, str(weights), IMAGE, *ARGS,
                    "--device", device], cwd=work / "ours", check=True, capture_output=True)
    ours = time.perf_counter() - t
    t = time.perf_counter()
    subprocess.run(["darknet", "nightmare", CFG, str(weights), IMAGE, *ARGS], cwd=work / "theirs", check=True,
                   capture_output=True)
    theirs = time.perf_counter() - t
    print(f"darknet nightmare {' '.join(ARGS)}: {theirs:.1f} s")
    print(f"darkbench nightmare (same arguments, {device}, interpreter start included): {ours:.1f} s")
    print(f"ratio: {theirs / ours:.1f}x (target >= 10x)")
    print("files:", sorted(p.name for p in (work / "ours").iterdir()), sorted(p.name for p in (work / "theirs").iterdir()))


if __name__ == "__main__":
    main(*sys.argv[1:2])
