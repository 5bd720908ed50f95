"""The real darknet as a test oracle: `darknet ops`, and a small C harness over libdarknet."""
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

DARKNET = "/usr/bin/darknet"
LIB = "/usr/lib/darknet"
HEADER = f"{LIB}/include/darknet.h"
ZOO = Path("/usr/share/darknet/cfg")
HOME = "/usr/share/darknet"  # cwd for darknet: some cfgs name data/9k.tree relatively
SOURCE = Path(__file__).with_name("harness") / "dkharness.c"


def missing():
    """Why the oracle cannot run here, or None."""
    for p in (DARKNET, f"{LIB}/libdarknet.so", HEADER):
        if not os.path.exists(p):
            return f"{p} is not installed (apt-get install darknet)"
    if not shutil.which("gcc"):
        return "gcc is not installed"
    return None


def rewrite_net(cfg, out, **values):
    """Copy a cfg with [net] keys replaced (darknet keeps the FIRST occurrence, so old ones go)."""
    lines, in_net, done = [], False, False
    for line in Path(cfg).read_text().splitlines():
        s = "".join(line.split())
        if s.startswith("["):
            if in_net and not done:
                lines += [f"{k}={v}" for k, v in values.items()]
                done = True
            in_net = s in ("[net]", "[network]")
        elif in_net and s.partition("=")[0] in values:
            continue
        lines.append(line)
    Path(out).write_text("\n".join(lines) + "\n")
    return Path(out)


class Darknet:
    def __init__(self, workdir):
        self.dir = Path(workdir)
        digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]
        self.exe = Path(tempfile.gettempdir()) / f"darkbench-dkharness-{digest}"
        if not self.exe.exists():
            tmp = self.exe.with_suffix(f".{os.getpid()}")
            subprocess.run(["gcc", "-O2", "-o", str(tmp), str(SOURCE), f"-I{LIB}/include", f"-L{LIB}",
                            "-ldarknet", f"-Wl,-rpath,{LIB}", "-lm"], check=True)
            os.replace(tmp, self.exe)

    def _run(self, *args, cmd=None):
        r = subprocess.run(cmd or [str(self.exe), *map(str, args)], capture_output=True, text=True, cwd=HOME)
        if r.returncode:
            raise RuntimeError(f"darknet failed ({r.returncode}): {' '.join(map(str, args))}\n{r.stderr[-2000:]}")
        return r.stdout

    def classify(self, cfg, weights, image):
        """darknet's own `classify`: [(label, probability)] as it prints them (percent, 2 decimals)."""
        out = self._run(cmd=[DARKNET, "classify", str(cfg), str(weights), str(image)])
        rows = [l.split("%: ", 1) for l in out.splitlines() if "%: " in l]
        return [(label, float(p) / 100) for p, label in rows]

    def nightmare(self, cfg, weights, image, layer, *args, cwd):
        r = subprocess.run([DARKNET, "nightmare", str(cfg), str(weights), str(image), str(layer), *map(str, args)],
                           capture_output=True, text=True, cwd=cwd)
        if r.returncode:
            raise RuntimeError(f"darknet nightmare failed: {r.stderr[-1000:]}")
        return r.stdout

    def ops(self, cfg):
        out = self._run(cmd=[DARKNET, "ops", str(cfg)])
        return int(re.search(r"Floating Point Operations: (\d+)\n", out).group(1))

    def batch1(self, cfg):
        """A copy with batch=1: zoo cfgs carry training batch sizes."""
        return rewrite_net(cfg, self.dir / f"b1-{Path(cfg).name}", batch=1, subdivisions=1)

    def resized(self, cfg, width, height):
        return rewrite_net(cfg, self.dir / f"{width}x{height}-{Path(cfg).name}", width=width, height=height,
                           batch=1, subdivisions=1)

    def shapes(self, cfg):
        rows = [list(map(int, l.split())) for l in self._run("shapes", cfg).splitlines()]
        return [dict(index=r[0], type=r[1], c=r[2], h=r[3], w=r[4], outputs=r[5], inputs=r[6]) for r in rows]

    def saved_size(self, cfg):
        out = self.dir / f"{Path(cfg).stem}.save0.weights"
        self._run("save0", cfg, out)
        size = out.stat().st_size
        out.unlink()
        return size

    def save_random(self, cfg, out, seed=1, gain=None):
        self._run("save", cfg, out, seed, *([gain] if gain else []))
        return Path(out)

    def forward(self, cfg, weights, x, seed=None):
        """Every layer's output (flat float32) for one input image (C, H, W).

        With a seed, darknet fills random weights itself and saves them to `weights` first."""
        d = Path(tempfile.mkdtemp(dir=self.dir))
        np.ascontiguousarray(x, dtype="<f4").tofile(d / "input.bin")
        if seed is None:
            self._run("forward", self.batch1(cfg), weights, d / "input.bin", d)
        else:
            self._run("randforward", self.batch1(cfg), seed, weights, d / "input.bin", d)
        n = len(list(d.glob("[0-9]*.bin")))
        outs = [np.fromfile(d / f"{i}.bin", dtype="<f4") for i in range(n)]
        shutil.rmtree(d)
        return outs
