import os

import pytest

import alexeyab
from darknet import Darknet, missing


def pytest_configure(config):
    config.addinivalue_line("markers", "darknet: needs the installed darknet (program, library, header, gcc)")
    config.addinivalue_line("markers", "alexeyab: needs the AlexeyAB fork built in $DARKBENCH_ALEXEYAB")


@pytest.fixture(scope="session")
def darknet(tmp_path_factory):
    """The real darknet as an oracle; skips (or fails in CI) when it is not installed."""
    why = missing()
    if why:
        if os.environ.get("DARKBENCH_REQUIRE_DARKNET") == "1":
            pytest.fail(f"DARKBENCH_REQUIRE_DARKNET=1 but {why}")
        pytest.skip(why)
    return Darknet(tmp_path_factory.mktemp("darknet"))


@pytest.fixture(scope="session")
def alexeyab_fork():
    """The AlexeyAB fork as an oracle (tests/alexeyab.py): skips with the reason when $DARKBENCH_ALEXEYAB
    is unset or incomplete, fails instead under DARKBENCH_REQUIRE_DARKNET=1 (CI builds it, .ci/run)."""
    why = alexeyab.missing()
    if why:
        if os.environ.get("DARKBENCH_REQUIRE_DARKNET") == "1":
            pytest.fail(f"DARKBENCH_REQUIRE_DARKNET=1 but {why}")
        pytest.skip(why)
    return alexeyab.fork()
