"""The Faust workers on the real (embedded) broker against the in-process replay.

- one partition: the same decisions and the same alerts (same ids, same content);
- eight partitions and two workers: the same flagged orders, the load shared;
- a worker killed with SIGKILL mid-run and started again: every paid order decided exactly
  once (reading as a consumer that drops repeated ids), no alert lost, state restored;
- a worker that has caught up decides new orders in process, without reading their frames back;
- a worker stopped and started again: its online models carry on where they were, so their
  alerts after the restart are the replay's;
- a malformed message, a 10 MB message and an unknown schema version go to the dead letters
  while the stream goes on.
"""

from __future__ import annotations

import base64
import operator
import re
import signal
import time
from collections import Counter
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import pytest

from detectors.learning import DETECTORS as LEARNING_DETECTORS
from detectors.learning import Learner, LearningConfig
from replay import Replay
from replay.learning import LearningRun
from schemas.rules import load_rules
from simulation.generator import generate
from streams.broker import free_port
from streams.local import LocalCluster, TopicReader

pytestmark = pytest.mark.integration


class Expected:
    """What the in-process replay says of a simulated set."""

    def __init__(self, folder: Path, partitions: int) -> None:
        self.folder = folder
        rules = load_rules()
        # the workers run the online models by default: the replay does too, feeding them
        # (and the watching detectors) in the order a worker reading `orders` with as many
        # partitions does (detectors/sequence.py)
        engine = Replay(
            rules,
            learning=LearningRun(Learner(rules, LearningConfig())),
            orders_partitions=partitions,
        )
        out = folder / f"replay-{partitions}"
        out.mkdir()
        stats = engine.run(
            folder / "events.jsonl",
            catalog=folder / "catalog.jsonl",
            alerts_out=out / "alerts.jsonl",
            decisions_out=out / "decisions.jsonl",
            dead_letter_out=out / "dead.jsonl",
        )
        self.alerts = _by(_lines(out / "alerts.jsonl"), "alert_id")
        self.decisions = _by(_lines(out / "decisions.jsonl"), "order_id")
        self.dead = Counter(r["reason"] for r in _lines(out / "dead.jsonl"))
        self.catalog = stats.catalog_entries  # the valid records: each one enters the table
        self.stats = stats
        self.state = engine.store
        self.flagged = flagged(self.alerts.values(), self.decisions.values())
        # the models learn from what the detectors decided: a worker killed loses what they
        # learnt since their last checkpoint, so a crash is compared on the rules' flags
        self.rules_flagged = flagged(self.alerts.values(), self.decisions.values(), rules_only=True)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sim")
    generate(5, 2, folder, events_per_day=2500, bad_lines=4, labels=True)
    return folder


@pytest.fixture(scope="module")
def expected(simulated: Path) -> Expected:
    """The replay as a worker reading one `orders` partition gives it."""
    return Expected(simulated, 1)


@pytest.fixture(scope="module")
def expected8(simulated: Path) -> Expected:
    """The replay as workers reading eight `orders` partitions give it."""
    return Expected(simulated, 8)


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                yield orjson.loads(line)


def _by(records: Any, key: str) -> dict[str, dict[str, Any]]:
    return {r[key]: r for r in records}


def flagged(alerts: Any, decisions: Any, rules_only: bool = False) -> set[str]:
    out: set[str] = set()
    for alert in alerts:
        if rules_only and alert["detector"] in LEARNING_DETECTORS:
            continue
        if alert["action"] != "notify":
            out.update(alert["order_ids"])
    out.update(d["order_id"] for d in decisions if d["decision"] != "approve")
    return out


def _start(cluster: LocalCluster, expected: Expected, workers: tuple[str, ...]) -> None:
    """The catalog, then the workers; the orders may follow at once: a worker decides no order
    before the catalog it has read is current as of the order's arrival."""
    cluster.produce(expected.folder / "catalog.jsonl", "catalog")
    for name in workers:
        cluster.start_worker(name)


def _decided(cluster: LocalCluster, expected: Expected, timeout: float = 120) -> None:
    want = len(expected.decisions)
    cluster.wait_for("decisions", lambda n: n >= want, timeout, "decisions")


def _alerts_settle(cluster: LocalCluster, minimum: int, timeout: float = 60) -> None:
    cluster.wait_for("alerts", lambda n: n >= minimum, timeout, "alerts")


def test_one_partition_gives_the_replays_alerts_and_decisions(
    expected: Expected, tmp_path: Path
) -> None:
    with LocalCluster(tmp_path, partitions=1, watch_partitions=1) as cluster:
        _start(cluster, expected, ("a",))
        cluster.produce(expected.folder / "events.jsonl", "orders")
        _decided(cluster, expected)
        _alerts_settle(cluster, len(expected.alerts))
        decisions = _by(cluster.read("decisions"), "order_id")
        alerts = _by(cluster.read("alerts"), "alert_id")
        dead = Counter(r["reason"] for r in cluster.read("dead-letter"))
    assert decisions == expected.decisions
    assert alerts.keys() == expected.alerts.keys()
    assert alerts == expected.alerts
    # later events still waiting for their payment are reported at the end of a file; a
    # stream reports them once its event time passes the grace period
    assert dead - Counter({"unmatched_order": dead["unmatched_order"]}) == expected.dead - Counter(
        {"unmatched_order": expected.dead["unmatched_order"]}
    )


def test_two_workers_on_eight_partitions_flag_the_same_orders(
    expected8: Expected, tmp_path: Path
) -> None:
    expected = expected8
    with LocalCluster(tmp_path, watch_partitions=8, worker_args=("--loglevel", "info")) as cluster:
        _start(cluster, expected, ("a", "b"))
        cluster.produce(expected.folder / "events.jsonl", "orders")
        _decided(cluster, expected)
        decisions = cluster.read("decisions")
        alerts = _until_flagged(cluster, decisions, expected.flagged, rules_only=False)
    shares = [cluster.assignment(name) for name in "ab"]
    assert all(shares) and sorted(sum(shares, [])) == list(range(8)), shares  # load shared
    assert Counter(d["order_id"] for d in decisions) == Counter(expected.decisions.keys())
    # the models' alerts too: they learn in the replay's order, whatever the interleaving
    assert flagged(alerts, decisions) == expected.flagged
    by_detector = Counter(a["detector"] for a in expected.alerts.values())
    assert Counter(a["detector"] for a in _by(alerts, "alert_id").values()) == by_detector


def test_a_killed_worker_loses_nothing_and_decides_each_order_once(
    expected8: Expected, tmp_path: Path
) -> None:
    """Killed in the middle of the first half, the second half coming after a quiet spell
    longer than a partition's idle time (3 s here): the orders appended to the partitions it
    had read to their ends are known to nobody but the broker's listing of their ends until the
    survivor takes them over, and the others' watch tickets wait for them."""
    expected = expected8
    first, second, _ = _halves(expected, tmp_path)
    env = {"RISKMON_PARTITION_IDLE_S": "3"}
    args = ("--loglevel", "info")
    with LocalCluster(tmp_path, watch_partitions=8, worker_args=args, env=env) as cluster:
        _start(cluster, expected, ("a", "b"))
        cluster.produce(first, "orders")
        cluster.wait_for("decisions", lambda n: n >= len(expected.decisions) // 5, 90, "some")
        cluster.kill_worker("b", signal.SIGKILL)  # in the middle of the first half
        time.sleep(5)
        cluster.produce(second, "orders")
        # the survivor takes everything over once the dead member's session ends; a worker
        # joining before that could be given partitions alongside the dead one on tansu
        cluster.wait_shared(("a",), 8, 60)
        cluster.start_worker("b")
        records = _until_decided(cluster, set(expected.decisions))
        alerts = _until_flagged(cluster, records, expected.rules_flagged, timeout=120)
        logs = cluster.logs(lines=400)
    contents: dict[str, set[bytes]] = {}
    for record in records:  # as a consumer that drops repeated ids reads them
        contents.setdefault(record["order_id"], set()).add(
            orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
        )
    assert contents.keys() == expected.decisions.keys()
    assert all(len(v) == 1 for v in contents.values()), "a repeated decision is the same one"
    (tmp_path / "alerts-read.jsonl").write_bytes(b"".join(orjson.dumps(a) + b"\n" for a in alerts))
    found = flagged(alerts, records, rules_only=True)
    assert expected.rules_flagged - found == set(), _lost(expected, found, logs)  # no alert lost
    assert found == expected.rules_flagged
    assert "from its changelog" in logs  # the survivor took the killed worker's state over


def _lost(expected: Expected, found: set[str], logs: str) -> str:
    """What a crash test that lost alerts has to say: which the replay raised, and what the
    workers said of their held watch tickets and their restores."""
    missing = expected.rules_flagged - found
    raised = [
        f"{a['detector']} {a['alert_id']} at {a.get('raised_at')} for {sorted(a['order_ids'])[:3]}"
        for a in expected.alerts.values()
        if missing & set(a["order_ids"])
    ]
    said = [x for x in logs.splitlines() if re.search(r"idle:|restored|assigned|not handed", x)]
    return "\n".join([f"{len(missing)} orders unflagged", *raised, *said[-40:]])


def test_a_restarted_worker_keeps_its_models(expected: Expected, tmp_path: Path) -> None:
    first, second, early = _halves(expected, tmp_path)
    port = free_port()
    with LocalCluster(
        tmp_path,
        partitions=1,
        watch_partitions=1,
        worker_args=("--checkpoint-every", "700"),  # and on stop: both slots written
        env={"RISKMON_METRICS_PORT": str(port)},
    ) as cluster:
        _start(cluster, expected, ("a",))
        cluster.produce(first, "orders")
        cluster.wait_for("decisions", lambda n: n >= len(early), 90, "first half")
        cluster.kill_worker("a", signal.SIGTERM)  # a stop: the models are checkpointed
        cluster.produce(second, "orders")
        cluster.start_worker("a")
        _decided(cluster, expected)
        _alerts_settle(cluster, len(expected.alerts))
        alerts = _by(cluster.read("alerts"), "alert_id")
        # the verdicts, once every order is in: learnt by the models in the decide stage
        labels = cluster.produce(expected.folder / "labels.jsonl", "labels")
        figures = _scrape_until(port, lambda f: f.get("labels", 0) >= labels, 60)
        logs = cluster.logs(lines=400)
    assert "restored the models of decide partition 0" in logs
    assert alerts == expected.alerts  # the models' alerts among them
    # models that had started afresh would have counted the second half only, and their
    # anomaly threshold would be another number
    assert figures["orders"] == expected.stats.learning["orders_total"]
    assert figures["threshold"] == expected.stats.learning["anomaly_threshold"]
    assert figures["labels"] == labels


def test_a_caught_up_worker_decides_new_orders_without_reading_them_back(
    expected: Expected, tmp_path: Path
) -> None:
    """Orders that come while the decide stage has applied everything before them are decided
    in process once their frame is delivered (no fetch round for the second hop); the first
    frame, before the stage has taken its partition up, is read back from riskmon-decide."""
    lines = (expected.folder / "events.jsonl").read_bytes().splitlines(keepends=True)[:200]
    port = free_port()
    chunks = 5
    with LocalCluster(
        tmp_path, partitions=1, watch_partitions=1, env={"RISKMON_METRICS_PORT": str(port)}
    ) as cluster:
        _start(cluster, expected, ("a",))
        want = 0
        for n in range(chunks):  # each once the worker has decided the one before
            chunk = lines[n * 40 : (n + 1) * 40]
            path = tmp_path / f"chunk-{n}.jsonl"
            path.write_bytes(b"".join(chunk))
            want += sum(_paid(x) in expected.decisions for x in chunk)
            cluster.produce(path, "orders")
            cluster.wait_for("decisions", partial(operator.le, want), 60, f"chunk {n}")
        figures = _scrape_until(
            port, lambda f: f.get("frames_handed", 0) + f.get("frames_read", 0) >= chunks, 30
        )
    assert figures.get("frames_read", 0) >= 1, figures
    # a frame read back before its hand-over (a fetch that came first) is allowed, once
    assert figures.get("frames_handed", 0) >= chunks - 2, figures


def test_a_stopped_worker_takes_its_models_back(expected: Expected, tmp_path: Path) -> None:
    """The models' state through a stop and a start, on its own: what they had learnt when
    the worker stopped is what they know when it starts again."""
    first, second, early = _halves(expected, tmp_path)
    with LocalCluster(tmp_path, partitions=1, watch_partitions=1) as cluster:
        _start(cluster, expected, ("a",))
        cluster.produce(first, "orders")
        cluster.wait_for("decisions", lambda n: n >= len(early), 90, "first half")
        cluster.kill_worker("a", signal.SIGTERM)  # a stop: the models are checkpointed
        cluster.produce(second, "orders")
        cluster.start_worker("a")
        log = tmp_path / "worker-a.log"
        deadline = time.monotonic() + 90
        while "restored the models" not in log.read_text():
            assert time.monotonic() < deadline, cluster.logs()
            cluster.check_workers()
            time.sleep(0.5)
    restored = re.search(r"restored the models .* \((\d+) orders learnt\)", log.read_text())
    assert restored is not None
    # every paid order of the first half, once, but for those still held at the stop (at the
    # first half's last instant: strictly before the watermark goes out), learnt when released
    assert 0 <= len(early) - int(restored.group(1)) <= 3


def _halves(expected: Expected, tmp_path: Path) -> tuple[Path, Path, set[str]]:
    """The events in two files, and the orders decided in the first."""
    events = (expected.folder / "events.jsonl").read_bytes().splitlines(keepends=True)
    half = len(events) // 2
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_bytes(b"".join(events[:half]))
    second.write_bytes(b"".join(events[half:]))
    return first, second, set(expected.decisions) & {_order_id(x) for x in events[:half]}


def _paid(line: bytes) -> str:
    """The order an `order_paid` line pays for ("" for any other line)."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return ""
    return str(record.get("order_id", "")) if record.get("event_type") == "order_paid" else ""


def _order_id(line: bytes) -> str:
    try:
        return str(orjson.loads(line).get("order_id", ""))
    except orjson.JSONDecodeError:
        return ""


def _scrape_until(port: int, done: Any, timeout: float) -> dict[str, float]:
    """The worker's learning counters (and its decide frames by path) from /metrics, once
    `done(figures)` holds."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    deadline = time.monotonic() + timeout
    figures: dict[str, float] = {}
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
                text = answer.read().decode()
        except OSError:
            time.sleep(1)
            continue
        figures = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = sample.labels
                if sample.name == "riskmon_learning_events_total" and labels["kind"] == "order":
                    figures["orders"] = sample.value
                if sample.name == "riskmon_anomaly_threshold":
                    figures["threshold"] = sample.value
                if sample.name == "riskmon_model_labels_total":
                    figures["labels"] = figures.get("labels", 0.0) + sample.value
                if sample.name == "riskmon_decide_frames_total":
                    figures[f"frames_{labels['path']}"] = sample.value
        if done(figures):
            return figures
        time.sleep(1)
    raise TimeoutError(f"learning figures on /metrics: {figures}")


def _until_flagged(
    cluster: LocalCluster,
    decisions: list[dict[str, Any]],
    want: set[str],
    timeout: float = 60,
    rules_only: bool = True,
) -> list[dict[str, Any]]:
    """The alerts, read until they flag `want` (the decide stage releases its last held watch
    tickets once its input has been quiet for a while) or the time is up."""
    deadline = time.monotonic() + timeout
    while True:
        alerts = cluster.read("alerts", idle=2)
        found = flagged(alerts, decisions, rules_only=rules_only)
        if found >= want or time.monotonic() > deadline:
            return alerts


def _until_decided(
    cluster: LocalCluster, want: set[str], timeout: float = 150
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        records = cluster.read("decisions", idle=2)
        missing = want - {r["order_id"] for r in records}
        if not missing:
            return records
        if time.monotonic() > deadline:
            # read again from the beginning: a worker that lost them, or a reader that did?
            again = TopicReader(cluster.bootstrap, "decisions")
            try:
                while again.poll(1.0):
                    pass
                seen = {orjson.loads(v)["order_id"] for v in again.values}
            finally:
                again.close()
            raise TimeoutError(
                f"{len(missing)} orders undecided ({len(missing - seen)} on a second reading)"
                f": {sorted(missing)[:5]}\n{cluster.logs()}"
            )
        cluster.check_workers()


def test_bad_messages_go_to_the_dead_letters_and_the_stream_goes_on(
    expected: Expected, tmp_path: Path
) -> None:
    good = next(_lines(expected.folder / "events.jsonl"))
    unknown = {**good, "schema_version": 99, "event_id": "e-unknown"}
    huge = b'{"pad": "' + b"x" * (10 << 20) + b'"}'
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"{broken\n" + huge + b"\n" + orjson.dumps(unknown) + b"\n")
    ok = tmp_path / "ok.jsonl"
    ok.write_bytes(orjson.dumps(good) + b"\n")
    with LocalCluster(tmp_path, partitions=1, watch_partitions=1) as cluster:
        _start(cluster, expected, ("a",))
        cluster.produce(bad, "orders")
        cluster.produce(ok, "orders")
        cluster.wait_for("decisions", lambda n: n >= 1, 60, "the good order's decision")
        cluster.wait_for("dead-letter", lambda n: n >= 3, 30, "dead letters")
        dead = cluster.read("dead-letter")
        decisions = cluster.read("decisions")
    assert [d["order_id"] for d in decisions] == [good["order_id"]]
    assert [d["reason"] for d in dead] == [
        "malformed_json",
        "too_large",
        "unsupported_schema_version",
    ]
    for offset, record in enumerate(dead):
        assert (record["topic"], record["partition"], record["offset"]) == ("orders", 0, offset)
    assert base64.b64decode(dead[1]["raw_base64"]) == huge  # kept whole, to replay once fixed


def test_a_worker_fills_the_store_as_the_replay_would(expected: Expected, tmp_path: Path) -> None:
    from sqlalchemy import func, select
    from store_checks import check_ledger_totals

    from reports.db import open_engine
    from reports.tables import alerts, decisions

    url = f"sqlite:///{tmp_path / 'store.db'}"
    with LocalCluster(
        tmp_path,
        partitions=1,
        watch_partitions=1,
        worker_args=("--store",),
        env={"RISKMON_DATABASE_URL": url},
    ) as cluster:
        _start(cluster, expected, ("a",))
        cluster.produce(expected.folder / "events.jsonl", "orders")
        _decided(cluster, expected)
        _alerts_settle(cluster, len(expected.alerts))
        engine = open_engine(url)
        deadline = time.monotonic() + 30
        with engine.connect() as connection:  # the store is written at the end of each batch
            while time.monotonic() < deadline:
                stored = connection.execute(select(func.count()).select_from(decisions)).scalar()
                if stored == len(expected.decisions):
                    break
                time.sleep(0.5)
                connection.rollback()
    try:
        with engine.connect() as connection:
            assert connection.execute(select(func.count()).select_from(decisions)).scalar() == len(
                expected.decisions
            )
            assert connection.execute(select(func.count()).select_from(alerts)).scalar() == len(
                expected.alerts
            )
        check_ledger_totals(engine, expected.stats, expected.state)  # type: ignore[arg-type]
    finally:
        engine.dispose()
