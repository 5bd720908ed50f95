"""tests/require.py: a missing oracle or library skips a test, and fails it under DARKBENCH_REQUIRE_DARKNET=1
(CI), whether it is asked for in a test or at the top of a test file."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from require import require_module

HERE = Path(__file__).parent
MISSING = "darkbench_no_such_module"


def test_a_present_module_is_returned():
    assert require_module("json") is json
    assert require_module("os.path") is os.path


def test_a_missing_module_skips_saying_why(monkeypatch):
    monkeypatch.delenv("DARKBENCH_REQUIRE_DARKNET", raising=False)
    with pytest.raises(pytest.skip.Exception, match=f"{MISSING} cannot be imported \\(ModuleNotFoundError: .*\\); "
                                                    "pip install it please"):
        require_module(MISSING, "pip install it please")


def test_a_missing_module_fails_in_ci(monkeypatch):
    monkeypatch.setenv("DARKBENCH_REQUIRE_DARKNET", "1")
    with pytest.raises(pytest.fail.Exception, match=f"^DARKBENCH_REQUIRE_DARKNET=1 but {MISSING} cannot be imported"):
        require_module(MISSING)


def test_the_install_hint_of_a_known_library(monkeypatch):
    """A submodule of a library tests compare with says how to install that library."""
    monkeypatch.delenv("DARKBENCH_REQUIRE_DARKNET", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"pip install 'darkbench\[engines\]'"):
        require_module("cv2.darkbench_no_such_submodule")


HEAD = "import pytest\nfrom require import require_module\n"
AT_THE_TOP = HEAD + f"lib = require_module('{MISSING}')\n\n\ndef test_a():\n    pass\n"  # as test_keras.py asks
IN_A_TEST = HEAD + f"\n\ndef test_b():\n    require_module('{MISSING}')\n"


@pytest.mark.parametrize("ci", [False, True])
def test_a_whole_run_fails_in_ci_and_skips_elsewhere(tmp_path, ci):
    """What pytest itself reports for a file that needs a missing module, at the top and in a test."""
    (tmp_path / "test_top.py").write_text(AT_THE_TOP)
    (tmp_path / "test_inside.py").write_text(IN_A_TEST)
    env = {k: v for k, v in os.environ.items() if k != "DARKBENCH_REQUIRE_DARKNET"}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    if ci:
        env["DARKBENCH_REQUIRE_DARKNET"] = "1"
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfEs",
                        "--continue-on-collection-errors", str(tmp_path)],
                       capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    last = r.stdout.strip().splitlines()[-1]
    if ci:
        assert r.returncode == 1, r.stdout
        assert "1 failed" in last and "1 error" in last and "skipped" not in last, last
        assert f"DARKBENCH_REQUIRE_DARKNET=1 but {MISSING} cannot be imported" in r.stdout
    else:
        assert r.returncode == 0, r.stdout
        assert "2 skipped" in last and "failed" not in last and "error" not in last, last
