"""Controls and rules versions on the real broker, while orders flow (issue 16, items 1 and 2).

A worker with default settings is fed a steady stream of orders; a control is published in the
middle of it, then lifted; a rules version is published with an effective time ahead in the
stream. The decisions show each from its time on, name it, and the time from publishing a
control to the first order it changes is measured (the target is under a second).
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from factories import CATALOG, T0, jsonl, line, paid, ts

from schemas.publications import publication
from schemas.rules import DEFAULT_RULES_PATH, load_rules
from streams.clients import message_key, send
from streams.local import LocalCluster

pytestmark = pytest.mark.integration
RULES = load_rules()


def control(action: str, at: float, control_id: str) -> bytes:
    return orjson.dumps(
        {
            "schema_version": 1,
            "control_id": control_id,
            "kind": "merchant",
            "key": "M0001",
            "action": action,
            "reason": "fake orders confirmed, incident 17",
            "author": "lead-01",
            "issued_at": ts(at),
            "effective_from": ts(at),
            "expires_at": None,
        }
    )


class Feeder(threading.Thread):
    """Orders of merchant M0001, 50 a second, each 36 s of event time after the one before."""

    def __init__(self, bootstrap: str, count: int) -> None:
        super().__init__(daemon=True)
        self.bootstrap = bootstrap
        self.count = count
        self.sent: list[tuple[float, float, str]] = []  # wall time, event hours, order id
        self.stop = threading.Event()  # ends the feed early (test_controls_cli_live.py)

    def run(self) -> None:
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=0, acks=1)
        for n in range(self.count):
            if self.stop.is_set():
                break
            hours = n * 0.01
            event = paid(f"f{n}", at=hours)
            raw = line(event)
            producer.send("orders", value=raw, key=message_key("orders", raw))
            producer.flush()
            self.sent.append((time.time(), hours, event["order_id"]))
            time.sleep(0.02)
        producer.close()

    def hours_now(self) -> float:
        return self.sent[-1][1] if self.sent else 0.0


def test_controls_and_a_rules_version_apply_live_from_their_time_on(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.jsonl"
    catalog.write_bytes(jsonl(CATALOG))
    text = DEFAULT_RULES_PATH.read_text(encoding="utf-8")
    text = text.replace(f'version = "{RULES.version}"', 'version = "pingshan-2026.9"', 1)
    with LocalCluster(tmp_path, partitions=1, watch_partitions=1) as cluster:
        cluster.produce(catalog, "catalog")
        cluster.start_worker("a")
        feeder = Feeder(cluster.bootstrap, 600)
        feeder.start()
        cluster.wait_for("decisions", lambda n: n >= 100, 90, "the first orders")
        # a rules version from an event time well ahead of the stream
        version_from = feeder.hours_now() + 1.0
        record = publication(
            text, effective_from=ts(version_from), published_at=ts(0), author="cli:test"
        )
        send("rules", [orjson.dumps(record)], cluster.bootstrap)
        # a block on the merchant, from the stream's event time now
        blocked_from = feeder.hours_now()
        published = time.time()
        send("controls", [control("block", blocked_from, "c-live-1")], cluster.bootstrap)
        first_changed = _first(cluster, lambda d: "control:c-live-1" in d["reasons"], 30)
        latency = first_changed - published
        time.sleep(1.0)
        lifted_from = feeder.hours_now()
        send("controls", [control("lift", lifted_from, "c-live-2")], cluster.bootstrap)
        feeder.join(timeout=60)
        cluster.wait_for("decisions", lambda n: n >= 600, 90, "every order")
        decisions = {d["order_id"]: d for d in cluster.read("decisions")}
    print(f"control published -> first order it changed: {latency * 1000:.0f} ms")
    assert latency < 2.0, latency  # the target is 1 s; CI machines are slower than this one
    hours = {order_id: h for _, h, order_id in feeder.sent}
    for order_id, decision in decisions.items():
        h = hours[order_id]
        blocked = "control:c-live-1" in decision["reasons"]
        if h < blocked_from:
            assert not blocked, (h, decision)  # earlier orders unchanged
        if blocked:  # an order at or after the lift's time decided before it was read: blocked
            assert decision["decision"] == "reject" and blocked_from <= h < lifted_from + 0.5
        if h >= lifted_from + 0.5:
            assert decision["decision"] == "approve", (h, decision)  # the lift stops it
        version = decision["rules_version"]
        # compared as the worker compares them, as event times to the microsecond: the floats
        # n * 0.01 and hours_now() + 1.0 can differ in their last bit for the same instant
        new = T0 + timedelta(hours=h) >= T0 + timedelta(hours=version_from)
        assert version == ("pingshan-2026.9" if new else RULES.version), (h, version)
    assert any("control:c-live-1" in d["reasons"] for d in decisions.values())


def _first(cluster: LocalCluster, match: Any, timeout: float) -> float:
    """The wall time at which a decision matching `match` was first read."""
    reader = cluster.reader("decisions")
    seen = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reader.poll(0.05)
        for value in reader.values[seen:]:
            if match(orjson.loads(value)):
                return time.time()
        seen = len(reader.values)
    raise TimeoutError("no decision changed by the control")
