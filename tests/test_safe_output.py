"""Output files: nothing the user has is lost or replaced unasked, and bad output paths are one-line errors.

--force replaces a regular file's contents and nothing else (no device, FIFO or directory; a symlink's
target is written, the link kept), with the file's permissions; the report touches only files it wrote;
two bench runs never share a results file."""
import json
import os
import shutil
import socket
import stat
import types
from pathlib import Path

import pytest

from darkbench import files
from darkbench.bench import runner
from darkbench.bench.record import Record
from darkbench.cli import main
from darkbench.errors import DarkbenchError
from darkbench.report.files import MANIFEST, Out

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures"
TINY = str(ROOT / "cfg" / "tiny.cfg")


def _err(capsys):
    err = [l for l in capsys.readouterr().err.strip().splitlines()  # less progress lines and warnings
           if l not in ("analysing networks", "drawing figures") and ": warning: " not in l]
    assert len(err) == 1, err
    assert "internal error" not in err[0] and ".darkbench-tmp-" not in err[0], err[0]
    return err[0]


def _no_temp(d):
    return not [p for p in Path(d).rglob(files.TMP_PREFIX + "*")]


@pytest.fixture
def umask022():
    old = os.umask(0o022)
    yield
    os.umask(old)


# --- the shared writer ---------------------------------------------------------------------------------

WRITERS = {
    "weights": lambda p, force: main(["weights", "init", TINY, str(p)] + (["--force"] if force else [])),
    "export": lambda p, force: main(["export", TINY, "-o", str(p), "--width", "32", "--height", "32"]
                                    + (["--force"] if force else [])),
}


@pytest.mark.parametrize("writer", WRITERS)
def test_force_refuses_fifo(tmp_path, capsys, writer):
    fifo = tmp_path / "out.bin"
    os.mkfifo(fifo)
    assert WRITERS[writer](fifo, True) == 2
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    err = _err(capsys)
    assert str(fifo) in err and "is not a regular file; not overwritten" in err
    assert _no_temp(tmp_path)


def test_force_refuses_socket_and_link_to_it(tmp_path, capsys):
    """A socket stands in for a device node (making one needs root, and a real one must never be risked)."""
    sock = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(sock))
        (tmp_path / "link").symlink_to(sock)
        for p in (sock, tmp_path / "link"):
            assert main(["weights", "init", TINY, str(p), "--force"]) == 2
            assert f"{p}: is not a regular file; not overwritten" in _err(capsys)
        assert stat.S_ISSOCK(os.lstat(sock).st_mode) and (tmp_path / "link").is_symlink()
    assert _no_temp(tmp_path)


@pytest.mark.parametrize("writer", WRITERS)
def test_force_writes_through_symlink_and_keeps_it(tmp_path, capsys, writer, umask022):
    real = tmp_path / "real.bin"
    real.write_text("old")
    real.chmod(0o640)
    link = tmp_path / "link.bin"
    link.symlink_to(real.name)
    assert WRITERS[writer](link, False) == 2  # exists: refused without --force
    assert "not overwriting" in _err(capsys) and real.read_text() == "old"
    assert WRITERS[writer](link, True) == 0
    assert link.is_symlink() and os.readlink(link) == real.name
    assert real.stat().st_size > 1000 and stat.S_IMODE(real.stat().st_mode) == 0o640
    assert _no_temp(tmp_path)


def test_new_file_gets_usual_permissions_and_force_keeps_mode(tmp_path, umask022):
    out = tmp_path / "w.weights"
    assert main(["weights", "init", TINY, str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o644  # not mkstemp's 0600
    out.chmod(0o664)
    assert main(["weights", "init", TINY, str(out), "--force", "--seed", "1"]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o664


@pytest.mark.parametrize("rel,message", [
    ("nodir/x.weights", "directory {tmp}/nodir does not exist"),
    (".", "is a directory"),
    ("sub/", "names a directory"),
], ids=["missing-parent", "directory", "trailing-slash"])
def test_bad_output_paths_name_the_users_path(tmp_path, capsys, rel, message):
    path = f"{tmp_path}/{rel}"
    assert main(["weights", "init", TINY, path, "--force"]) == 2
    err = _err(capsys)
    assert err.startswith(f"darkbench weights: error: {path}: ") and message.format(tmp=tmp_path) in err
    assert _no_temp(tmp_path) and not (tmp_path / "sub").exists()


def test_empty_and_unwritable_paths(capsys):
    assert main(["weights", "init", TINY, ""]) == 2
    assert "output path is empty" in _err(capsys)
    assert main(["weights", "init", TINY, "/proc/darkbench-x.weights"]) == 2
    assert "/proc/darkbench-x.weights: cannot write" in _err(capsys)


def test_failed_write_keeps_old_file_and_removes_temp(tmp_path):
    p = tmp_path / "x.bin"
    p.write_bytes(b"old")
    with pytest.raises(TypeError):
        files.write(p, [b"new", object()], overwrite=True)
    assert p.read_bytes() == b"old" and [f.name for f in tmp_path.iterdir()] == ["x.bin"]


def test_runner_write_atomic_refuses_fifo(tmp_path):
    fifo = tmp_path / "r.json"
    os.mkfifo(fifo)
    with pytest.raises(DarkbenchError, match="is not a regular file"):
        runner.write_atomic(fifo, [{"a": 1}])
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and _no_temp(tmp_path)


# --- report: only its own files -----------------------------------------------------------------------

def _report(out, *extra):
    return main(["report", "--results", str(FIX / "results-cpu.json"), "--out", str(out), "--models", "tiny.cfg",
                 *extra])


@pytest.mark.parametrize("rel", ["report.md", "index.html", "data/networks.csv"])
def test_report_refuses_files_it_did_not_write(tmp_path, capsys, rel):
    out = tmp_path / "out"
    (out / rel).parent.mkdir(parents=True, exist_ok=True)
    (out / rel).write_text("mine")
    assert _report(out) == 2
    err = _err(capsys)
    assert f"{out / rel}: exists and was not written by darkbench report" in err and "--force" in err
    assert (out / rel).read_text() == "mine"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [rel]  # nothing else
    # --force replaces it; from then on it is the report's own and needs no --force
    assert _report(out, "--force") == 0 and (out / rel).read_text() != "mine"
    assert _report(out) == 0


def test_report_refuses_fifo_among_its_own(tmp_path, capsys):
    out = tmp_path / "out"
    assert _report(out) == 0
    capsys.readouterr()
    (out / "index.html").unlink()
    os.mkfifo(out / "index.html")
    assert _report(out, "--force") == 2
    assert f"{out / 'index.html'}: is not a regular file" in _err(capsys)
    assert stat.S_ISFIFO(os.lstat(out / "index.html").st_mode)


def test_report_manifest_never_deletes_outside_out(tmp_path):
    out, other = tmp_path / "rr", tmp_path / "rr2"
    out.mkdir()
    other.mkdir()
    (other / "precious.txt").write_text("x")
    (out / "link.txt").symlink_to(other / "precious.txt")
    (other / "d").mkdir()
    (out / "sub").symlink_to(other / "d")
    (other / "d" / "inner.txt").write_text("y")
    (out / MANIFEST).write_text(json.dumps([
        "x/../../rr2/precious.txt", "../rr2/precious.txt", str(other / "precious.txt"), "link.txt",
        "sub/inner.txt", "", ".", MANIFEST, 7, None]))
    assert _report(out) == 0
    assert (other / "precious.txt").read_text() == "x" and (other / "d" / "inner.txt").read_text() == "y"
    assert (out / "link.txt").is_symlink()
    assert json.loads((out / MANIFEST).read_text()) and "link.txt" not in json.loads((out / MANIFEST).read_text())


@pytest.mark.parametrize("manifest", ['{"notes.txt": 1}', "not json", '"notes.txt"', "[1, 2]"])
def test_report_malformed_manifest_deletes_nothing(tmp_path, manifest):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / MANIFEST).write_text(manifest)
    assert _report(out) == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert "notes.txt" not in json.loads((out / MANIFEST).read_text())


def test_report_fifo_manifest_does_not_hang(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / MANIFEST)
    assert Out(out).previous == []


def test_committed_reports_dir_is_regenerable(tmp_path):
    """`make report` writes into reports/, whose manifest names report.md, index.html and the rest."""
    rep = tmp_path / "reports"
    shutil.copytree(ROOT / "reports", rep)
    user = rep / "notes.txt"
    user.write_text("mine")
    assert main(["report", "--results", str(rep / "results"), "--out", str(rep), "--models", "tiny.cfg"]) == 0
    assert user.read_text() == "mine" and (rep / "results").is_dir()
    assert not (rep / "data" / "keras_inception.csv").exists()  # stale output of its own: removed
    assert _no_temp(rep)


# --- bench: one results file per run --------------------------------------------------------------------

def test_create_new_never_reuses_a_name(tmp_path):
    p = tmp_path / "bench-h-1.json"
    assert files.create_new(p, b"[1]") == str(p)
    assert files.create_new(p, b"[2]") == str(tmp_path / "bench-h-1-2.json")
    assert files.create_new(p, b"[3]") == str(tmp_path / "bench-h-1-3.json")
    assert [json.loads((tmp_path / n).read_text()) for n in ("bench-h-1.json", "bench-h-1-2.json",
                                                               "bench-h-1-3.json")] == [[1], [2], [3]]


@pytest.fixture
def fake_bench(monkeypatch):
    """bench with a fixed clock (every run in the same second) and a runner that writes its run number."""
    import darkbench.commands.bench as cmd
    now = types.SimpleNamespace(strftime=lambda fmt: "20260101-000000")
    monkeypatch.setattr(cmd, "datetime", types.SimpleNamespace(datetime=types.SimpleNamespace(now=lambda: now)))
    runs = []

    def fake_run(config, *a, **k):
        out = config.out_path
        runs.append(out)
        if len(runs) == 3:
            raise KeyboardInterrupt  # before any result
        res = [{"run": len(runs), "model": "m", "backend": "eager"}]
        runner.write_atomic(out, res)
        runner.write_atomic(out, res + res)  # a later rewrite of the same run goes to the same file
        return [Record.from_json(r) for r in res]
    monkeypatch.setattr(runner, "run", fake_run)
    return runs


def test_bench_runs_in_the_same_second_keep_both_files(tmp_path, capsys, fake_bench):
    args = ["bench", "tiny.cfg", "--backend", "eager", "--device", "cpu", "--out", str(tmp_path), "--json"]
    assert main(args) == 0 and main(args) == 0
    first, second = fake_bench
    assert os.path.basename(first) == f"bench-{socket.gethostname()}-20260101-000000.json"
    assert second == first[:-len(".json")] + "-2.json"
    assert [r["run"] for r in json.loads(Path(first).read_text())] == [1, 1]
    assert [r["run"] for r in json.loads(Path(second).read_text())] == [2, 2]
    capsys.readouterr()
    assert main(args) == 130  # interrupted before its first result: no empty file left behind
    assert sorted(tmp_path.iterdir()) == sorted(Path(p) for p in (first, second)) and _no_temp(tmp_path)


@pytest.mark.parametrize("kind", ["file", "proc"])
def test_bench_bad_out(tmp_path, capsys, fake_bench, kind):
    if kind == "file":
        out = tmp_path / "results"
        out.write_text("mine")
    else:
        out = Path("/proc/darkbench-x")
    assert main(["bench", "tiny.cfg", "--backend", "eager", "--device", "cpu", "--out", str(out)]) == 2
    err = _err(capsys)
    assert err.startswith(f"darkbench bench: error: {out}: --out") and not fake_bench
    if kind == "file":
        assert out.read_text() == "mine"
