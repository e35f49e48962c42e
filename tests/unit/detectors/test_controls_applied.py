"""Controls (contract v1.1): block, hold, pause, allow and lift, from their effective time on
(issue 16, item 1). The stages apply the same records from the decide log:
tests/unit/streams/test_controls_streaming.py; the real broker: tests/integration."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from factories import CATALOG, h, item, line, paid, ts

from detectors.pipeline import Pipeline
from detectors.store import MemoryStore
from schemas.catalog import CATALOG_ADAPTER
from schemas.controls import Control
from schemas.decode import DecodeError, decode_control, decode_order
from schemas.outputs import Origin, dumps
from schemas.rules import load_rules

RULES = load_rules()


def control(kind: str, key: str, action: str, *, at: float = 0.0, **over: Any) -> Control:
    record = {
        "schema_version": 1,
        "control_id": f"c-{kind}-{action}-{at:g}",
        "kind": kind,
        "key": key,
        "action": action,
        "reason": "incident 17, fake orders confirmed",
        "author": "lead-01",
        "issued_at": ts(at),
        "effective_from": ts(at),
        "expires_at": None,
        **over,
    }
    return decode_control(orjson.dumps(record))


def pipeline(*controls: Control) -> Pipeline:
    p = Pipeline(RULES, MemoryStore())
    for entry in CATALOG:
        p.on_catalog(CATALOG_ADAPTER.validate_json(line(entry)))
    for c in controls:
        p.on_control(c)
    return p


def decide(p: Pipeline, event: dict[str, Any]) -> dict[str, Any]:
    raw = line(event)
    outcome = p.on_order(decode_order(raw), raw, Origin("orders"))
    assert outcome.decision is not None
    decision = orjson.loads(dumps(outcome.decision))  # as the topic carries it
    return {**decision, "alerts": [a.detector for a in outcome.alerts]}


def test_a_merchant_blocked_from_a_time_has_every_later_order_rejected() -> None:
    p = pipeline(control("merchant", "M0001", "block", at=2))
    before = decide(p, paid("a", at=1))
    after = decide(p, paid("b", at=3))
    assert (before["decision"], before["allowed_subsidy"], before["reasons"]) == (
        "approve",
        500,
        [],
    )
    assert (after["decision"], after["allowed_subsidy"]) == ("reject", 0)
    assert after["reasons"] == ["control:c-merchant-block-2"]


def test_a_block_refuses_even_an_order_that_claims_nothing() -> None:
    p = pipeline(control("device", "dv-z", "block"))
    assert decide(p, paid("z", at=1, subsidy="0.00"))["decision"] == "reject"


def test_a_hold_sends_the_order_to_review_with_its_subsidy_kept() -> None:
    p = pipeline(control("consumer", h("id:held"), "hold"))
    found = decide(p, paid("held", at=1))
    assert (found["decision"], found["allowed_subsidy"]) == ("review", 500)
    assert found["reasons"] == ["control:c-consumer-hold-0"]


def test_a_paused_budget_line_grants_nothing_more_and_takes_no_quota() -> None:
    pause = control("budget_line", "featured_goods/digital", "pause", at=2)
    p = pipeline(pause)
    assert decide(p, paid("early", at=1))["allowed_subsidy"] == 500
    late = decide(p, paid("late", at=3))
    assert (late["decision"], late["allowed_subsidy"]) == ("reject", 0)
    assert "control:c-budget_line-pause-2" in late["reasons"]
    fridge = item("SKU-FR-1", "refrigerator", "5000.00", grade=1)
    cold = decide(p, paid("cold", at=4, items=[fridge], subsidy="1000.00"))
    assert cold["decision"] == "approve"  # other lines go on
    lifted = pipeline(pause, control("budget_line", "featured_goods/digital", "lift", at=5))
    assert decide(lifted, paid("late", at=6))["decision"] == "approve"  # the quota was not taken


def test_a_paused_programme_refuses_every_order_of_it() -> None:
    p = pipeline(control("programme", "featured_goods", "pause", at=1))
    assert decide(p, paid("x", at=2))["decision"] == "reject"


def test_a_lifted_or_expired_control_stops_applying() -> None:
    block = control("merchant", "M0001", "block", at=1)
    lift = control("merchant", "M0001", "lift", at=3)
    p = pipeline(block, lift)
    assert decide(p, paid("a", at=2))["decision"] == "reject"
    assert decide(p, paid("b", at=4))["decision"] == "approve"
    expiring = control("merchant", "M0001", "block", at=1, expires_at=ts(3))
    q = pipeline(expiring)
    assert decide(q, paid("c", at=2))["decision"] == "reject"
    assert decide(q, paid("d", at=4))["decision"] == "approve"


def test_an_allowed_pickup_station_raises_no_address_alerts() -> None:
    station = h("addr:station")
    shared = {"delivery__address_hash": station}
    ring = [paid(f"r{n}", at=n * 0.5, **shared) for n in range(5)]
    plain = pipeline()
    alerts = [d["alerts"] for d in (decide(plain, e) for e in ring)]
    assert any("address_ring" in a for a in alerts)  # without the control: a ring
    allowed = pipeline(control("address", station, "allow"))
    assert not any("address_ring" in d["alerts"] for d in (decide(allowed, e) for e in ring))


@pytest.mark.parametrize(
    "change",
    [
        {"action": "pause", "kind": "merchant"},  # pause is for programmes and lines
        {"kind": "consumer", "key": "not-a-pseudonym"},
        {"reason": ""},
        {"expires_at": "2026-07-01T00:00:00+08:00", "effective_from": "2026-07-02T00:00:00+08:00"},
    ],
)
def test_a_malformed_control_is_refused_whole(change: dict[str, Any]) -> None:
    record = {
        "schema_version": 1,
        "control_id": "c-1",
        "kind": "merchant",
        "key": "M0001",
        "action": "block",
        "reason": "r",
        "author": "lead-01",
        "issued_at": ts(0),
        "effective_from": ts(0),
        "expires_at": None,
        **change,
    }
    with pytest.raises(DecodeError):
        decode_control(orjson.dumps(record))
