"""The simulator: deterministic, complete, honest where it says so, and free of raw identifiers."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from schemas.decode import decode_catalog, decode_order
from schemas.orders import OrderPaid
from schemas.pseudonyms import looks_like_raw_identifier
from simulation.generator import generate
from simulation.patterns import Patterns

ALL_PATTERNS = {
    "ineligible_consumer",
    "ineligible_product",
    "wrong_subsidy",
    "quota_breach",
    "split_orders",
    "identity_ring_address",
    "identity_ring_device",
    "identity_ring_phone",
    "identity_ring_payment",
    "account_farm",
    "refund_arbitrage",
    "refund_cycling",
    "qualification_reuse",
    "qualification_trading",
    "pickup_pipeline",
    "merchant_fake_orders",
    "price_inflation",
}
COHORTS = {
    "regular",
    "logistics",
    "repeat_local",
    "family",
    "office",
    "pickup_station",
    "rebuy_after_cancel",
    "mixed_basket",
    "no_subsidy",
    "late_payment",
    "at_limits",
    "newcomers",
}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    generate(3, 3, out, events_per_day=1500, bad_lines=4)
    return out


def test_same_seed_same_bytes(small: Path, tmp_path: Path) -> None:
    generate(3, 3, tmp_path, events_per_day=1500, bad_lines=4)
    for name in ("events.jsonl", "catalog.jsonl", "truth.jsonl"):
        assert (tmp_path / name).read_bytes() == (small / name).read_bytes()


def test_every_pattern_and_cohort_is_present(small: Path) -> None:
    truth = [orjson.loads(line) for line in (small / "truth.jsonl").read_bytes().splitlines()]
    assert {t["pattern"] for t in truth if t["label"] == "fraud"} == ALL_PATTERNS
    assert {t["cohort"] for t in truth if t["label"] == "legit"} == COHORTS
    assert set(Patterns.all.__code__.co_consts) >= ALL_PATTERNS  # the registry names them all


def test_every_line_is_valid_but_the_planted_bad_ones(small: Path) -> None:
    bad = 0
    for raw in (small / "events.jsonl").read_bytes().splitlines():
        try:
            decode_order(raw)
        except ValueError:
            bad += 1
    assert bad == 4
    for raw in (small / "catalog.jsonl").read_bytes().splitlines():
        decode_catalog(raw)


def test_money_adds_up(small: Path) -> None:
    for raw in (small / "events.jsonl").read_bytes().splitlines():
        try:
            event = decode_order(raw)
        except ValueError:
            continue
        if isinstance(event, OrderPaid):
            assert event.payment.paid_amount == event.order_amount - event.subsidy_amount
            assert event.payment.paid_amount >= 0


def test_honest_people_stay_within_their_quotas(small: Path) -> None:
    truth = {
        t["order_id"]: t
        for t in map(orjson.loads, (small / "truth.jsonl").read_bytes().splitlines())
    }
    units: dict[tuple[str, str], int] = defaultdict(int)
    weekly: dict[tuple[str, str], int] = defaultdict(int)
    daily: dict[tuple[str, str], int] = defaultdict(int)
    released: set[str] = set()
    lines = (small / "events.jsonl").read_bytes().splitlines()
    for raw in lines:
        try:
            event = decode_order(raw)
        except ValueError:
            continue
        if event.event_type in ("order_cancelled", "order_refunded"):
            released.add(event.order_id)
    seen: set[str] = set()
    for raw in lines:
        try:
            event = decode_order(raw)
        except ValueError:
            continue
        if not isinstance(event, OrderPaid) or event.order_id in seen:
            continue
        seen.add(event.order_id)
        t = truth[event.order_id]
        if (
            t["label"] != "legit"
            or event.subsidy_amount == 0
            or t["cohort"] == "rebuy_after_cancel"
        ):
            continue
        who = event.consumer.id_hash
        local = event.occurred_at
        if event.programme == "logistics_warehouse":
            daily[(who, local.date().isoformat())] += 1
            continue
        # a mixed basket's second line is one the rules do not subsidise: it takes no quota
        lines = event.items[:1] if t["cohort"] == "mixed_basket" else event.items
        for item in lines:
            if item.category == "local_specialty":
                weekly[(who, "{}-{}".format(*local.isocalendar()[:2]))] += 1
            elif event.order_id not in released:
                units[(who, item.category)] += item.quantity
    assert max(daily.values()) <= 3
    assert max(weekly.values()) <= 5
    over = {k: n for k, n in units.items() if n > (3 if k[1] == "air_conditioner" else 1)}
    assert over == {}


def test_no_raw_identifier_anywhere(small: Path) -> None:
    for name in ("events.jsonl", "catalog.jsonl", "truth.jsonl"):
        text = (small / name).read_text(encoding="utf-8", errors="replace")
        assert not looks_like_raw_identifier(text), name


def test_expected_subsidy_is_two_decimals(small: Path) -> None:
    for raw in (small / "truth.jsonl").read_bytes().splitlines():
        value = Decimal(str(orjson.loads(raw)["expected_subsidy"]))
        assert value == value.quantize(Decimal("0.01"))


def test_honest_orders_stop_claiming_once_the_budget_line_is_spent(tmp_path: Path) -> None:
    from replay import Replay
    from schemas.rules import DEFAULT_RULES_PATH, load_rules
    from simulation.evaluate import evaluate

    text = DEFAULT_RULES_PATH.read_text(encoding="utf-8")
    small = text.replace("budget = 10000000", "budget = 20000", 1)
    assert small != text
    rules_path = tmp_path / "rules.toml"
    rules_path.write_text(small, encoding="utf-8")
    summary = generate(5, 2, tmp_path, events_per_day=1500, rules_path=rules_path)
    assert summary.full_price > 0
    engine = Replay(load_rules(rules_path))
    engine.run(
        tmp_path / "events.jsonl",
        catalog=tmp_path / "catalog.jsonl",
        alerts_out=tmp_path / "a.jsonl",
        decisions_out=tmp_path / "d.jsonl",
    )
    ev = evaluate(tmp_path / "truth.jsonl", tmp_path / "a.jsonl", tmp_path / "d.jsonl")
    assert ev.subsidy_mismatches == [] and sum(ev.false_positives.values()) == 0


def test_labels_on_a_random_sample_of_the_orders(tmp_path: Path) -> None:
    """`label_sample`: verdicts on that share of every paid order, late, fraud at its rate in
    the orders (not the alert queue's richer share); the events' bytes the same either way."""
    queue, sample = tmp_path / "queue", tmp_path / "sample"
    generate(4, 6, queue, events_per_day=800, unnamed=True, labels=True)
    generate(4, 6, sample, events_per_day=800, unnamed=True, labels=True, label_sample=0.3)
    assert (queue / "events.jsonl").read_bytes() == (sample / "events.jsonl").read_bytes()
    truth = [orjson.loads(r) for r in (sample / "truth.jsonl").read_bytes().splitlines()]
    verdicts = [orjson.loads(r) for r in (sample / "labels.jsonl").read_bytes().splitlines()]
    assert 0.25 < len(verdicts) / len(truth) < 0.35
    fraud_rate = sum(t["label"] == "fraud" for t in truth) / len(truth)
    sampled_rate = sum(v["label"] == "fraud" for v in verdicts) / len(verdicts)
    queued = [orjson.loads(r) for r in (queue / "labels.jsonl").read_bytes().splitlines()]
    queued_rate = sum(v["label"] == "fraud" for v in queued) / len(queued)
    assert abs(sampled_rate - fraud_rate) < 0.05 < queued_rate - fraud_rate
    paid = {
        e["order_id"]: e["occurred_at"]
        for e in map(orjson.loads, (sample / "events.jsonl").read_bytes().splitlines())
        if e["event_type"] == "order_paid"
    }
    late = [
        (datetime.fromisoformat(v["labelled_at"]) - datetime.fromisoformat(paid[v["order_id"]]))
        for v in verdicts
    ]
    assert min(late).total_seconds() >= 47 * 3600 and max(late).days <= 7
