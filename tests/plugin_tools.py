"""What the plugin tests share: the command line run with a plugin named in its environment variable, and a
package installed by hand that names its module in an entry-point group."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cli(env, plugin, *args, env_extra=None, check=True):
    """`darkbench ARGS` in a fresh process with the environment variable `env` naming the plugin file."""
    environ = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))))
    environ.update({env: str(plugin), **(env_extra or {})})
    r = subprocess.run([sys.executable, "-m", "darkbench", *map(str, args)], capture_output=True, text=True,
                       env=environ, cwd=ROOT)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def fake_package(site, name, source, group, entry):
    """site/NAME/__init__.py holding `source`, and site/NAME-1.0.dist-info naming it as `entry` in `group`;
    returns site (to put on PYTHONPATH)."""
    (site / name).mkdir(parents=True)
    (site / name / "__init__.py").write_text(source)
    info = site / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n{entry} = {name}\n")
    return site
