"""Contract-valid but extreme orders through a live worker on the real broker (issue 18, item 1):
the worker never stops, and every paid order is decided or dead-lettered with a reason.

The same strategies as the in-process property tests (tests/extremes.py): dates at the window's
ends and every offset, amounts at fourteen digits, 99 of an item, baskets of forty lines,
Unicode everywhere. One worker with default settings; the examples are drawn without shrinking
(a shrink would start a broker per attempt) and a failure prints the events as drawn.
"""

from __future__ import annotations

import os
import time

import orjson
import pytest
from extremes import paid_order_id, streams_of_events
from factories import CATALOG, jsonl
from hypothesis import HealthCheck, Phase, given, settings

from streams.local import LocalCluster

# a drawn stream is large; hypothesis warns when it builds its text (the example is its bytes)
pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning"),
]
# how many orders at most per example; RISKMON_EXTREME_LIVE_EXAMPLES examples (each a broker)
SIZE = int(os.environ.get("RISKMON_EXTREME_LIVE_SIZE", "150"))
EXAMPLES = int(os.environ.get("RISKMON_EXTREME_LIVE_EXAMPLES", "1"))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)
@given(events=streams_of_events(size=SIZE, least=SIZE))
def test_a_live_worker_decides_or_dead_letters_every_extreme_order(
    tmp_path_factory: pytest.TempPathFactory, events: list[bytes]
) -> None:
    folder = tmp_path_factory.mktemp("extremes")
    (folder / "catalog.jsonl").write_bytes(jsonl(CATALOG))
    (folder / "events.jsonl").write_bytes(b"".join(e + b"\n" for e in events))
    paid = {orjson.loads(e)["order_id"] for e in events if b'"order_paid"' in e}
    # most drawn orders pass the contract's own check (their ids may repeat: a second payment)
    assert sum(b'"order_paid"' in e for e in events) > SIZE // 2
    with LocalCluster(folder, watch_partitions=2) as cluster:
        cluster.produce(folder / "catalog.jsonl", "catalog")
        cluster.start_worker("a")
        cluster.produce(folder / "events.jsonl", "orders")
        deadline = time.monotonic() + 120
        while True:
            decided = {d["order_id"] for d in cluster.read("decisions", idle=1)}
            dead = cluster.read("dead-letter", idle=1)
            refused = {paid_order_id(d["raw_base64"]) for d in dead}
            if paid <= decided | refused or time.monotonic() > deadline:
                break
            cluster.check_workers()  # a stage that stopped ends the worker: said at once
        cluster.check_workers()
        logs = cluster.logs(lines=60)
    assert paid - (decided | refused) == set(), logs
    assert all(d["reason"] and d["error"] for d in dead)
    assert [d for d in dead if d["reason"] == "processing_error"] == [], logs
    # a paid order the contract accepts is refused only as a second payment of its order, or
    # for having happened after its record was appended (dates up to 2099: a clock gone wrong)
    why = {d["reason"] for d in dead if paid_order_id(d["raw_base64"]) in paid - decided}
    assert why <= {"duplicate_order", "event_id_reused", "occurred_in_future"}, why
