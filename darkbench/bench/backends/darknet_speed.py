"""darknet: darknet's own `darknet speed` program, run as a separate process (2018 darknet for pjreddie-dialect
cfgs, the AlexeyAB fork's for the fork's): the reference the others are compared with."""
import os
import re
import shutil
import subprocess
import tempfile

from ...errors import DarkbenchError
from ..traits import Traits
from .base import Backend, Runner, Skip
from .passes import Pipeline

CHUNK_S = 0.25  # about how long one sample (darknet's mean over N evals) takes

# Runs a program and prints its peak resident KiB last: a child's ru_maxrss counts the pages of the process
# it was forked from until it execs (Linux keeps the old mm's high-water mark), so the program is started
# from this small launcher rather than from the (large) benchmarking process.
_LAUNCH = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); sys.stdout.flush(); "
           "print('darkbench-peak-kib:', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
           "sys.exit(r.returncode)")


def _child(cmd, env=None, cwd=None, peak=False, mark=None):
    """(exit status, stdout and stderr, peak resident bytes or None, seconds from the first line starting with
    `mark` to the end of the program's output or None) of a program; peak=True measures its own peak (the
    launcher's rusage of it). Lines are read as they come, so an unbuffered stderr line is timed when written."""
    import sys
    import time
    p = subprocess.Popen([sys.executable, "-c", _LAUNCH, *cmd] if peak else cmd, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, env=env, cwd=cwd)
    lines, start, end = [], None, None
    for raw in p.stdout:
        line = raw.decode(errors="replace")
        if line.startswith("darkbench-peak-kib:") and end is None:
            end = time.perf_counter()  # the program has exited: the launcher reports
        if mark is not None and start is None and line.startswith(mark):
            start = time.perf_counter()
        lines.append(line)
    code = p.wait()
    end = end if end is not None else time.perf_counter()
    text = "".join(lines)
    m = re.search(r"darkbench-peak-kib: (\d+)\s*$", text) if peak else None
    if m:
        text = text[:m.start()]
    return code, text, int(m.group(1)) * 1024 if m else None, (end - start) if start is not None else None


def darknet_speed(cfg, n, threads=None, exe="darknet", rss=None, fork=False):
    """ms per evaluation from `darknet speed CFG N` (darknet's own mean over N forward passes); the process's
    peak resident bytes are appended to the list `rss` when given (darknet's peak does not grow with N).

    The AlexeyAB fork's `speed` prints the same lines but times its loop with time(0), in whole seconds: for
    it the loop is timed here, from the line its parser writes last to stderr ("avg_outputs", unbuffered,
    just before the loop) to the program's exit; its own figure must agree to its second."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads)) if threads else None
    cwd = os.path.dirname(exe) if fork else "/usr/share/darknet"  # where each keeps its data/
    code, text, peak, loop_s = _child([exe, "speed", os.path.abspath(cfg), str(n)], env,
                                      cwd if os.path.isdir(cwd) else None, rss is not None,
                                      "avg_outputs" if fork else None)
    if peak is not None:
        rss.append(peak)
    m = re.search(r"Speed: ([0-9.eE+-]+) sec/eval", text)
    if code or not m:
        last = text.strip().splitlines()[-1:] or [f"exit status {code}"]
        raise DarkbenchError(f"darknet speed failed: {last[0]}")
    if not fork:
        return float(m.group(1)) * 1000
    total = re.search(r"([0-9]+) evals, ([0-9.eE+-]+) Seconds", text)
    if loop_s is None or total is None:
        raise DarkbenchError("the AlexeyAB fork's speed printed no avg_outputs/evals line to time it by")
    if abs(loop_s - float(total.group(2))) > 1.5:  # its seconds are whole ones, cut at both ends
        raise DarkbenchError(f"the AlexeyAB fork's speed took {float(total.group(2)):.0f} s by its clock, "
                             f"{loop_s:.2f} s here")
    return loop_s * 1000 / n


def darknet_program(dialect):
    """(darknet executable, is the fork) for a cfg's dialect: 2018's installed `darknet`, the fork's from
    $DARKBENCH_ALEXEYAB; raises Skip when that one is not here."""
    from ...paths import ALEXEYAB_ENV
    if dialect == "pjreddie":
        exe = shutil.which("darknet")
        if exe is None:
            raise Skip("darknet is not installed (apt-get install darknet)")
        return exe, False
    d = os.environ.get(ALEXEYAB_ENV)
    exe = os.path.join(d, "darknet") if d else None
    if exe is None or not os.access(exe, os.X_OK):
        raise Skip(f"the cfg is in the AlexeyAB fork's dialect: set {ALEXEYAB_ENV} to the fork's directory "
                   "(its built darknet program)" + (f"; {exe} is not an executable" if exe else ""))
    return exe, True


PROMPT = b"Enter Image Path: "  # both darknets' detector loops ask for the next image so (and flush)
# its forward time as each prints it, and the factor to ms: (2018's, the fork's)
PREDICTED = {False: (r"Predicted in ([0-9.eE+-]+) seconds", 1000.0),
             True: (r"Predicted in ([0-9.eE+-]+) milli-seconds", 1.0)}


class _Loop:
    """darknet's `detector test` reading image paths from stdin: next() waits for its prompt and returns what it
    printed since the previous one."""

    def __init__(self, cmd, cwd, env, err):
        self.err = err
        with open(err, "wb") as f:
            self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=f, cwd=cwd, env=env)
        self.buf, self.seen = b"", 0

    def next(self):
        while PROMPT not in self.buf:
            got = os.read(self.p.stdout.fileno(), 1 << 16)
            if not got:
                self.p.wait()
                why = self._errors() or f"exit status {self.p.returncode}"
                raise DarkbenchError(f"darknet's detector loop ended: {why}")
            self.buf += got
        text, _, self.buf = self.buf.partition(PROMPT)
        return text.decode(errors="replace")

    def ask(self, path):
        self.p.stdin.write(path.encode() + b"\n")
        self.p.stdin.flush()
        return self.next()

    def _errors(self):
        """Its stderr's last line since the last look."""
        try:
            with open(self.err, "rb") as f:
                f.seek(self.seen)
                text = f.read().decode(errors="replace")
                self.seen = f.tell()
        except OSError:
            return ""
        lines = [ln for ln in text.splitlines() if ln.strip()]
        return lines[-1] if lines else ""

    def refused(self):
        """What darknet said when it could not read the last image, else "" (2018's carries on with a blank one)."""
        if os.path.getsize(self.err) == self.seen:
            return ""
        line = self._errors()
        return line if "Cannot load image" in line else ""

    def close(self):
        if self.p.poll() is None:
            self.p.stdin.close()
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def detector_loop(model, thresh, threads, clock):
    """darknet's own detector loop (`detector test` with no image: paths read from stdin, 2018's letterbox or the
    fork's resize, its boxes, do_nms_sort at .45, drawing, writing the picture) as a passes.Pipeline: each image
    timed from writing its path to darknet's next prompt, of which its own "Predicted in" is the forward."""
    from ...detect import classes, letters
    exe, fork = darknet_program(model.dialect)
    tmp = tempfile.mkdtemp(prefix="darkbench-detector-")
    cfg = model.sized_cfg()
    loop = None
    try:
        names = os.path.join(tmp, "names")
        with open(names, "w") as f:
            f.write("".join(f"{i}\n" for i in range(classes(model.net))))
        data = os.path.join(tmp, "pipeline.data")
        with open(data, "w") as f:
            f.write(f"classes={classes(model.net)}\nnames={names}\n")
        # its labels (the letters it draws with) are read from data/labels under its working directory
        os.symlink(os.path.join(os.path.dirname(exe), "data") if fork else "/usr/share/darknet/data",
                   os.path.join(tmp, "data"))
        cmd = [exe, "detector", "test", data, os.path.abspath(cfg), os.path.abspath(model.weights),
               "-thresh", str(thresh)]
        # 2018's loop opens a window unless told where to write the picture; the fork's with -dont_show
        cmd += (["-dont_show"] + (["-letter_box"] if letters(model.net) else [])) if fork else \
            ["-out", os.path.join(tmp, "predictions")]
        env = dict(os.environ, OMP_NUM_THREADS=str(threads)) if threads else None
        t = clock()
        loop = _Loop(cmd, tmp, env, os.path.join(tmp, "stderr"))
        loop.next()
        load_s = clock() - t
    except BaseException:
        if loop is not None:
            loop.close()
        shutil.rmtree(tmp, ignore_errors=True)
        if cfg != model.path:
            os.unlink(cfg)
        raise
    pattern, scale = PREDICTED[fork]

    def image(path, st):
        path = os.path.abspath(path)
        if len(path) > 250:  # its fgets reads 256 bytes
            raise DarkbenchError("darknet's detector loop reads paths of at most 255 bytes", path)
        text = loop.ask(path)
        m = re.search(pattern, text)
        refused = loop.refused()
        if refused or not m:
            raise DarkbenchError(f"darknet's detector loop: {refused or 'no Predicted line'}", path)
        st.stamp("rest", inside={"forward": float(m.group(1)) * scale})

    def cleanup():
        loop.close()
        shutil.rmtree(tmp, ignore_errors=True)
        if cfg != model.path:
            os.unlink(cfg)
    who = "the AlexeyAB fork's detector test" if fork else "darknet detector test (2018)"
    return Pipeline(image, {"forward": f"network_predict, as {who} prints it (Predicted in)",
                            "rest": "the rest of each image's loop in darknet: reading the file, "
                                    f"{'resize' if fork and not letters(model.net) else 'letterbox'}, its boxes, "
                                    "NMS, drawing the boxes and writing the picture (it does not skip them), and "
                                    "the pipe to it"},
                    note=f"{who}, its own process reading paths from stdin, OMP_NUM_THREADS={threads}; each image "
                         "timed from its path written to darknet's next prompt",
                    load_s=load_s, compile_s=None, prepare_s=load_s, process=True, cleanup=cleanup,
                    extra={"darknet": exe})


class Darknet(Backend):
    """darknet's own `speed` as a self-timed runner: one sample = darknet's mean over N evals (it prints no
    per-eval times), N chosen so a sample takes about CHUNK_S; samples interleave with the others."""
    name = "darknet"
    devices = ("cpu",)
    dtypes = ("fp32",)
    max_batch = 1
    limits = "darknet's `speed` runs batch 1 fp32 on the CPU"
    traits = Traits(order=70, process=True, statistic="mean", reference=True, color="tab:orange", marker="s",
                    statistic_note="The darknet backend's figure is the mean that `darknet speed` reports (it "
                                   "gives no per-run times)",
                    statistic_label="darknet speed: mean")
    torch = False
    gives_outputs = False

    def prepare(self, case, timed):
        model = case.model
        if not model.net.supports_darknet_backend:
            raise Skip("darknet cannot run Keras models")
        exe, fork = darknet_program(model.dialect)
        cfg = model.sized_cfg()
        rss = []
        try:
            first = darknet_speed(cfg, 1, case.threads, exe, rss, fork)
            n = max(1, int(CHUNK_S * 1000 / max(first, 1e-3)))
        except BaseException:
            if cfg != model.path:
                os.unlink(cfg)
            raise
        who = ("the AlexeyAB fork's darknet speed (timed here: its own clock counts whole seconds)" if fork else
               "darknet speed")
        threads = case.threads
        return Runner(None, "cpu", f"{who}: each sample is darknet's mean over {n} evals (no per-eval "
                      f"times), OMP_NUM_THREADS={threads}", events=False,
                      measure=lambda: darknet_speed(cfg, n, threads, exe, fork=fork), first_ms=first,
                      extra={"evals_per_sample": n, "darknet": exe},
                      cleanup=(lambda: os.unlink(cfg)) if cfg != model.path else None,
                      child_rss=rss, agreement_note="not checked: darknet speed gives no outputs (darkbench's "
                      "fp32 eager is checked against darknet's forward layer by layer in the tests, rel L2 <= 1e-4)")

    def pipeline(self, case, thresh, nms, clock):
        model = case.model
        if not model.net.supports_darknet_backend:
            raise Skip("darknet cannot run Keras models")
        if nms != .45:
            raise Skip(f"darknet's detector loop runs NMS at .45 only (not {nms:g})")
        return detector_loop(model, thresh, case.threads, clock)

    def weights_note(self, model):
        return "darknet's own initialisation (speed takes no weights)"

    def estimated_bytes(self, net, batch):
        from .. import memory
        return memory.darknet_estimated_bytes(net, batch)
