"""An installed darkbench works away from the repository: the wheel ships the published cfgs (darkbench/zoo,
from the top-level cfg/), so `darkbench compare` finds them by bare name and `darkbench verify` passes.

Nothing is downloaded: the wheel is built with this environment's setuptools (no build isolation) and
installed without dependencies into a fresh venv that sees this environment's packages through a .pth line."""
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import darkbench
from darkbench import published

ROOT = Path(__file__).resolve().parent.parent
NETS = ["tiny.cfg", "darknet.cfg", "squeezenet.cfg"]


def _run(cmd, **kw):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert r.returncode == 0, f"{cmd}: exit {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
    return r


def _source(tmp):
    """The files a build reads, copied: building never writes into the repository."""
    src = tmp / "src"
    shutil.copytree(ROOT / "darkbench", src / "darkbench", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copytree(ROOT / "cfg", src / "cfg")
    for f in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / f, src / f)
    return src


def _venv(tmp, name):
    """A fresh venv (no pip) that sees this environment's installed packages (torch, numpy...) but not its
    darkbench: a plain path line, so the .pth files there (an editable darkbench's finder) are not run."""
    venv = tmp / name
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    py = venv / "bin" / "python"
    site = _run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    ours = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (Path(site) / "_outer_env.pth").write_text("".join(f"{p}\n" for p in ours))
    return venv


def _pip(venv, *args, cwd=None):
    return _run([sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "--disable-pip-version-check",
                 "install", "--no-deps", "--no-index", "--no-build-isolation", *args], cwd=cwd)


def _env():
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DARKBENCH_CFG_PATH")}
    return dict(env, PYTHONNOUSERSITE="1")


def _check_commands(venv, elsewhere, where):
    """compare and verify from a directory with no cfgs, the cfgs found where the install put them."""
    exe = venv / "bin" / "darkbench"
    r = _run([exe, "compare", *NETS, "--format", "json"], cwd=elsewhere, env=_env())
    rows = json.loads(r.stdout)
    assert [Path(row["path"]).name for row in rows] == NETS
    for row, name in zip(rows, NETS):
        assert Path(row["path"]).parent == where, row["path"]
        net = darkbench.analyse(ROOT / "cfg" / name)
        assert (row["ops"], row["params"], row["layers"]) == (net.ops, net.params, len(net.layers))
        assert row.get("pub_ops"), f"{name}: the page's figures, as for the project's own file"
    assert "warning" not in r.stderr and "error" not in r.stderr, r.stderr
    r = _run([exe, "verify", "--format", "json"], cwd=elsewhere, env=_env())
    got = {row["claim"]: (row["verdict"], row["computed"]) for row in json.loads(r.stdout)}
    assert got == {row["claim"]: (row["verdict"], row["computed"]) for row in published.verify_all()}
    assert "FAILED" not in {v for v, _ in got.values()}


@pytest.fixture(scope="module")
def tmp(tmp_path_factory):
    t = tmp_path_factory.mktemp("install")
    (t / "elsewhere").mkdir()
    return t


def test_wheel(tmp):
    src = _source(tmp)
    out = tmp / "wheel"
    r = _run([sys.executable, "-m", "pip", "wheel", "--disable-pip-version-check", "--no-deps", "--no-index",
              "--no-build-isolation", "-w", out, src])
    assert "Warning" not in r.stderr and "warning:" not in r.stderr.replace("byte-compiling", ""), r.stderr
    wheel, = out.glob("darkbench-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    # every module of the source tree (pyproject.toml lists the packages), the data, the published cfgs
    for f in (ROOT / "darkbench").rglob("*.py"):
        assert f.relative_to(ROOT).as_posix() in names, f"{f} is not in the wheel: add its package to pyproject.toml"
    assert "darkbench/data/published.json" in names
    for f in (ROOT / "cfg").iterdir():
        assert f"darkbench/zoo/{f.name}" in names
    meta = zipfile.ZipFile(wheel).read("darkbench-0.1.0.dist-info/METADATA").decode()
    assert "License-Expression: MIT" in meta
    venv = _venv(tmp, "venv")
    _pip(venv, wheel)
    site = _run([venv / "bin" / "python", "-c", "import darkbench, os; print(os.path.dirname(darkbench.__file__))"],
                cwd=tmp / "elsewhere", env=_env()).stdout.strip()
    assert Path(site).parent.name == "site-packages"
    _check_commands(venv, tmp / "elsewhere", Path(site) / "zoo")


def test_editable(tmp):
    """pip install -e: the package is the source tree, and its cfgs are the top-level cfg/ itself."""
    src = _source(tmp) if not (tmp / "src").exists() else tmp / "src"
    venv = _venv(tmp, "venv-editable")
    _pip(venv, "-e", src)
    _check_commands(venv, tmp / "elsewhere", src / "cfg")
