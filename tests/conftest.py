from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

TESTS = Path(__file__).parent
ROOT = TESTS.parent

# `make test` runs the suite on two pytest-xdist workers with `--dist loadgroup`: each group
# below runs whole on one worker, in collection order within it.
#
# The files that start an embedded broker and `riskmon worker` subprocesses (and the demo and
# the stream benchmark, which do too) share one group: they run one after another as in a
# serial run, never two clusters at once, so their waits keep the margins they were written
# with on a 2-core machine. The other worker meanwhile runs single-process tests.
BROKER = frozenset(
    f"tests/integration/{name}.py"
    for name in (
        "test_broker",
        "test_catalog_race",
        "test_checkout",
        "test_console_browser",
        "test_controls_cli_live",
        "test_controls_live",
        "test_demo",
        "test_extremes_live",
        "test_stream_benchmark",
        "test_streaming",
    )
)
# Folders whose conftest builds a session-scoped simulated set (learning: 18 days replayed
# with the learning stage; reports and console: a replayed store): one group each, so the set
# is built once per run, not once per worker.
SHARED = ("tests/unit/learning/", "tests/unit/reports/", "tests/unit/console/")


def xdist_group(path: str) -> str:
    """The group a test file runs in under `--dist loadgroup`.

    >>> xdist_group("tests/integration/test_streaming.py")
    'broker'
    >>> xdist_group("tests/unit/learning/test_long_ring.py")
    'tests/unit/learning/'
    >>> xdist_group("tests/unit/schemas/test_money.py")
    'tests/unit/schemas/test_money.py'
    """
    if path in BROKER:
        return "broker"
    for folder in SHARED:
        if path.startswith(folder):
            return folder
    return path  # the file: what `--dist loadfile` would do


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        path = item.path.resolve().relative_to(ROOT).as_posix()
        item.add_marker(pytest.mark.xdist_group(xdist_group(path)))
