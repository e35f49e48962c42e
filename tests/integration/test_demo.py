"""`riskmon demo` on a fresh folder: its own broker and worker, live alerts within 30 s."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_the_live_demo_shows_alerts_within_30_seconds(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "riskmon", "demo", "--duration", "30", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=180,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "120", "RISKMON_METRICS_PORT": "0"},
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = " ".join(done.stdout.split()[-40:])  # the last line, however rich wrapped it
    found = re.search(r"decided ([\d,]+) orders; ([\d,]+) alerts \(first: ([\d.]+) s", summary)
    assert found, summary
    decided, alerts, first = (float(g.replace(",", "")) for g in found.groups())
    assert decided > 0 and alerts > 0
    assert first < 30, summary
    # piped, not a terminal: plain lines every few seconds, the summary on a line of its own
    lines = done.stdout.splitlines()
    assert sum(1 for x in lines if re.match(r"\s*\d+ s  sent ", x)) >= 3, done.stdout[-2000:]
    assert any(x.startswith("sent ") for x in lines), done.stdout[-2000:]
