"""Shared pytest configuration for the pygpuvm test suite.

* ``--run-slow``: tests marked ``@pytest.mark.slow`` (long fuzz/stress runs) are
  skipped unless this flag is given: ``python -m pytest --run-slow``.
* Tests import the *installed* pygpuvm (``pip install '.[test]'``, or an editable
  install), never the source checkout, which lacks the compiled ``_gpuvm``
  extension. ``python -m pytest`` puts the current directory on ``sys.path``,
  so the repository root is dropped from it here, before any test imports
  pygpuvm. (Editable installs are unaffected: their import hook comes first.)

Fixtures shared by several test modules go below.
"""

import os
import sys
from pathlib import Path

import pytest

_REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or os.getcwd()).resolve() != _REPO_ROOT]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help="also run tests marked @pytest.mark.slow (long fuzz/stress runs)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip_slow = pytest.mark.skip(reason="slow test: pass --run-slow to run it")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


@pytest.fixture
def no_c_leaks():
    """Assert that the test leaves no C allocation behind.

    Compares ``lib.gpuvm_alloc_live()`` before and after the test, after a
    ``gc.collect()`` (so objects dropped in cycles are finalized), and disarms
    allocation-failure injection. Test modules that create C objects use it
    with ``pytestmark = pytest.mark.usefixtures("no_c_leaks")``.
    """
    import gc

    from pygpuvm.raw import lib

    gc.collect()
    before = lib.gpuvm_alloc_live()
    yield
    lib.gpuvm_alloc_fail_nth(0)
    gc.collect()
    after = lib.gpuvm_alloc_live()
    assert after == before, f"C allocations leaked by the test: {after - before}"
