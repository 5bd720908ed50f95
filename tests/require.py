"""Skips for missing oracles (darknet, its zoo, the fork, chromium, and the libraries tests compare with:
Keras, fvcore, ONNX / ONNX Runtime, OpenVINO, OpenCV) that CI turns into failures.

DARKBENCH_REQUIRE_DARKNET=1 (set by .ci/run) means every oracle must be there: a skip would hide a
test that never ran.
"""
import importlib
import os

import pytest

MISSING = "oracle_missing"  # marker on the stand-in parameter of a parameter set that came out empty


def required():
    return os.environ.get("DARKBENCH_REQUIRE_DARKNET") == "1"


def require(why):
    """Skip with `why`, or fail with it when the oracles are required."""
    if required():
        pytest.fail(f"DARKBENCH_REQUIRE_DARKNET=1 but {why}")
    pytest.skip(why, allow_module_level=True)  # at a test file's top too: the whole file then skips


# how to get the libraries tests compare with (`make setup` installs them all: the test extra)
INSTALL = {
    "keras": "Keras 3 is a test-only dependency (pip install 'keras>=3'; tests use its torch backend)",
    "onnx": "pip install 'darkbench[onnx]'",
    "onnxruntime": "pip install 'darkbench[onnx]'",
    "cv2": "pip install 'darkbench[engines]' (opencv-python-headless 4.x)",
    "openvino": "pip install 'darkbench[engines]'",
    "nncf": "pip install 'darkbench[engines]' (NNCF quantizes for OpenVINO)",
    "fvcore": "fvcore is a dependency of darkbench (pip install fvcore)",
    "imagecodecs": "pip install 'darkbench[fast]' (libpng decodes plain PNGs for darkbench map)",
}


def require_module(name, why=None):
    """The imported module `name`, an oracle or a library a test needs; when it cannot be imported: skipped
    with why (default: how to install it), failed when the oracles are required. In place of
    pytest.importorskip, which skips even in CI."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        require(f"{name} cannot be imported ({type(e).__name__}: {e}); "
                f"{why or INSTALL.get(name.split('.')[0], f'pip install {name}')}")


def params(items, why, arity=1):
    """`items` as a parameter list, or one stand-in that skips (fails in CI) with `why` when it is empty:
    a parameter set that silently turns empty would hide every case it stood for."""
    items = list(items)
    if items:
        return items
    return [pytest.param(*[None] * arity, id="oracle-missing", marks=pytest.mark.oracle_missing(why))]


def check_item(item):
    """pytest_runtest_setup: a stand-in parameter skips or fails before the test runs."""
    mark = item.get_closest_marker(MISSING)
    if mark:
        require(mark.args[0])
