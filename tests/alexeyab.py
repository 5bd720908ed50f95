"""The AlexeyAB darknet fork as a test oracle: its `darknet` program and a C harness over its libdarknet.

The fork is found through `DARKBENCH_ALEXEYAB=DIR`, DIR being what `build-alexeyab-darknet DIR` made
(`darknet`, `libdarknet.so`, `include/`, `src/` headers and the fork's `cfg/` zoo). Nothing of the fork
is part of darkbench: it is run at test time only.

- `fork_ops(cfg, width, height)`: the fork's `darknet ops`, its per-layer `BF` and `Total BFLOPS`
  (stderr) and its own `Floating Point Operations` count (stdout, which forgets `/groups`).
- `fork_weights_bytes(cfg, width, height)`: size of the file `darknet partial CFG /dev/null OUT 1000000`
  writes (parse with batch 1, then the fork's save_weights over every layer; 20-byte header).
- `fork_shapes(cfg, width, height)`: per layer (type, out_c, out_h, out_w, outputs, ...) from
  tests/harness/akharness.c, compiled once against the fork's headers and library.
- `zoo()`: the fork's cfg zoo, each with whether the fork's `ops` parses it or how it crashes.

A cfg the fork crashes on (abort, signal, nonzero exit) raises `ForkCrash` with the fork's last words.
Results are cached per process and on disk (keyed by the fork build, the cfg's bytes and the size), so
a second session and the second xdist worker do not rerun the fork on big cfgs.
"""
import functools
import hashlib
import json
import os
import re
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from darknet import _build, rewrite_net

ENV = "DARKBENCH_ALEXEYAB"
SOURCE = Path(__file__).with_name("harness") / "akharness.c"
# what `build-alexeyab-darknet` puts in its OUT_DIR
PARTS = ("darknet", "libdarknet.so", "include/darknet.h", "cfg")
HEADER_BYTES = 20  # int32 major, minor, revision (0, 2, 5), uint64 seen
TIMEOUT = 600
CACHE_VERSION = 2  # bump when what the disk cache stores changes


def location():
    """The fork's build directory from $DARKBENCH_ALEXEYAB, or None when unset."""
    d = os.environ.get(ENV)
    return Path(d).resolve() if d else None


def missing():
    """Why the fork cannot run here, or None."""
    d = location()
    how = ("build it with ../shared/oracles/build-alexeyab-darknet DIR and set "
           f"{ENV}=DIR (see README)")
    if d is None:
        return f"{ENV} is not set: {how}"
    for p in PARTS:
        if not (d / p).exists():
            return f"{ENV}={d} has no {p}: {how}"
    if not os.access(d / "darknet", os.X_OK):
        return f"{d / 'darknet'} is not executable"
    from shutil import which
    if not which("gcc"):
        return "gcc is not installed (needed for the fork's C harness)"
    return None


class ForkCrash(RuntimeError):
    """The fork itself failed on a cfg (assertion, signal, error exit)."""

    def __init__(self, cfg, returncode, tail, stdout=""):
        self.cfg, self.returncode, self.tail = str(cfg), returncode, tail
        if returncode < 0:
            try:
                how = signal.Signals(-returncode).name
            except ValueError:
                how = f"signal {-returncode}"
        else:
            how = f"exit status {returncode}"
        self.how = how
        # its error() prints a location and a backtrace on stderr, the message itself often on stdout
        last = [l.strip() for l in tail.splitlines()
                if l.strip() and not re.match(r"\s*(backtrace \(|\d+/\d+: )", l)][-3:]
        said = [l.strip() for l in stdout.splitlines() if "rror" in l][-2:]
        self.message = " | ".join(last + said)
        super().__init__(f"the AlexeyAB fork failed on {cfg} ({how}): {self.message}")


@dataclass
class ForkOps:
    total: float            # "Total BFLOPS x.xxx" as printed (3 decimals)
    bf: list                # per layer: its first printed "x.xxx BF" (conv, max, avg, shortcut), else None
    printed: list           # per layer: every "BF" figure printed in its block (sub-layers, AA blur)
    kinds: list             # per layer: the first word the fork prints for it (conv, max, route, ...)
    ops: int                # stdout "Floating Point Operations: N" (the fork's ops(), no /groups)
    crash: ForkCrash = field(default=None)  # set when the fork printed its total and then crashed


@dataclass
class ForkLayer:
    index: int
    type: str       # darkbench-style name of the fork's LAYER_TYPE (reorg3d = fork REORG, reorg = REORG_OLD)
    out_c: int      # for antialiasing layers: the blur's output (what the next layer reads)
    out_h: int
    out_w: int
    outputs: int
    inputs: int
    bflops: float   # the layer's l.bflops (float32 in the fork), unrounded
    nweights: int
    antialiasing: int


@dataclass
class ZooCfg:
    name: str
    path: Path
    ok: bool                 # the fork's `ops` ran to the end
    total: float = None      # its Total BFLOPS when printed (a crash after the table still prints it)
    error: str = None        # the ForkCrash message otherwise


def layer_types(header):
    """The fork's LAYER_TYPE enum from its header: id -> lower-case name as darkbench spells types."""
    text = re.search(r"typedef enum\s*{([^}]*)}\s*LAYER_TYPE;", Path(header).read_text()).group(1)
    names = [re.sub(r"//.*", "", n).strip() for n in text.split(",")]
    names = [n for n in names if n]
    rename = {"ACTIVE": "activation", "LOGXENT": "logistic", "REORG": "reorg3d", "REORG_OLD": "reorg"}
    return {i: rename.get(n, n.lower()) for i, n in enumerate(names)}


def _tail(text, n=2000):
    return text[-n:]


def parse_ops(stdout, stderr):
    """The fork's `ops` output -> ForkOps (crash left None). Layer blocks start "%4d " at a line start."""
    total = re.search(r"Total BFLOPS\s+(-?[\d.]+|nan|inf)", stderr)
    if not total:
        raise ValueError("no 'Total BFLOPS' in the fork's output:\n" + _tail(stderr))
    table = stderr[:total.start()]
    head = table.find("layer   filters")
    if head >= 0:
        table = table[table.index("\n", head) + 1:]
    blocks, index = [], 0
    for line in table.splitlines():
        m = re.match(r"( *)(\d+) ", line)  # the parser's "%4d ": right-aligned in 4 columns
        if m and int(m.group(2)) == index and m.end() - 1 == max(4, len(m.group(2))):
            blocks.append([line[m.end():]])
            index += 1
        elif blocks:
            blocks[-1].append(line)
    printed = [[float(x) for x in re.findall(r"(-?[\d.]+) BF\b", "\n".join(b))] for b in blocks]
    kinds = [(b[0].split() or [""])[0] for b in blocks]
    m = re.search(r"Floating Point Operations: (\d+)\n", stdout)
    # a [conv_lstm] block prints only its inner convolutions' BF lines, not its own
    bf = [p[0] if p and k != "CONV_LSTM" else None for p, k in zip(printed, kinds)]
    return ForkOps(total=float(total.group(1)), bf=bf, printed=printed,
                   kinds=kinds, ops=int(m.group(1)) if m else None)


class Fork:
    def __init__(self, root, workdir):
        self.root = Path(root)
        self.exe = self.root / "darknet"
        self.lib = self.root / "libdarknet.so"
        self.cfg_dir = self.root / "cfg"
        self.dir = Path(workdir)
        # cwd for the fork: cfgs name data/9k.tree, data/coco9k.map relatively; the fork keeps them in cfg/
        self.home = self.dir / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        if not (self.home / "data").exists():
            (self.home / "data").symlink_to(self.cfg_dir)
        self.scratch = Path("/dev/shm") if os.access("/dev/shm", os.W_OK) else self.dir
        st = self.exe.stat()
        lst = self.lib.stat()
        self.build_id = f"{self.root}:{st.st_size}:{st.st_mtime_ns}:{lst.st_size}:{lst.st_mtime_ns}"
        self._harness = None
        self._types = None

    # -- plumbing ---------------------------------------------------------------------------------------
    @property
    def harness(self):
        if self._harness is None:
            inc = self.root / "include"
            # the digest of the flags names the binary: one per fork build (its path, sizes and times)
            build = hashlib.sha256(self.build_id.encode()).hexdigest()[:12]
            self._harness = _build(SOURCE, "", [f"-I{inc}", f"-L{self.root}", "-ldarknet", f"-Wl,-rpath,{self.root}",
                                                "-lm", f"-DAK_BUILD={build}"])
        return self._harness

    @property
    def types(self):
        if self._types is None:
            self._types = layer_types(self.root / "include" / "darknet.h")
        return self._types

    def _cfg(self, cfg, width=None, height=None):
        """The cfg to hand to the fork: the cfg itself, or a copy with [net] width/height replaced."""
        cfg = Path(cfg).resolve()
        if not cfg.exists():
            raise FileNotFoundError(cfg)  # the fork would print "Couldn't open file" and exit 1
        if width is None and height is None:
            return cfg
        values = {k: v for k, v in (("width", width), ("height", height)) if v is not None}
        tag = "x".join(str(v) for v in (width, height))
        return rewrite_net(cfg, self.dir / f"{tag}-{cfg.name}", **values)

    def _key(self, kind, cfg, width, height):
        data = Path(cfg).resolve().read_bytes()
        if kind == "info":
            data += SOURCE.read_bytes()
        head = f"{CACHE_VERSION}|{kind}|{self.build_id}|{width}|{height}|".encode()
        return hashlib.sha256(head + data).hexdigest()[:24]

    def _cached(self, kind, cfg, width, height, compute):
        """Disk cache under the temp dir: the fork takes seconds on big cfgs, and xdist workers share it."""
        d = Path(tempfile.gettempdir()) / "darkbench-alexeyab-cache"
        path = d / f"{kind}-{self._key(kind, cfg, width, height)}.json"
        if path.exists():
            try:
                return json.loads(path.read_text())
            except ValueError:
                pass
        value = compute()
        d.mkdir(exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(value))
        os.replace(tmp, path)
        return value

    def _run(self, args):
        r = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=self.home,
                           timeout=TIMEOUT, errors="replace")
        return r.returncode, r.stdout, r.stderr

    # -- the oracle -------------------------------------------------------------------------------------
    def ops(self, cfg, width=None, height=None):
        """`darknet ops CFG` (the cfg's own batch, as the fork's program reads it) -> ForkOps.

        Raises ForkCrash when the fork dies before printing its total; a crash after it (the fork's
        divide by zero on cfgs without any 2-D layer output) is recorded in ForkOps.crash."""
        def compute():
            rc, out, err = self._run([self.exe, "ops", self._cfg(cfg, width, height)])
            return dict(rc=rc, stdout=out, stderr=err)
        r = self._cached("ops", cfg, width, height, compute)
        crash = ForkCrash(cfg, r["rc"], r["stderr"][-2000:], r["stdout"][-2000:]) if r["rc"] else None
        try:
            result = parse_ops(r["stdout"], r["stderr"])
        except ValueError:
            if crash:
                raise crash from None
            raise
        result.crash = crash
        return result

    def weights_bytes(self, cfg, width=None, height=None, cutoff=1000000):
        """Size of the weights file `darknet partial CFG /dev/null OUT CUTOFF` writes: the whole file by
        default, the first CUTOFF layers' as the fork's `yolov4.conv.137`-style files otherwise."""
        def compute():
            fd, out = tempfile.mkstemp(suffix=".weights", prefix="darkbench-ak-", dir=self.scratch)
            os.close(fd)
            try:
                rc, stdout, err = self._run([self.exe, "partial", self._cfg(cfg, width, height), "/dev/null",
                                             out, cutoff])
                return dict(rc=rc, stderr=err[-2000:], stdout=stdout[-2000:], size=os.path.getsize(out))
            finally:
                os.unlink(out)
        r = self._cached(f"partial{cutoff}", cfg, width, height, compute)
        if r["rc"]:
            raise ForkCrash(cfg, r["rc"], r["stderr"], r["stdout"])
        return r["size"]

    def save_random(self, cfg, out, width=None, height=None):
        """The fork's own randomly initialised weights file for cfg, written to out (not cached)."""
        rc, stdout, err = self._run([self.exe, "partial", self._cfg(cfg, width, height), "/dev/null",
                                     Path(out).resolve(), 1000000])
        if rc:
            raise ForkCrash(cfg, rc, err[-2000:], stdout[-2000:])
        return Path(out)

    def detector_test(self, cfg, weights, image, names, thresh=.25, letter_box=False):
        """`darknet detector test DATA CFG WEIGHTS IMAGE -dont_show -ext_output -thresh T -out result.json`
        (-letter_box when asked) in a scratch directory (it writes predictions.jpg and bad.list there), DATA
        naming `names`: (the lines it prints for its detections, the objects of its JSON: class_id,
        relative_coordinates, confidence, in its array's order)."""
        d = Path(tempfile.mkdtemp(dir=self.dir))
        (d / "det.data").write_text(f"names={Path(names).resolve()}\n")
        args = [self.exe, "detector", "test", d / "det.data", *(Path(p).resolve() for p in (cfg, weights, image)),
                "-dont_show", "-ext_output", "-thresh", thresh, "-out", d / "result.json"]
        r = subprocess.run([str(a) for a in args + (["-letter_box"] if letter_box else [])], capture_output=True,
                           text=True, cwd=d, timeout=TIMEOUT, errors="replace")
        if r.returncode:
            raise ForkCrash(cfg, r.returncode, r.stderr[-2000:], r.stdout[-2000:])
        frames = json.loads((d / "result.json").read_text())
        lines = [l for l in r.stdout.splitlines() if re.match(r"[^:]+: \d+%", l)]
        return lines, frames[0]["objects"]

    def info(self, cfg, width=None, height=None):
        """(layers, saved_bytes, total) from one harness parse (batch 1, as `partial`)."""
        def compute():
            fd, out = tempfile.mkstemp(suffix=".weights", prefix="darkbench-ak-", dir=self.scratch)
            os.close(fd)
            try:
                rc, stdout, err = self._run([self.harness, "info", self._cfg(cfg, width, height), out])
                return dict(rc=rc, stderr=err[-2000:], stdout=stdout[-2000:], size=os.path.getsize(out),
                            rows=[l for l in stdout.splitlines() if l.startswith(("L ", "T "))])
            finally:
                os.unlink(out)
        r = self._cached("info", cfg, width, height, compute)
        if r["rc"]:
            raise ForkCrash(cfg, r["rc"], r["stderr"], r["stdout"])
        layers, total = [], None
        for row in r["rows"]:
            f = row.split()
            if f[0] == "T":
                total = float(f[1])
                continue
            i, t, c, h, w, outputs, inputs = map(int, f[1:8])
            layers.append(ForkLayer(i, self.types.get(t, str(t)), c, h, w, outputs, inputs, float(f[8]),
                                    int(f[9]), int(f[10])))
        if total is None:
            raise RuntimeError(f"akharness printed no total for {cfg}:\n{r['stderr']}")
        return layers, r["size"], total

    def shapes(self, cfg, width=None, height=None):
        return self.info(cfg, width, height)[0]

    def zoo_cfgs(self):
        return sorted(self.cfg_dir.glob("*.cfg"))

    def zoo(self, names=None):
        """The fork's zoo (sorted by name; only `names`, stems, when given) with whether the fork's
        `ops` gets through each. All 87 cfgs take about a minute the first time (then the disk cache)."""
        rows = []
        for path in self.zoo_cfgs():
            if names is not None and path.stem not in names:
                continue
            try:
                r = self.ops(path)
            except ForkCrash as e:
                rows.append(ZooCfg(path.stem, path, False, None, str(e)))
                continue
            rows.append(ZooCfg(path.stem, path, r.crash is None, r.total, str(r.crash) if r.crash else None))
        return rows


# -- module-level conveniences: one Fork per process ------------------------------------------------------
@functools.lru_cache(maxsize=None)
def fork():
    """The Fork for $DARKBENCH_ALEXEYAB (raises RuntimeError with the reason when it is unusable)."""
    why = missing()
    if why:
        raise RuntimeError(why)
    return Fork(location(), tempfile.mkdtemp(prefix="darkbench-ak-"))


@functools.lru_cache(maxsize=None)
def _memo(kind, cfg, mtime, width, height, *more):
    f = fork()
    return {"ops": f.ops, "bytes": f.weights_bytes, "info": f.info}[kind](cfg, width, height, *more)


def _call(kind, cfg, width, height, *more):
    cfg = str(Path(cfg).resolve())
    return _memo(kind, cfg, os.stat(cfg).st_mtime_ns, width, height, *more)


def fork_ops(cfg, width=None, height=None):
    """ForkOps: .total (Total BFLOPS, 3 decimals), .bf (per-layer printed BF), .ops (stdout count)."""
    return _call("ops", cfg, width, height)


def fork_weights_bytes(cfg, width=None, height=None, cutoff=1000000):
    """Bytes of the weights file the fork writes (`partial`), of its first `cutoff` layers if given."""
    return _call("bytes", cfg, width, height, cutoff)


def fork_shapes(cfg, width=None, height=None):
    """[ForkLayer] as the fork parses the cfg (batch 1)."""
    return _call("info", cfg, width, height)[0]


def fork_info(cfg, width=None, height=None):
    """(layers, bytes save_weights writes, float32 sum of the layers' bflops) from one harness run."""
    return _call("info", cfg, width, height)


def zoo(names=None):
    """[ZooCfg] for the fork's zoo, or for the given cfg stems only."""
    return _zoo(None if names is None else tuple(sorted(names)))


@functools.lru_cache(maxsize=None)
def _zoo(names):
    return fork().zoo(names)
