"""Checkout authorizations (issue 17): an answer before payment, and a reservation of what it
allows, committed by the payment, given back by a cancellation or by expiry (event time)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from factories import CATALOG, item, line, paid

from detectors.reservations import authorization_id
from detectors.store import MemoryStore
from detectors.versions import Versioned
from schemas.catalog import CATALOG_ADAPTER
from schemas.decode import decode_checkout, decode_order
from schemas.outputs import Origin, dumps
from schemas.rules import DEFAULT_RULES_PATH, load_rules, parse_rules

RULES = load_rules()
ORIGIN = Origin("orders")


def engine(rules: Any = RULES) -> Versioned:
    v = Versioned(rules, MemoryStore())
    for entry in CATALOG:
        v.on_catalog(CATALOG_ADAPTER.validate_json(line(entry)))
    return v


def checkout(event: dict[str, Any]) -> dict[str, Any]:
    return {**event, "event_type": "order_checkout", "event_id": f"ck-{event['event_id']}"}


def ask(v: Versioned, event: dict[str, Any]) -> dict[str, Any]:
    raw = line(checkout(event))
    outcome = v.authorize(decode_checkout(raw), raw, ORIGIN)
    assert outcome.authorization is not None
    return outcome.authorization


def pay(v: Versioned, event: dict[str, Any]) -> dict[str, Any]:
    raw = line(event)
    outcome = v.decide(decode_order(raw), raw, ORIGIN)
    assert outcome.decision is not None
    return {**orjson.loads(dumps(outcome.decision)), "updates": outcome.updates}


def later(v: Versioned, event: dict[str, Any]) -> Any:
    raw = line(event)
    return v.decide(decode_order(raw), raw, ORIGIN)


def test_an_approved_checkout_reserves_and_its_payment_commits_it() -> None:
    v = engine()
    order = paid("alice", at=0)
    answer = ask(v, order)
    assert answer["decision"] == "approve" and Decimal(answer["allowed_subsidy"]) == 500
    assert answer["authorization_id"] == authorization_id(f"ck-{order['event_id']}")
    assert answer["expires_at"].startswith("2026-") and len(v.reservations) == 1
    paid_later = {**order, "occurred_at": order["occurred_at"].replace(":00:00", ":10:00")}
    decision = pay(v, paid_later)
    assert (decision["decision"], decision["allowed_subsidy"]) == ("approve", 500)
    assert [u["status"] for u in decision["updates"]] == ["committed"]
    assert len(v.reservations) == 0
    budget = v.store.table("budget")["featured_goods/digital"]
    assert Decimal(budget["used"]) == 500  # once, not twice


def test_a_repeated_checkout_gets_the_same_answer_and_reserves_nothing_more() -> None:
    v = engine()
    order = paid("bob", at=0)
    first, again = ask(v, order), ask(v, order)
    assert first == again
    assert Decimal(v.store.table("budget")["featured_goods/digital"]["used"]) == 500


def test_two_checkouts_on_one_qualification_code_get_one_approval() -> None:
    v = engine()
    a = ask(v, paid("carol", at=0))
    b = ask(v, paid("dave", at=0.1, qualification={"code": "GDQ-carol", "verified": True}))
    assert a["decision"] == "approve" and b["decision"] == "reject"


def test_a_consumers_last_quota_unit_is_given_once() -> None:
    v = engine()
    first = ask(v, paid("erin", at=0))
    second = ask(v, paid("erin", at=0.1, qualification={"code": "GDQ-erin-2", "verified": True}))
    assert first["decision"] == "approve"
    assert second["decision"] != "approve" and Decimal(second["allowed_subsidy"]) == 0


def test_a_budget_line_with_room_for_n_approves_n() -> None:
    text = DEFAULT_RULES_PATH.read_text(encoding="utf-8")
    local = text.index("[programmes.featured_goods.budget_lines.local_specialty]")
    budget = text.index("budget = ", local)
    end = text.index("\n", budget)
    small = parse_rules(text[:budget] + "budget = 400" + text[end:])  # 20 yuan each: room for 20
    v = engine(small)
    answers = [
        ask(
            v,
            paid(
                f"l{n}",
                at=n * 0.01,
                items=[item("SKU-LS-1", "local_specialty", "200.00")],
                subsidy="20.00",
            ),
        )
        for n in range(30)
    ]
    assert sum(a["decision"] == "approve" for a in answers) == 20


def test_expiry_by_event_time_and_cancellation_give_the_reservation_back() -> None:
    v = engine()
    ask(v, paid("frank", at=0))
    assert len(v.reservations) == 1
    outcome = later(v, paid("other", at=0.6))  # 36 minutes on: the 30-minute hold has passed
    assert [u["status"] for u in outcome.updates] == ["expired"]
    assert Decimal(v.store.table("budget")["featured_goods/digital"]["used"]) == 500  # other's
    order = paid("gina", at=1)
    ask(v, order)
    cancel = {**order, "event_type": "order_cancelled", "event_id": "cancel-gina"}
    assert [u["status"] for u in later(v, cancel).updates] == ["released"]
    again = ask(v, paid("gina", at=1.1, order_id="O-gina-2"))  # her quota is hers again
    assert again["decision"] == "approve"


def test_a_payment_that_differs_is_decided_afresh_and_never_allowed_more() -> None:
    v = engine()
    order = paid("hugo", at=0, subsidy="300.00")
    answer = ask(v, order)
    assert Decimal(answer["allowed_subsidy"]) == 300
    more = {
        **order,
        "subsidy_amount": Decimal("500.00"),
        "payment": {**order["payment"], "paid_amount": order["payment"]["paid_amount"] - 200},
    }
    decision = pay(v, more)
    assert decision["allowed_subsidy"] == 300 and "checkout_differs" in decision["reasons"]


def test_a_payment_after_expiry_is_decided_as_without_a_checkout() -> None:
    v = engine()
    order = paid("ivy", at=0)
    ask(v, order)
    late = {**order, "occurred_at": paid("x", at=1)["occurred_at"]}
    decision = pay(v, late)
    assert decision["decision"] == "approve" and decision["allowed_subsidy"] == 500
    assert [u["status"] for u in decision["updates"]] == ["expired"]


def _same(a: Any, b: Any) -> None:
    assert type(a) is type(b)
    assert list(a.__dict__.items()) == list(b.__dict__.items())
    assert a.__pydantic_fields_set__ == b.__pydantic_fields_set__
    assert a.__pydantic_extra__ == b.__pydantic_extra__
    assert a.__pydantic_private__ == b.__pydantic_private__
    assert a == b and a.model_dump_json() == b.model_dump_json()


def test_a_checkout_as_payment_and_a_release_as_cancellation_are_as_model_construct_made() -> None:
    from datetime import UTC, datetime

    from detectors.reservations import as_paid, cancellation
    from schemas.common import construct
    from schemas.orders import ConsumerRef, OrderCancelled, OrderPaid

    ck = decode_checkout(line(checkout({**paid("p1"), "extra_field": 1})))
    assert ck.__pydantic_extra__ == {"extra_field": 1}  # kept on the checkout, not the payment
    fields = {name: getattr(ck, name) for name in type(ck).model_fields}
    _same(as_paid(ck), OrderPaid.model_construct(**{**fields, "event_type": "order_paid"}))
    order = {"programme": ck.programme, "merchant": ck.merchant_id, "consumer": "c" * 64}
    built = cancellation("P-1", order, 1.8e9, "expired")
    _same(
        built,
        OrderCancelled.model_construct(
            schema_version=1,
            event_id="expired:P-1",
            event_type="order_cancelled",
            occurred_at=datetime.fromtimestamp(1.8e9, UTC),
            order_id="P-1",
            programme=ck.programme,
            merchant_id=ck.merchant_id,
            consumer=ConsumerRef.model_construct(id_hash="c" * 64),
            refund_amount=None,
        ),
    )
    _same(built.consumer, ConsumerRef.model_construct(id_hash="c" * 64))
    # values that are not all field names go to model_construct itself
    odd = construct(ConsumerRef, {"id_hash": "c" * 64, "other": 1})
    _same(odd, ConsumerRef.model_construct(id_hash="c" * 64, other=1))


def test_reservations_are_rebuilt_from_the_orders_and_an_older_table_of_expiries_emptied() -> None:
    v = engine()
    ask(v, paid("hana", at=0))
    ask(v, paid("ivan", at=0.1))
    store = v.store
    assert "reservations" not in store.tables or not store.tables["reservations"]
    # a store saved by the release that kept expiries in a table of their own
    reserved = {k: o["reserved"]["expires"] for k, o in store.table("orders").items()}
    store.table("reservations").update(reserved)
    again = Versioned(RULES, store)  # a restore: nothing in memory
    assert len(again.reservations) == 2 and not store.table("reservations")
    outcome = later(again, paid("other", at=0.55))  # past hana's 30 minutes, not ivan's
    assert [u["status"] for u in outcome.updates] == ["expired"]
    assert len(again.reservations) == 1


def test_a_payment_reusing_a_checkouts_event_id_is_refused_as_a_reuse() -> None:
    v = engine()
    order = paid("jane", at=0)
    ask(v, order)
    assert f"ck-{order['event_id']}" not in v.store.table("seen_events")  # kept with the answer
    other = {**paid("kurt", at=0.1), "event_id": f"ck-{order['event_id']}"}
    outcome = later(v, other)
    assert outcome.status == "rejected" and outcome.decision is None
    assert [d["reason"] for d in outcome.dead_letters] == ["event_id_reused"]
