"""`benchmarks/stream.py --quick`: the whole path (broker, workers, raw loop, offered rate) runs
and prints its table. Speed is the benchmark's to report, not this test's to judge."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_quick_run_prints_the_table_of_figures(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "stream.py"),
            "--quick",
            "--workdir",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "riskmon streaming on the embedded broker" in out
    for figure in (
        "raw aiokafka loop, batched",
        "1 worker: events/s",
        "2 workers: events/s",
        "topic hops to a decision",
        "p50/p90/p99/max",
        "highest sustained rate",
    ):
        assert figure in out, figure
