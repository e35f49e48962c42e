"""Controls through the decide stage's one sequence: a control read, then every later order
(issue 16, item 1). In process; the real broker: tests/integration/test_controls_live.py."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from factories import CATALOG, line, paid, ts
from inprocess import Log, Worker, feed, outputs

from detectors.products import Catalog
from schemas.catalog import CATALOG_ADAPTER
from schemas.rules import load_rules
from streams.clients import message_key
from streams.messages import DECIDE_TOPIC, headers_of

RULES = load_rules()


def record(kind: str, key: str, action: str, at: float, control_id: str) -> bytes:
    return orjson.dumps(
        {
            "schema_version": 1,
            "control_id": control_id,
            "kind": kind,
            "key": key,
            "action": action,
            "reason": "fake orders confirmed",
            "author": "lead-01",
            "issued_at": ts(at),
            "effective_from": ts(at),
            "expires_at": None,
        }
    )


def run(controls: list[bytes], orders: list[dict[str, Any]]) -> Log:
    log = Log()
    for raw in controls:  # as the controls agent forwards them, before the orders
        log.append(DECIDE_TOPIC, 0, None, raw, headers_of("control"))
    feed(log, [line(o) for o in orders], lambda raw: message_key("orders", raw))
    catalog = Catalog()
    for entry in CATALOG:
        catalog.add(CATALOG_ADAPTER.validate_json(line(entry)))
    asyncio.run(Worker(log, RULES, catalog=catalog).run())
    return log


def test_a_blocked_merchant_s_later_orders_are_rejected_and_earlier_unchanged() -> None:
    orders = [paid(f"b{n}", at=n) for n in range(6)]
    log = run([record("merchant", "M0001", "block", 2.5, "c-7")], orders)
    decisions = sorted(outputs(log)["decisions"].values(), key=lambda d: d["decided_at"])
    assert [d["decision"] for d in decisions] == ["approve"] * 3 + ["reject"] * 3
    assert all(d["reasons"] == ["control:c-7"] for d in decisions[3:])


def test_a_malformed_control_is_dead_lettered_and_changes_nothing() -> None:
    orders = [paid(f"m{n}", at=n) for n in range(3)]
    bad = orjson.loads(record("merchant", "M0001", "pause", 0, "c-bad"))  # pause: not a merchant's
    log = run([orjson.dumps(bad)], orders)
    found = outputs(log)
    assert [d[0] for d in found["dead"]] == ["invalid"]
    assert {d["decision"] for d in found["decisions"].values()} == {"approve"}
