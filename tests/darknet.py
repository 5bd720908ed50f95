"""The real darknet as a test oracle: `darknet ops`, and a small C harness over libdarknet."""
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from darkbench.layers import families, trait
from darkbench.network import analyse

DARKNET = "/usr/bin/darknet"
LIB = "/usr/lib/darknet"
HEADER = f"{LIB}/include/darknet.h"
ZOO = Path("/usr/share/darknet/cfg")
HOME = "/usr/share/darknet"  # cwd for darknet: some cfgs name data/9k.tree relatively
SOURCE = Path(__file__).with_name("harness") / "dkharness.c"
FASTRAND = SOURCE.with_name("fastrand.c")
DETECT = SOURCE.with_name("dkdetect.c")


def missing():
    """Why the oracle cannot run here, or None."""
    for p in (DARKNET, f"{LIB}/libdarknet.so", HEADER, HOME):
        if not os.path.exists(p):
            return f"{p} is not installed (apt-get install darknet)"
    if not shutil.which("gcc"):
        return "gcc is not installed"
    return None


def _build(source, suffix, flags):
    """Compile once per source version; the binary is cached in the temp dir under its hash."""
    digest = hashlib.sha256(source.read_bytes() + " ".join(flags).encode()).hexdigest()[:12]
    out = Path(tempfile.gettempdir()) / f"darkbench-{source.stem}-{digest}{suffix}"
    if not out.exists():
        tmp = Path(f"{out}.{os.getpid()}.tmp")
        r = subprocess.run(["gcc", "-O2", "-o", str(tmp), str(source), *flags], capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError(f"cannot compile {source}:\n{r.stderr[-2000:]}")
        os.replace(tmp, out)  # atomic: parallel workers may race to build it
    return out


def layer_types():
    """darknet's LAYER_TYPE enum read from its header: id -> darkbench's type name."""
    text = re.search(r"typedef enum\s*{([^}]*)}\s*LAYER_TYPE;", Path(HEADER).read_text()).group(1)
    names = [n.strip() for n in text.split(",") if n.strip()]
    rename = {trait(f, "DARKNET_TYPE"): f.NAMES[0] for f in families() if trait(f, "DARKNET_TYPE")}
    return {i: rename.get(n, n.lower()) for i, n in enumerate(names)}


# Ranges of the random weights the harness fills (as weights.random_arrays draws them); kernels are
# uniform in +-sqrt(3 / fan_in), so deep nets keep their activations in range.
RANGES = {"biases": (-0.2, 0.2), "scales": (0.5, 1.5), "rolling_mean": (-0.2, 0.2), "rolling_variance": (0.5, 1.5)}
ORDER = ("biases", "weights", "scales", "rolling_mean", "rolling_variance")  # the draws per (inner) layer


def random_table(cfg, out):
    """The harness's table of arrays to randomize, from darkbench's specs: "LAYER NAME COUNT LO HI"."""
    lines = []
    for l in analyse(cfg).layers:
        r = np.sqrt(np.float32(3) / np.float32(l.trait("fan_in")(l)))  # as sqrtf(3.0f / fan_in)
        groups = {}
        for name, shape in l.weights:
            groups.setdefault(name.rpartition(".")[0], []).append((name, shape))
        for arrays in groups.values():
            for name, shape in sorted(arrays, key=lambda a: ORDER.index(a[0].rpartition(".")[2])):
                lo, hi = (-r, r) if name.rpartition(".")[2] == "weights" else RANGES[name.rpartition(".")[2]]
                lines.append(f"{l.index} {name} {int(np.prod(shape))} {np.float32(lo)} {np.float32(hi)}")
    Path(out).write_text("".join(f"{line}\n" for line in lines))
    return Path(out)


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
    if in_net and not done:  # [net] was the only section
        lines += [f"{k}={v}" for k, v in values.items()]
    Path(out).write_text("\n".join(lines) + "\n")
    return Path(out)


def _is_path(a):
    return isinstance(a, Path) or (isinstance(a, str) and (os.path.sep in a or a.endswith((".cfg", ".weights", ".bin"))))


class Darknet:
    def __init__(self, workdir):
        self.dir = Path(workdir)
        # -rdynamic: the harness's own rand() then also serves libdarknet (see dkharness.c)
        self.exe = _build(SOURCE, "", ["-rdynamic", f"-I{LIB}/include", f"-L{LIB}", "-ldarknet",
                                       f"-Wl,-rpath,{LIB}", "-lm"])
        self.fastrand = _build(FASTRAND, ".so", ["-shared", "-fPIC"])
        # big temporary .weights files go to memory when there is a tmpfs for them
        self.scratch = Path("/dev/shm") if os.access("/dev/shm", os.W_OK) else self.dir

    def _run(self, *args, cmd=None, env=None):
        # darknet runs in HOME: paths become absolute, and a missing file is an error here
        # (darknet prints "Couldn't open file" and exits 0)
        args = [os.path.abspath(a) if _is_path(a) else a for a in args]
        for a in args:
            if str(a).endswith(".cfg") and not os.path.exists(a):
                raise FileNotFoundError(a)
        cmd = cmd or [str(self.exe), *map(str, args)]
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=HOME, env=env)
        if r.returncode:
            raise RuntimeError(f"darknet failed ({r.returncode}): {' '.join(map(str, cmd))}\n{r.stderr[-2000:]}")
        return r.stdout

    def classify(self, cfg, weights, image):
        """darknet's own `classify`: [(label, probability)] as it prints them (percent, 2 decimals)."""
        out = self._run(cmd=[DARKNET, "classify", *map(os.path.abspath, (cfg, weights, image))])
        rows = [l.split("%: ", 1) for l in out.splitlines() if "%: " in l]
        return [(label, float(p) / 100) for p, label in rows]

    def detections(self, cfg, weights, image, thresh=.5, hier=.5, nms=.45):
        """darknet's detection array for an image as `darknet detect` makes it (tests/harness/dkdetect.c):
        dict(width, height, classes, rows=[(objectness, (x, y, w, h), probs)]) in the array's order after
        do_nms_sort, every row (all-zero ones too)."""
        exe = _build(DETECT, "", [f"-I{LIB}/include", f"-L{LIB}", "-ldarknet", f"-Wl,-rpath,{LIB}", "-lm"])
        out = self._run(cmd=[str(exe), *map(os.path.abspath, (cfg, weights, image)), str(thresh), str(hier),
                             str(nms)])
        lines = out.splitlines()
        width, height, n, classes = map(int, lines[0].split())
        rows = []
        for line in lines[1:1 + n]:
            v = np.array(line.split(), dtype=np.float64)
            rows.append((v[0], tuple(v[1:5]), v[5:]))
        return dict(width=width, height=height, classes=classes, rows=rows)

    def detect(self, cfg, weights, image, thresh=.5):
        """`darknet detect CFG WEIGHTS IMAGE -thresh T`'s printed lines ("dog: 56%"): its picture goes to a
        scratch -out file (without -out it opens a window and waits)."""
        d = Path(tempfile.mkdtemp(dir=self.dir))
        out = self._run(cmd=["stdbuf", "-o0", DARKNET, "detect", *map(os.path.abspath, (cfg, weights, image)),
                             "-thresh", str(thresh), "-out", str(d / "predictions")])
        shutil.rmtree(d)
        return [l for l in out.splitlines() if l.endswith("%")]

    def nightmare(self, cfg, weights, image, layer, *args, cwd):
        r = subprocess.run([DARKNET, "nightmare", str(cfg), str(weights), str(image), str(layer), *map(str, args)],
                           capture_output=True, text=True, cwd=cwd)
        if r.returncode:
            raise RuntimeError(f"darknet nightmare failed: {r.stderr[-1000:]}")
        return r.stdout

    def ops(self, cfg, fast=True):
        """`darknet ops CFG`; fast: with tests/harness/fastrand.c preloaded (same count, 3x quicker)."""
        env = None
        if fast:
            env = dict(os.environ, LD_PRELOAD=" ".join(filter(None, (str(self.fastrand), os.environ.get("LD_PRELOAD")))))
        cfg = os.path.abspath(cfg)
        if not os.path.exists(cfg):
            raise FileNotFoundError(cfg)
        out = self._run(cmd=[DARKNET, "ops", cfg], env=env)
        m = re.search(r"Floating Point Operations: (\d+)\n", out)
        if not m:
            raise RuntimeError(f"darknet ops {cfg}: no count in its output:\n{out[-1000:]}")
        return int(m.group(1))

    def batch1(self, cfg):
        """A copy with batch=1: zoo cfgs carry training batch sizes."""
        return rewrite_net(cfg, self.dir / f"b1-{Path(cfg).name}", batch=1, subdivisions=1)

    def resized(self, cfg, width, height, dir=None):
        """A batch=1 copy whose [net] width and height are replaced."""
        return rewrite_net(cfg, Path(dir or self.dir) / f"{width}x{height}-{Path(cfg).name}", width=width,
                           height=height, batch=1, subdivisions=1)

    @staticmethod
    def _shapes(text):
        types = layer_types()
        rows = [list(map(int, l.split())) for l in text.splitlines()]
        return [dict(index=r[0], type=types.get(r[1], r[1]), c=r[2], h=r[3], w=r[4], outputs=r[5], inputs=r[6])
                for r in rows]

    def shapes(self, cfg):
        """Per layer as darknet parses it: type (darkbench's name), out c/h/w, outputs, inputs."""
        return self._shapes(self._run("shapes", cfg))

    def _saved(self, cmd, cfg):
        fd, out = tempfile.mkstemp(suffix=".weights", prefix="darkbench-", dir=self.scratch)
        os.close(fd)
        out = Path(out)
        try:
            text = self._run(cmd, cfg, out)
            return text, out.stat().st_size
        finally:
            out.unlink(missing_ok=True)

    def saved_size(self, cfg):
        """Bytes of the .weights file darknet saves for a freshly parsed network."""
        return self._saved("save0", cfg)[1]

    def info(self, cfg):
        """shapes(cfg) and saved_size(cfg) from one parse."""
        text, size = self._saved("info", cfg)
        return self._shapes(text), size

    def _table(self, cfg):
        fd, path = tempfile.mkstemp(suffix=".table", dir=self.dir)
        os.close(fd)
        return random_table(cfg, path)

    def save_random(self, cfg, out, seed=1, gain=None):
        self._run("save", cfg, self._table(cfg), out, seed, *([gain] if gain else []))
        return Path(out)

    def forward(self, cfg, weights, x, seed=None):
        """Every layer's output (flat float32) for one input image (C, H, W).

        With a seed, darknet fills random weights itself and saves them to `weights` first."""
        d = Path(tempfile.mkdtemp(dir=self.dir))
        np.ascontiguousarray(x, dtype="<f4").tofile(d / "input.bin")
        if seed is None:
            self._run("forward", self.batch1(cfg), weights, d / "input.bin", d)
        else:
            self._run("randforward", self.batch1(cfg), random_table(cfg, d / "random.table"), seed, weights,
                      d / "input.bin", d)
        n = len(list(d.glob("[0-9]*.bin")))
        outs = [np.fromfile(d / f"{i}.bin", dtype="<f4") for i in range(n)]
        shutil.rmtree(d)
        return outs
