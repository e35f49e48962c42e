"""The stages on eight `orders` partitions, interleaved, give the replay's answers, models and all.

The decide stage sees the partitions' orders interleaved otherwise than the file has them, a
batch at a time; the watching detectors and the online models are fed in event-time order in
both runtimes (detectors/sequence.py, streams/ordering.py), so their alerts are the replay's.
In process (tests/unit/streams/inprocess.py), seconds; tests/integration/test_streaming.py
holds the same on the real broker.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from inprocess import Log, Worker, feed, outputs

from detectors.learning import DETECTORS, Learner, LearningConfig
from detectors.products import Catalog
from replay import Replay
from replay.learning import LearningRun
from schemas.decode import decode_catalog
from schemas.rules import load_rules
from simulation.generator import generate
from streams.clients import message_key
from streams.messages import DECIDE_TOPIC, headers_of

RULES = load_rules()


# four days: lower quantiles, which settle on fewer honest scores, so that the models speak
CONFIG = LearningConfig(warmup_orders=400, anomaly_quantile=0.98, edge_quantile=0.99)


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("week")
    generate(11, 4, folder, events_per_day=1800, unnamed=True, labels=True)
    return folder


def flagged(found: dict[str, Any], learning_only: bool = False) -> set[str]:
    out: set[str] = set()
    for alert in found["alerts"].values():
        if learning_only and alert["detector"] not in DETECTORS:
            continue
        if alert["action"] != "notify":
            out.update(alert["order_ids"])
    if not learning_only:
        out.update(k for k, d in found["decisions"].items() if d["decision"] != "approve")
    return out


def replayed(folder: Path) -> dict[str, Any]:
    run = LearningRun(Learner(RULES, CONFIG), folder / "labels.jsonl")
    Replay(RULES, learning=run).run(
        folder / "events.jsonl",
        catalog=folder / "catalog.jsonl",
        alerts_out=folder / "alerts.jsonl",
        decisions_out=folder / "decisions.jsonl",
    )
    alerts = [orjson.loads(x) for x in (folder / "alerts.jsonl").read_bytes().splitlines()]
    decisions = [orjson.loads(x) for x in (folder / "decisions.jsonl").read_bytes().splitlines()]
    return {
        "alerts": {a["alert_id"]: a for a in alerts},
        "decisions": {d["order_id"]: d for d in decisions},
    }


def streamed(folder: Path, batch: int) -> dict[str, Any]:
    log = Log()
    for raw in (folder / "labels.jsonl").read_bytes().splitlines():  # the labels stage's output
        log.append(DECIDE_TOPIC, 0, None, raw, headers_of("label"))
    lines = [x for x in (folder / "events.jsonl").read_bytes().splitlines() if x.strip()]
    feed(log, lines, lambda raw: message_key("orders", raw))
    catalog = Catalog()
    for raw in (folder / "catalog.jsonl").read_bytes().splitlines():
        catalog.add(decode_catalog(raw))
    worker = Worker(log, RULES, catalog=catalog, learning=CONFIG, batch=batch)
    asyncio.run(worker.run())
    return outputs(log)


@pytest.mark.parametrize("batch", [25, 400])
def test_interleaved_partitions_flag_the_orders_the_replay_flags(week: Path, batch: int) -> None:
    replay = replayed(week)
    live = streamed(week, batch)
    assert live["decisions"].keys() == replay["decisions"].keys()
    learnt = flagged(replay, learning_only=True)
    assert learnt, "the models raise alerts on this set"
    assert flagged(live, learning_only=True) == learnt
    assert flagged(live) == flagged(replay)
    by_detector = Counter(a["detector"] for a in replay["alerts"].values())
    assert Counter(a["detector"] for a in live["alerts"].values()) == by_detector
