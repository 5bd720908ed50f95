import os

import pytest

from darknet import Darknet, missing


def pytest_configure(config):
    config.addinivalue_line("markers", "darknet: needs the installed darknet (program, library, header, gcc)")


@pytest.fixture(scope="session")
def darknet(tmp_path_factory):
    """The real darknet as an oracle; skips (or fails in CI) when it is not installed."""
    why = missing()
    if why:
        if os.environ.get("DARKBENCH_REQUIRE_DARKNET") == "1":
            pytest.fail(f"DARKBENCH_REQUIRE_DARKNET=1 but {why}")
        pytest.skip(why)
    return Darknet(tmp_path_factory.mktemp("darknet"))
