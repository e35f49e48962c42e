"""The learner as a runtime drives it: deterministic for a seed, restored mid-stream it carries
on exactly as one that never stopped, and its checkpoint is data that runs no code."""

from __future__ import annotations

import dataclasses
import struct
import zlib
from pathlib import Path
from typing import Any

import orjson
import pytest
from factories import line, paid

from detectors.alerts import Alert
from detectors.learning import Learner, LearningConfig, codec
from detectors.learning.codec import CheckpointError
from detectors.pipeline import DUPLICATE, Outcome, Pipeline
from detectors.store import MemoryStore
from replay import Replay
from replay.learning import LearningRun
from schemas.decode import decode_label, decode_order
from schemas.labels import Label
from schemas.rules import load_rules
from simulation.generator import generate

RULES = load_rules()
# small enough for a few days: every learning detector gets to speak
# (lower quantiles, settled on fewer scores, and the classifier eased faster: 6 days give about
# 600 verdicts, where a month gives thousands; with 4 days' 400, once it no longer weighed the
# address's identities nor the programme's minimum, it had not learnt enough to speak)
CONFIG = LearningConfig(
    seed=11,
    warmup_orders=400,
    min_labels=40,
    anomaly_quantile=0.98,
    edge_quantile=0.99,
    verdicts_half=100,
    classifier_threshold=0.9,
)
Call = tuple[str, Any, Any]


class Recorder:
    """Stands in for a learner in a replay and keeps the calls, to play them again."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.last = Learner(RULES, CONFIG).last
        self.given: dict[int, dict[str, Any]] = {}  # id of the event -> the times handed over

    def on_catalog(self, entry: Any) -> None:
        self.calls.append(("catalog", entry, None))

    def on_paid(self, event: Any, outcome: Outcome, **kw: Any) -> list[Alert]:
        self.calls.append(("paid", event, outcome))
        self.given[id(event)] = kw
        return []

    def on_later(self, event: Any, outcome: Outcome, **kw: Any) -> list[Alert]:
        self.calls.append(("later", event, outcome))
        self.given[id(event)] = kw
        return []

    def on_label(self, label: Label) -> None:
        self.calls.append(("label", label, None))

    def quality(self) -> dict[str, float]:
        return {}


@pytest.fixture(scope="module")
def calls(tmp_path_factory: pytest.TempPathFactory) -> list[Call]:
    folder: Path = tmp_path_factory.mktemp("learner-sim")
    generate(5, 6, folder, events_per_day=2500, unnamed=True, labels=True)
    recorder = Recorder()
    run = LearningRun(recorder, folder / "labels.jsonl")  # type: ignore[arg-type]
    Replay(RULES, learning=run).run(folder / "events.jsonl", catalog=folder / "catalog.jsonl")
    GIVEN.update(recorder.given)
    return recorder.calls


GIVEN: dict[int, dict[str, Any]] = {}  # what the replay handed over with each event, by id


def play(
    learner: Learner, calls: list[Call], given: dict[int, dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """The learner's alerts over `calls` (with `given`, the times the decide half computed)."""
    alerts: list[Alert] = []
    given = given or {}
    for kind, payload, outcome in calls:
        if kind == "catalog":
            learner.on_catalog(payload)
        elif kind == "paid":
            alerts.extend(learner.on_paid(payload, outcome, **given.get(id(payload), {})))
        elif kind == "later":
            alerts.extend(learner.on_later(payload, outcome, **given.get(id(payload), {})))
        else:
            learner.on_label(payload)
    return [a.record() for a in alerts]


def test_the_times_the_decide_half_hands_over_change_nothing(calls: list[Call]) -> None:
    """The replay hands the learner each event's time and account age as the decide half
    computed them (pydantic's `timestamp()` costs a microsecond each): the same alerts and the
    same state, bit for bit, as the learner computing them itself."""
    assert sum(1 for kw in GIVEN.values() if kw.get("account_age") is not None) > 1000
    own, handed = Learner(RULES, CONFIG), Learner(RULES, CONFIG)
    assert play(own, calls) == play(handed, calls, GIVEN)
    assert own.checkpoint() == handed.checkpoint()


def test_every_learning_detector_speaks_in_the_recorded_stream(calls: list[Call]) -> None:
    alerts = play(Learner(RULES, CONFIG), calls)
    assert {a["detector"] for a in alerts} >= {"anomaly", "classifier", "edge_burst"}
    for alert in alerts:
        assert alert["action"] == "review" and 0.0 <= alert["score"] <= 1.0
        # every learning alert names the features that drove it, each beside its typical value
        drivers = alert["evidence"]["drivers"]
        assert drivers, alert
        for driver in drivers:
            assert set(driver) == {"feature", "value", "typical"}, driver
            assert driver["value"] != driver["typical"], driver
        if alert["detector"] == "anomaly":
            assert alert["risk"] == "fraud"


def test_a_legit_verdict_quiets_the_entitys_repeats(calls: list[Call]) -> None:
    """An analyst who calls an alerted order legit hears no more of its consumer (nor its
    device, account, phone) from the models; the rest of the stream is not silenced."""
    loud = play(Learner(RULES, CONFIG), calls)
    by_consumer: dict[str, list[dict[str, Any]]] = {}
    for alert in loud:
        if alert["entity"]["type"] == "consumer":
            by_consumer.setdefault(alert["entity"]["key"], []).append(alert)
    repeated = [a for a in by_consumer.values() if len({x["order_ids"][0] for x in a}) > 1]
    assert repeated, "the recorded stream has a consumer alerted on twice"
    first = repeated[0][0]
    order_id = first["order_ids"][0]
    at = next(n for n, c in enumerate(calls) if c[0] == "paid" and c[1].order_id == order_id)
    verdict = decode_label(
        orjson.dumps(
            {
                "schema_version": 1,
                "order_id": order_id,
                "label": "legit",
                "labelled_at": calls[at][1].occurred_at.isoformat(),
                "analyst": "analyst-01",
            }
        )
    )
    learner = Learner(RULES, CONFIG)
    quiet = play(learner, [*calls[: at + 1], ("label", verdict, None), *calls[at + 1 :]])
    later = [a for a in quiet if a["raised_at"] > first["raised_at"]]
    assert not [a for a in later if a["entity"] == first["entity"]]
    assert learner.counts["quieted"] >= len(repeated[0]) - 1
    assert len(quiet) >= 0.8 * len(loud)  # others still heard


def test_same_seed_same_alerts_and_same_checkpoint(calls: list[Call]) -> None:
    first, second = Learner(RULES, CONFIG), Learner(RULES, CONFIG)
    assert play(first, calls) == play(second, calls)
    assert first.checkpoint() == second.checkpoint()
    other = Learner(RULES, dataclasses.replace(CONFIG, seed=12))
    play(other, calls)
    assert other.checkpoint() != first.checkpoint()


def test_a_learner_restored_mid_stream_carries_on_as_if_it_never_stopped(
    calls: list[Call],
) -> None:
    middle = len(calls) // 2
    steady = Learner(RULES, CONFIG)
    play(steady, calls[:middle])
    expected = play(steady, calls[middle:])

    stopped = Learner(RULES, CONFIG)
    play(stopped, calls[:middle])
    blob = stopped.checkpoint()
    restarted = Learner.restore(RULES, CONFIG, blob)
    assert restarted.checkpoint() == blob  # the state read back is the state written
    assert play(restarted, calls[middle:]) == expected
    assert restarted.checkpoint() == steady.checkpoint()
    assert restarted.quality() == steady.quality()
    assert expected  # the second half does raise alerts


def test_restore_refuses_other_settings_but_takes_new_thresholds(calls: list[Call]) -> None:
    learner = Learner(RULES, CONFIG)
    play(learner, calls[:2000])
    blob = learner.checkpoint()
    with pytest.raises(CheckpointError, match="edge_width"):
        Learner.restore(RULES, dataclasses.replace(CONFIG, edge_width=1 << 12), blob)
    looser = dataclasses.replace(CONFIG, classifier_threshold=0.9, edge_threshold=3.0)
    assert Learner.restore(RULES, looser, blob).config.edge_threshold == 3.0
    assert Learner.restore(RULES, None, blob).config == CONFIG


def test_a_checkpoint_is_data_and_names_only_river_classes() -> None:
    with pytest.raises(CheckpointError, match="not a riskmon"):
        codec.loads(b"pickle!")
    with pytest.raises(CheckpointError, match="version"):
        codec.loads(codec.MAGIC + bytes([99]) + b"")
    with pytest.raises(CheckpointError, match="corrupt"):
        codec.loads(codec.MAGIC + bytes([codec.VERSION]) + b"not zlib")
    hostile = {"$o": "os.system", "id": 0, "s": {}}
    doc = orjson.dumps(hostile)
    blob = codec.MAGIC + bytes([codec.VERSION]) + zlib.compress(struct.pack(">Q", len(doc)) + doc)
    with pytest.raises(CheckpointError, match="outside river"):
        codec.loads(blob)
    with pytest.raises(CheckpointError, match="outside river"):
        codec.dumps({"x": Path(".")})
    call = {"$call": "river.datasets.Shuttle", "id": 0, "args": {"$t": []}, "state": None}
    doc = orjson.dumps(call)
    blob = codec.MAGIC + bytes([codec.VERSION]) + zlib.compress(struct.pack(">Q", len(doc)) + doc)
    with pytest.raises(CheckpointError, match="may not build"):
        codec.loads(blob)


def test_what_was_not_decided_is_not_learnt() -> None:
    learner = Learner(RULES, CONFIG)
    event = decode_order(line(paid()))
    assert learner.on_paid(event, DUPLICATE) == []  # type: ignore[arg-type]
    assert learner.quality()["orders_total"] == 0
    outcome = Pipeline(RULES, MemoryStore()).decide(event, line(paid()), None)  # type: ignore[arg-type]
    assert learner.on_paid(event, outcome) == []  # type: ignore[arg-type]
    assert learner.quality()["orders_total"] == 1
    learner.on_label(
        decode_label(
            b'{"schema_version": 1, "order_id": "never-seen", "label": "fraud", '
            b'"labelled_at": "2026-07-08T10:00:00+08:00", "analyst": "a-1"}'
        )
    )
    assert learner.quality()["labels_unmatched"] == 1


def test_a_burst_is_evidence_only_when_it_joins_identities() -> None:
    """One consumer's own burst, an attribute only they use and an address (a pickup point's,
    an office's reception desk) are the programme's permitted use or shared by design
    (docs/learning.md): no edge alert of its own."""
    from detectors.learning.learner import _coordinated

    order = decode_order(line(paid()))
    shared = {"device_ids": 3.0, "payment_ids": 1.0, "address_ids": 4.0, "phone_ids": 1.0}
    assert not _coordinated(order, shared, -1)  # the consumer's own node
    assert _coordinated(order, shared, 0)  # a device three identities use
    assert not _coordinated(order, shared, 1)  # a payment account only they use
    assert not _coordinated(order, shared, 2)  # an address four receive at: the rules' count
    at_pickup = order.model_copy(
        update={"delivery": order.delivery.model_copy(update={"pickup_point": True})}
    )
    assert not _coordinated(at_pickup, shared, 2)


def test_a_verdict_on_an_order_scored_before_the_warm_up_leaves_the_anomaly_threshold(
    calls: list[Call],
) -> None:
    """Before the stage is warm its scores are no comparisons (their scale still moves): a
    `legit` verdict on such an order must not set the floor legit verdicts give the anomaly
    threshold (on a small month that floor was 7.5, above every honest score after the warm-up,
    and the stage never spoke). The verdict still teaches the classifier and the edge threshold."""
    labelled = {c[1].order_id for c in calls if c[0] == "label"}
    at = next(
        n for n, c in enumerate(calls[:200]) if c[0] == "paid" and c[1].order_id not in labelled
    )
    event = calls[at][1]
    verdict = decode_label(
        orjson.dumps(
            {
                "schema_version": 1,
                "order_id": event.order_id,
                "label": "legit",
                "labelled_at": event.occurred_at.isoformat(),
                "analyst": "analyst-01",
            }
        )
    )
    plain, told = Learner(RULES, CONFIG), Learner(RULES, CONFIG)
    play(plain, calls)
    play(told, [*calls[: at + 1], ("label", verdict, None), *calls[at + 1 :]])
    assert told.warm_at is not None and event.occurred_at.timestamp() < told.warm_at
    assert told.verdicts.learnt == plain.verdicts.learnt + 1
    assert (
        told.thresholds["edge_burst"].legit.count == plain.thresholds["edge_burst"].legit.count + 1
    )
    assert told.thresholds["anomaly"].legit.count == plain.thresholds["anomaly"].legit.count
