"""No single message stops a stage (issue 18): what a stage fails on goes to the dead letters.

A detector that raises on one order, a watching detector that raises on one ticket, a decoder
that raises on one message: each is dead-lettered as `processing_error` with the exception's
type (never its data), every other order is decided as in a run without it, and the state the
failure had half changed is rolled back, so a later order is decided as if it had never come.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import orjson
import pytest
from disguises import make_id
from factories import CATALOG, line, paid
from inprocess import Log, Worker, feed, outputs

from detectors.budget import Budget
from detectors.products import Catalog
from detectors.rings import IdentityRings
from schemas.catalog import CATALOG_ADAPTER
from schemas.rules import load_rules
from streams.clients import message_key
from streams.decoding import RecentOrders

# an ID number built at test time (a valid checksum; no fixture holds one)
RAW_ID = make_id(random.Random(6))

RULES = load_rules()


def orders(n: int) -> list[bytes]:
    """n consumers' orders, and a second order of consumer 0 for the same category (over the
    quota of one phone: it needs the first order's quota to have been counted)."""
    lines = [
        line(paid(f"c{i}", order_id=f"O-{i}", event_id=f"e-{i}", at=i * 0.1)) for i in range(n)
    ]
    again = paid("c0", order_id="O-again", event_id="e-again", at=n * 0.1 + 1)
    return [*lines, line(again)]


def run(lines: list[bytes]) -> tuple[Log, Worker]:
    log = Log()
    feed(log, lines, lambda raw: message_key("orders", raw))
    catalog = Catalog()
    for entry in CATALOG:
        catalog.add(CATALOG_ADAPTER.validate_json(line(entry)))
    worker = Worker(log, RULES, catalog=catalog)
    asyncio.run(worker.run())
    return log, worker


def dead(log: Log) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in log.values("dead-letter")]


def test_an_order_a_deciding_detector_fails_on_is_dead_lettered_and_leaves_no_trace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = orders(30)
    clean, _ = run([x for x in lines if b'"O-0"' not in x])
    on_paid = Budget.on_paid

    def failing(self: Budget, ctx: Any, store: Any) -> None:
        if ctx.order_id == "O-0":  # after compliance and the quota have counted it
            raise ZeroDivisionError(f"secret {RAW_ID}")
        on_paid(self, ctx, store)

    monkeypatch.setattr(Budget, "on_paid", failing)
    log, _ = run(lines)
    [record] = dead(log)
    assert record["reason"] == "processing_error"
    assert record["error"] == "ZeroDivisionError in the decide stage"  # the type, not the data
    assert orjson.loads(__import__("base64").b64decode(record["raw_base64"]))["order_id"] == "O-0"
    found, want = outputs(log), outputs(clean)
    assert found["decisions"] == want["decisions"]  # O-again decided as if O-0 never came
    assert found["decisions"]["O-again"]["decision"] == "approve"
    assert found["alerts"] == want["alerts"]


def test_a_ticket_a_watching_detector_fails_on_is_dead_lettered_and_the_rest_watched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = orders(30)
    on_paid = IdentityRings.on_paid
    calls = {"n": 0}

    def failing(self: IdentityRings, ctx: Any, store: Any) -> None:
        if ctx.order_id == "O-5":
            calls["n"] += 1
            raise KeyError("boom")
        on_paid(self, ctx, store)

    monkeypatch.setattr(IdentityRings, "on_paid", failing)
    log, _ = run(lines)
    records = dead(log)
    assert records and {r["reason"] for r in records} == {"processing_error"}
    assert {r["error"] for r in records} == {"KeyError in the watch stage"}
    assert calls["n"] >= 1
    assert len(outputs(log)["decisions"]) == 31  # every order decided


def test_a_message_the_intake_fails_on_is_dead_lettered_and_the_stream_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = orders(10)
    decode = RecentOrders.decode

    def failing(self: RecentOrders, raw: bytes, max_bytes: int) -> Any:
        if b'"O-3"' in raw:
            raise RecursionError("deep")
        return decode(self, raw, max_bytes)

    monkeypatch.setattr(RecentOrders, "decode", failing)
    log, _ = run(lines)
    [record] = dead(log)
    assert (record["reason"], record["error"]) == ("processing_error", "RecursionError in intake")
    assert set(outputs(log)["decisions"]) == {f"O-{i}" for i in range(10) if i != 3} | {"O-again"}


def test_an_order_from_the_future_of_its_record_is_refused_and_holds_nothing_back() -> None:
    lines = orders(10)
    future = paid("c-future", order_id="O-future", occurred_at="2099-01-01T00:00:00+08:00")
    log, worker = run([*lines[:5], line(future), *lines[5:]])
    [record] = dead(log)
    assert record["reason"] == "occurred_in_future"
    assert "after the record was appended" in record["error"]
    assert "O-future" not in outputs(log)["decisions"]
    assert len(outputs(log)["decisions"]) == 11
    assert all(not len(queue) for _, _, queue in worker.decide.taken_up())  # nothing held
