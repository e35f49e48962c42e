"""`riskmon bureau serve` as it runs in production: its own process, the real clock, a folder
destination; it delivers what is due, serves its metrics, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_serve_delivers_serves_its_metrics_and_stops_on_sigterm(tmp_path: Path) -> None:
    today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()
    config = tmp_path / "bureau.toml"
    config.write_text(
        f'[schedule]\nfirst_day = {today - timedelta(days=2)}\nitems = ["daily"]\n\n'
        f'[[destinations]]\nname = "share"\nkind = "folder"\npath = "{tmp_path / "out"}"\n',
        encoding="utf-8",
    )
    port = _free_port()
    env = {
        **os.environ,
        "RISKMON_DATABASE_URL": f"sqlite:///{tmp_path}/store.db",
        "RISKMON_BUREAU_CONFIG": str(config),
    }
    with (tmp_path / "serve.log").open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own command line
            [sys.executable, "-m", "riskmon", "bureau", "serve", "--metrics-port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            deadline = time.monotonic() + 60
            metrics = ""
            while time.monotonic() < deadline:
                assert process.poll() is None, (tmp_path / "serve.log").read_text()
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as answer:
                        metrics = answer.read().decode()
                except OSError:
                    metrics = ""
                # a pass done: its deliveries counted, its gauges read from the store
                if 'outcome="delivered"' in metrics and "seconds 0.0\n" not in metrics:
                    break
                time.sleep(0.3)
            assert 'riskmon_bureau_delivery_attempts_total{destination="share"' in metrics
            assert 'riskmon_bureau_delivery_failing{destination="share"} 0.0' in metrics
            assert list((tmp_path / "out" / "daily").iterdir())
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=30)
    assert code == 0, (tmp_path / "serve.log").read_text()
