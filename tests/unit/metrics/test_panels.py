"""`riskmon panels` from a /metrics endpoint: the numbers it reads, the PNG, the errors."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from replay import Replay, ReplayStats
from riskmon.cli import app
from riskmon.panels import MetricsEndpoint, read
from schemas.rules import load_rules
from simulation.generator import generate
from streams.metrics import MetricsObserver

runner = CliRunner()


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ReplayStats]]:
    folder = tmp_path_factory.mktemp("panels")
    generate(3, 1, folder, events_per_day=1200)
    rules = load_rules()
    observer = MetricsObserver(rules)
    stats = Replay(rules, observers=[observer]).run(
        folder / "events.jsonl", catalog=folder / "catalog.jsonl"
    )
    with observer.serve(0, "127.0.0.1") as server:
        yield f"http://127.0.0.1:{server.port}/metrics", stats


def test_the_endpoint_reads_back_what_the_replay_counted(
    endpoint: tuple[str, ReplayStats],
) -> None:
    url, stats = endpoint
    data = read(MetricsEndpoint(url))
    assert {k[0]: v for k, v in data.decisions.items() if v} == dict(stats.decisions)
    assert sum(data.alerts.values()) == sum(stats.alerts.values())
    approved = sum(v for k, v in data.subsidy.items() if k[2] == "approved")
    assert approved == pytest.approx(float(stats.approved), abs=0.005)
    assert set(data.ratio) == set(data.budget) == set(data.used)
    assert len(data.ratio) == 4  # every budget line, spent or not


def test_panels_writes_a_png(endpoint: tuple[str, ReplayStats], tmp_path: Path) -> None:
    out = tmp_path / "sub" / "panels.png"
    result = runner.invoke(app, ["panels", "--metrics-url", endpoint[0], "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_panels_says_what_is_wrong_without_a_traceback(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = tmp_path / "p.png"
    result = runner.invoke(
        app, ["panels", "--metrics-url", f"http://127.0.0.1:{port}/metrics", "--out", str(out)]
    )
    assert result.exit_code == 1 and "error:" in result.output and not out.exists()
    assert result.exception is None or isinstance(result.exception, SystemExit)
    both = runner.invoke(app, ["panels", "--metrics-url", "http://x", "--prometheus", "http://y"])
    assert both.exit_code == 2 and "exactly one" in both.output
    ftp = runner.invoke(app, ["panels", "--metrics-url", "file:///etc/passwd", "--out", str(out)])
    assert ftp.exit_code == 1 and "only http" in ftp.output
