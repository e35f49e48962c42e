"""The learning stage in a process of its own gives the in-process replay's outputs, byte for byte.

A few simulated days with the unnamed patterns and analysts' verdicts, replayed with the
learning stage after each event in one process and in a forked one beside the decide half
(replay/learning_process.py, small batches so that many are in flight): the same alerts,
decisions, dead letters and scores files, the same stats and the same observer calls; a learner
that fails on one event gives the same dead letter; a learning process that dies makes the
replay fail, not hang.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

import replay.learning_process as learning_process
from detectors.alerts import Alert
from detectors.learning import DETECTORS, Learner, LearningConfig
from replay import Replay, ReplayStats
from replay.learning import LearningRun
from replay.learning_process import LearningProcessDied
from replay.observers import NullObserver
from schemas.rules import load_rules
from simulation.generator import generate

RULES = load_rules()
# a few days: lower quantiles, so that the models speak (as tests/unit/streams/test_equivalence)
CONFIG = LearningConfig(warmup_orders=400, anomaly_quantile=0.98, edge_quantile=0.99)
OUTPUTS = ("alerts.jsonl", "decisions.jsonl", "dead.jsonl", "scores.jsonl")

pytestmark = pytest.mark.skipif(
    not learning_process.available(), reason="the learning process needs fork"
)


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("days")
    generate(7, 2, folder, events_per_day=1500, unnamed=True, labels=True)
    lines = (folder / "events.jsonl").read_bytes().splitlines(keepends=True)
    lines.insert(len(lines) // 2, b'{"event_type": "order_paid", "not": "an order"}\n')
    (folder / "events.jsonl").write_bytes(b"".join(lines))  # and a dead letter of the decoding
    return folder


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(learning_process, "BATCH", 16)
    monkeypatch.setattr(learning_process, "IN_FLIGHT", 3)


class Counting(NullObserver):
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.figures = 0

    def on_alert(self, alert: Alert) -> None:
        self.calls[f"alert {alert.alert_id}"] += 1

    def on_dead_letter(self, record: dict[str, Any]) -> None:
        self.calls[f"dead {record['reason']}"] += 1

    def on_learning_quality(self, figures: Any) -> None:
        self.figures += 1


def replayed(
    folder: Path, out: Path, apart: bool, learner: Learner | None = None
) -> tuple[ReplayStats, Counting, Replay]:
    out.mkdir()
    run = LearningRun(
        learner or Learner(RULES, CONFIG), folder / "labels.jsonl", out / "scores.jsonl"
    )
    observer = Counting()
    engine = Replay(RULES, learning=run, learning_process=apart, observers=[observer])
    stats = engine.run(
        folder / "events.jsonl",
        catalog=folder / "catalog.jsonl",
        alerts_out=out / "alerts.jsonl",
        decisions_out=out / "decisions.jsonl",
        dead_letter_out=out / "dead.jsonl",
    )
    return stats, observer, engine


def same_stats(one: ReplayStats, other: ReplayStats) -> None:
    one.seconds = other.seconds = 0.0
    assert repr(one.learning) == repr(other.learning)  # a figure may be NaN (no alert yet)
    one.learning = other.learning = {}
    assert one == other


def test_the_same_outputs_byte_for_byte(days: Path, tmp_path: Path) -> None:
    inside, seen_inside, _ = replayed(days, tmp_path / "in", apart=False)
    apart, seen_apart, engine = replayed(days, tmp_path / "apart", apart=True)
    for name in OUTPUTS:
        assert (tmp_path / "apart" / name).read_bytes() == (tmp_path / "in" / name).read_bytes()
    assert any(detector in DETECTORS for detector in inside.detectors)  # the models spoke
    assert inside.dead_letters and inside.learning["labels_read"] > 0
    same_stats(inside, apart)
    assert seen_apart.calls == seen_inside.calls
    assert seen_apart.figures >= 1
    assert engine._apart is None  # the child was joined


def breaking(at: int, act: Callable[[], None]) -> Learner:
    """A learner that does `act` at its `at`-th paid order, else learns as ever."""
    learner = Learner(RULES, CONFIG)
    on_paid = learner.on_paid
    calls = 0

    def counted(event: Any, outcome: Any, **kw: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == at:
            act()
        return on_paid(event, outcome, **kw)

    setattr(learner, "on_paid", counted)  # noqa: B010
    return learner


def test_a_learning_failure_is_the_same_dead_letter(days: Path, tmp_path: Path) -> None:
    def raising() -> None:
        raise ZeroDivisionError("no data of the event in the dead letter")

    def failing() -> Learner:
        return breaking(500, raising)

    inside, _, _ = replayed(days, tmp_path / "in", apart=False, learner=failing())
    apart, _, _ = replayed(days, tmp_path / "apart", apart=True, learner=failing())
    assert inside.processing_errors == 1
    dead = (tmp_path / "apart" / "dead.jsonl").read_bytes()
    assert dead == (tmp_path / "in" / "dead.jsonl").read_bytes()
    assert b"ZeroDivisionError in the learn stage" in dead
    for name in OUTPUTS:
        assert (tmp_path / "apart" / name).read_bytes() == (tmp_path / "in" / name).read_bytes()
    same_stats(inside, apart)


@pytest.fixture
def alarm() -> Iterator[None]:
    """A replay that hangs fails the test after a minute instead."""

    def hung(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError("the replay hung")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.usefixtures("alarm")
def test_a_dead_learning_process_fails_the_replay(days: Path, tmp_path: Path) -> None:
    # in the child: it is killed as a machine out of memory would
    learner = breaking(300, lambda: os.kill(os.getpid(), signal.SIGKILL))
    with pytest.raises(LearningProcessDied, match="learning process"):
        replayed(days, tmp_path / "apart", apart=True, learner=learner)


def test_without_fork_it_runs_in_process(
    days: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(learning_process, "available", lambda: False)
    parent = os.getpid()
    learner = Learner(RULES, CONFIG)
    on_paid = learner.on_paid
    pids: set[int] = set()

    def where(event: Any, outcome: Any, **kw: Any) -> Any:
        pids.add(os.getpid())
        return on_paid(event, outcome, **kw)

    setattr(learner, "on_paid", where)  # noqa: B010
    stats, _, _ = replayed(days, tmp_path / "apart", apart=True, learner=learner)
    assert pids == {parent} and stats.learning["orders_total"] > 0


def test_the_command_runs_it_apart_unless_told(
    days: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from riskmon.cli import app

    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join((days / "events.jsonl").read_bytes().splitlines(True)[:1500]))
    started: list[int] = []
    start = learning_process.LearningProcess.start

    def spied(self: learning_process.LearningProcess) -> None:
        start(self)
        started.append(self.pid or 0)

    monkeypatch.setattr(learning_process.LearningProcess, "start", spied)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    for name, extra in (("apart", []), ("in", ["--learning-in-process"])):
        out = tmp_path / name
        out.mkdir()
        result = CliRunner().invoke(
            app,
            [
                "replay",
                *("--events", str(events), "--catalog", str(days / "catalog.jsonl")),
                *("--labels", str(days / "labels.jsonl"), "--learning"),
                *("--alerts-out", str(out / "alerts.jsonl")),
                *("--decisions-out", str(out / "decisions.jsonl")),
                *("--dead-letter-out", str(out / "dead.jsonl")),
                *("--scores-out", str(out / "scores.jsonl")),
                *extra,
            ],
        )
        assert result.exit_code == 0, result.output
        assert len(started) == 1  # the first run only
    for name in OUTPUTS:
        assert (tmp_path / "apart" / name).read_bytes() == (tmp_path / "in" / name).read_bytes()


def test_forked_beside_an_open_store_and_a_metrics_server(
    days: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child is forked after the store's connection and the /metrics thread exist: it
    never uses them and leaves without closing them, so the parent's store is written whole
    and its metrics are served to the end (checked by hand on PostgreSQL too: the same rows)."""
    import sqlalchemy
    from typer.testing import CliRunner

    from riskmon.cli import app

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setenv("RISKMON_DATABASE_URL", f"sqlite:///{tmp_path}/store.db")
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join((days / "events.jsonl").read_bytes().splitlines(True)[:2500]))
    result = CliRunner().invoke(
        app,
        [
            "replay",
            *("--events", str(events), "--catalog", str(days / "catalog.jsonl")),
            *("--labels", str(days / "labels.jsonl"), "--learning", "--store"),
            *("--metrics-port", "0", "--alerts-out", str(tmp_path / "alerts.jsonl")),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "stored" in result.output
    alerts = {line for line in (tmp_path / "alerts.jsonl").read_bytes().splitlines() if line}
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path}/store.db")
    with engine.connect() as connection:
        stored = connection.execute(sqlalchemy.text("select count(*) from alerts")).scalar_one()
    assert alerts and stored == len(alerts)
