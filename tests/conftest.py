import pytest

import alexeyab
from darknet import Darknet, missing
from require import check_item, require


def pytest_configure(config):
    config.addinivalue_line("markers", "darknet: needs the installed darknet (program, library, header, gcc)")
    config.addinivalue_line("markers", "alexeyab: needs the AlexeyAB fork built in $DARKBENCH_ALEXEYAB")
    config.addinivalue_line("markers", "oracle_missing(why): stands for a parameter set that came out empty")


def pytest_runtest_setup(item):
    check_item(item)


@pytest.fixture(scope="session")
def darknet(tmp_path_factory):
    """The real darknet as an oracle; skips (or fails in CI) when it is not installed."""
    why = missing()
    if why:
        require(why)
    return Darknet(tmp_path_factory.mktemp("darknet"))


@pytest.fixture(scope="session")
def trained_weights():
    """darknet's trained yolov3-tiny COCO weights (../shared/weights from the repository root); skips (fails in
    CI) when absent."""
    from detections import WEIGHTS
    if not WEIGHTS.is_file():
        require(f"{WEIGHTS} is not here (the trained yolov3-tiny weights; see ../shared/weights/README.md)")
    return WEIGHTS


@pytest.fixture(scope="session")
def alexeyab_fork():
    """The AlexeyAB fork as an oracle (tests/alexeyab.py): skips with the reason when $DARKBENCH_ALEXEYAB
    is unset or incomplete, fails instead under DARKBENCH_REQUIRE_DARKNET=1 (CI builds it, .ci/run)."""
    why = alexeyab.missing()
    if why:
        require(why)
    return alexeyab.fork()
