from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

if os.environ.get("PYTEST_XDIST_WORKER"):
    # An xdist worker starts with COLUMNS=80 and LINES=24 in its environment, which a serial
    # run does not have: the command line's rich consoles, made at import, would then keep 80
    # columns whatever a test asks for (a test's COLUMNS, a long tmp path wrapped).
    for name in ("COLUMNS", "LINES"):
        os.environ.pop(name, None)

# `make test` runs the suite on two pytest-xdist workers with `--dist loadgroup`; the scheduler
# below sends each group whole to one worker, in collection order within it. (xdist's own
# `xdist_group` marks work by renaming the tests' node ids, which pytest 9 no longer allows:
# they would be ignored, every test sent on its own.)
#
# The files that start an embedded broker and `riskmon worker` subprocesses (the demo and the
# stream benchmark do too) share one group: they run one after another as in a serial run, never
# two clusters at once, so their waits keep the margins they were written with on a 2-core
# machine. The other worker meanwhile runs single-process tests.
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


def xdist_group(nodeid: str) -> str:
    """The group a test runs in under `--dist loadgroup`: by its file, as `--dist loadfile`
    would, but for the broker files and the folders above.

    >>> xdist_group("tests/integration/test_streaming.py::test_one_partition[1]")
    'broker'
    >>> xdist_group("tests/unit/learning/test_long_ring.py::test_a_slow_ring")
    'tests/unit/learning/'
    >>> xdist_group("schemas/money.py::schemas.money.yuan")
    'schemas/money.py'
    """
    path = nodeid.split("::", 1)[0]
    if path in BROKER:
        return "broker"
    for folder in SHARED:
        if path.startswith(folder):
            return folder
    return path


@pytest.hookimpl(optionalhook=True)  # a run without pytest-xdist has no such hook
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadgroup":
        return None  # xdist's own
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_group(nodeid)

    return GroupScheduling(config, log)
