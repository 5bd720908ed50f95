"""Skips for missing oracles (darknet, its zoo, chromium) that CI turns into failures.

DARKBENCH_REQUIRE_DARKNET=1 (set by .ci/run) means every oracle must be there: a skip would hide a
test that never ran.
"""
import os

import pytest

MISSING = "oracle_missing"  # marker on the stand-in parameter of a parameter set that came out empty


def required():
    return os.environ.get("DARKBENCH_REQUIRE_DARKNET") == "1"


def require(why):
    """Skip with `why`, or fail with it when the oracles are required."""
    if required():
        pytest.fail(f"DARKBENCH_REQUIRE_DARKNET=1 but {why}")
    pytest.skip(why)


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
