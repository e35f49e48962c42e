"""Money follows the decision and the verdict: a hold alert freezes a granted order, a dismissal
releases it (when nothing else holds it), a confirmation forfeits it; the claim, the holds list
and the reconciliation read the same states, to the fen."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest
from factories import PHONE, Run, h, item, later, paid
from sqlalchemy import Engine, select
from store_checks import write_bill
from test_store_writer import feed
from typer.testing import CliRunner

from console.auth import User
from console.verdicts import give
from detectors.alerts import Alert
from reports.claim import make_claim
from reports.fund_moves import FundError, order_money, release
from reports.fund_states import CLAWED_BACK, FORFEITED, GRANTED, HELD, RELEASED
from reports.holds import held_orders
from reports.observer import StoreObserver
from reports.period import Period
from reports.reconcile import STATUSES, read_bill, reconcile
from reports.rows import FORFEIT, FREEZE, RELEASE
from reports.tables import audit, fund_ledger
from reports.writer import StoreWriter
from riskmon.cli import app
from schemas.rules import ProgrammeRules

TZ = ZoneInfo("Asia/Shanghai")
ANALYST = User("ana-01", "analyst")
SHARES = {"logistics_warehouse": Decimal("0.8334")}
DAY = Period(date(2026, 7, 6), date(2026, 7, 6))


def at(hours: float) -> datetime:
    """`hours` after the factories' orders (2026-07-06 10:00 +08:00)."""
    return datetime(2026, 7, 6, 10, 0, tzinfo=TZ) + timedelta(hours=hours)


def hold_alert(order_ids: list[str], hours: float, key: str = "dev", risk: str = "fraud") -> Alert:
    return Alert(
        detector="device_ring",
        risk=risk,
        severity="high",
        action="hold",
        entity_type="device",
        entity_key=h(key),
        order_ids=order_ids,
        raised_at=at(hours),
        event_id=f"alert-event-{key}-{hours}",
    )


def store_with(
    engine: Engine, rules: ProgrammeRules, events: list[dict[str, object]], alerts: list[Alert]
) -> None:
    observer = StoreObserver(StoreWriter(engine), rules)
    feed(Run(rules), observer, *events)
    for alert in alerts:
        observer.on_alert(alert)
    observer.close()


def verdict(engine: Engine, alert: Alert, action: str, hours: float) -> None:
    with engine.begin() as connection:
        give(connection, ANALYST, alert.alert_id, action, "checked", timezone=TZ, now=at(hours))


def state(engine: Engine, order_id: str) -> tuple[str | None, Decimal]:
    with engine.connect() as connection:
        money = order_money(connection, [order_id])[order_id]
    return money.state, Decimal(money.net) / 100


def test_hold_then_dismiss_then_claim_claims_the_order(
    new_store: Callable[[], Engine], rules: ProgrammeRules
) -> None:
    engine = new_store()
    order = paid("p1", items=[item(*PHONE)], subsidy="500.00")
    alert = hold_alert([order["order_id"]], 1)
    store_with(engine, rules, [order], [alert])
    assert state(engine, order["order_id"]) == (HELD, Decimal("500.00"))
    held = make_claim(engine, DAY, SHARES)
    assert held.lines == [] and [m.order_id for m in held.held] == [order["order_id"]]

    verdict(engine, alert, "dismiss", 2)
    assert state(engine, order["order_id"]) == (RELEASED, Decimal("500.00"))
    claim = make_claim(engine, DAY, SHARES)
    assert [(x.order_id, x.subsidy, x.cause) for x in claim.lines] == [
        (order["order_id"], 50000, "settled")
    ]
    assert claim.total == claim.public == claim.claimable_end == 50000 and claim.held == []
    with engine.connect() as connection:
        kinds = [r.kind for r in connection.execute(select(fund_ledger).order_by("booked_at"))]
        (row,) = connection.execute(select(audit).where(audit.c.action == "verdict")).all()
        moved = connection.execute(
            select(fund_ledger.c.actor, fund_ledger.c.reason).where(fund_ledger.c.kind == RELEASE)
        ).one()
    assert kinds == ["grant", FREEZE, RELEASE]
    assert orjson.loads(row.detail)["fund"] == [
        {"order_id": order["order_id"], "move": RELEASE, "from": HELD, "amount": "500.00"}
    ]
    assert moved.actor == ANALYST.name and moved.reason.startswith("dismiss of alert")


def test_hold_then_confirm_is_not_claimed_and_the_recovery_is_listed(
    new_store: Callable[[], Engine], rules: ProgrammeRules
) -> None:
    engine = new_store()
    order = paid("p1", items=[item(*PHONE)], subsidy="500.00")
    store_with(engine, rules, [order], [])
    day1 = make_claim(engine, DAY, SHARES)  # claimed on its day, paid out
    assert day1.total == 50000
    # a day later a ring alert holds it and an analyst confirms it
    alert = hold_alert([order["order_id"]], 24)
    store_with(engine, rules, [], [alert])
    verdict(engine, alert, "confirm", 25)
    assert state(engine, order["order_id"]) == (FORFEITED, Decimal("500.00"))
    day2 = make_claim(engine, Period(date(2026, 7, 7), date(2026, 7, 7)), SHARES)
    assert [(x.order_id, x.subsidy, x.cause) for x in day2.lines] == [
        (order["order_id"], -50000, FORFEITED)
    ]
    assert [m.order_id for m in day2.forfeited] == [order["order_id"]]
    assert [x.order_id for x in day2.recoveries] == [order["order_id"]]
    assert day2.recovery(order["order_id"]) == 50000
    both = make_claim(engine, Period(date(2026, 7, 6), date(2026, 7, 7)), SHARES)
    assert both.lines == [] and both.total == 0  # never claimed over the two days
    assert [m.order_id for m in both.forfeited] == [order["order_id"]]


def test_a_held_order_never_forfeited_owes_no_recovery_and_a_confirm_moves_it_once(
    new_store: Callable[[], Engine], rules: ProgrammeRules
) -> None:
    engine = new_store()
    order = paid("p1", items=[item(*PHONE)], subsidy="500.00")
    alert = hold_alert([order["order_id"]], 1)
    store_with(engine, rules, [order], [alert, alert])  # a redelivered alert freezes once
    verdict(engine, alert, "confirm", 2)
    claim = make_claim(engine, DAY, SHARES)
    assert claim.lines == [] and claim.recoveries == [] and len(claim.forfeited) == 1
    with engine.connect() as connection:
        kinds = sorted(r.kind for r in connection.execute(select(fund_ledger)))
    assert kinds == sorted(["grant", FREEZE, FORFEIT])


def test_a_dismissal_releases_only_what_nothing_else_holds(
    new_store: Callable[[], Engine], rules: ProgrammeRules
) -> None:
    engine = new_store()
    order = paid("p1", items=[item(*PHONE)], subsidy="500.00")
    first, second = hold_alert([order["order_id"]], 1, "a"), hold_alert([order["order_id"]], 2, "b")
    store_with(engine, rules, [order], [first, second])
    verdict(engine, first, "dismiss", 3)
    assert state(engine, order["order_id"])[0] == HELD  # the second alert still holds it
    verdict(engine, second, "dismiss", 4)
    assert state(engine, order["order_id"])[0] == RELEASED


def test_a_budget_alert_moves_no_money(
    new_store: Callable[[], Engine], rules: ProgrammeRules
) -> None:
    engine = new_store()
    order = paid("p1", items=[item(*PHONE)], subsidy="500.00")
    alert = hold_alert([order["order_id"]], 1, risk="budget")
    store_with(engine, rules, [order], [alert])
    verdict(engine, alert, "confirm", 2)
    assert state(engine, order["order_id"])[0] == GRANTED


def test_a_supervisor_releases_a_held_order_with_a_reason_and_nothing_else(
    new_store: Callable[[], Engine], rules: ProgrammeRules
) -> None:
    engine = new_store()
    order = paid("p1", items=[item(*PHONE)], subsidy="500.00")
    other = paid("p2", items=[item(*PHONE)], subsidy="500.00")
    store_with(engine, rules, [order, other], [hold_alert([order["order_id"]], 1)])
    with engine.begin() as connection:
        with pytest.raises(FundError, match="needs a reason"):
            release(connection, order["order_id"], "cli:lead", " ", at(2), TZ)
        with pytest.raises(FundError, match="not held"):
            release(connection, other["order_id"], "cli:lead", "why not", at(2), TZ)
        with pytest.raises(FundError, match="no money"):
            release(connection, "PS-NONE", "cli:lead", "why not", at(2), TZ)
        move = release(connection, order["order_id"], "cli:lead", "merchant verified", at(2), TZ)
    assert move["move"] == RELEASE and state(engine, order["order_id"])[0] == RELEASED


def test_holds_are_listed_once_older_than_their_age(
    new_store: Callable[[], Engine], rules: ProgrammeRules
) -> None:
    engine = new_store()
    order = paid("p1", items=[item(*PHONE)], subsidy="500.00")
    store_with(engine, rules, [order], [hold_alert([order["order_id"]], 1)])
    age = timedelta(hours=72)
    assert held_orders(engine, at(1 + 71.9), age) == []
    (old,) = held_orders(engine, at(1 + 72.1), age)
    assert old.order_id == order["order_id"] and old.net == 50000
    assert held_orders(engine, at(0.5), timedelta(0)) == []  # not held yet then


def test_the_holds_and_claim_commands(
    new_store: Callable[[], Engine],
    rules: ProgrammeRules,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = new_store()
    order = paid("p1", items=[item(*PHONE)], subsidy="500.00")
    store_with(engine, rules, [order], [hold_alert([order["order_id"]], 1)])
    monkeypatch.setenv("RISKMON_DATABASE_URL", str(engine.url))
    runner = CliRunner()
    listed = runner.invoke(
        app, ["holds", "list", "--lang", "en", "--at", at(80).isoformat()], terminal_width=200
    )
    assert listed.exit_code == 0, listed.output
    assert "Orders held over 72 h: 1, 500.00 yuan" in listed.output
    assert order["order_id"] in listed.output
    young = runner.invoke(app, ["holds", "list", "--at", at(50).isoformat()])
    assert "冻结超过 72 小时的订单:0 笔" in young.output
    refused = runner.invoke(app, ["holds", "release", "PS-NONE", "--reason", "x"])
    assert refused.exit_code == 2 and "no money" in refused.output
    done = runner.invoke(app, ["holds", "release", order["order_id"], "--reason", "verified"])
    assert done.exit_code == 0, done.output
    with engine.connect() as connection:
        row = connection.execute(select(audit).where(audit.c.action == "fund_release")).one()
        booked = connection.execute(
            select(fund_ledger.c.actor).where(fund_ledger.c.kind == RELEASE)
        ).scalar_one()
    assert row.actor.startswith("cli:") and booked == row.actor and row.target == order["order_id"]
    out = tmp_path / "claim.csv"
    claimed = runner.invoke(
        app, ["claim", "--from", "2026-07-01", "--to", "2026-12-31", "--out", str(out)]
    )
    assert claimed.exit_code == 0, claimed.output
    with out.open(encoding="utf-8-sig") as handle:
        (line,) = list(csv.DictReader(handle))
    assert line["订单号"] == order["order_id"] and line["补贴(元)"] == "500.00"
    for suffix in ("xlsx", "html"):
        written = runner.invoke(
            app,
            [
                "claim",
                "--from",
                "2026-07-01",
                "--to",
                "2026-07-31",
                "--out",
                str(out.with_suffix(f".{suffix}")),
            ],
        )
        assert written.exit_code == 0, written.output


def test_reconcile_gives_each_bill_line_its_status(
    new_store: Callable[[], Engine],
    rules: ProgrammeRules,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = new_store()
    orders = {name: paid(name, items=[item(*PHONE)], subsidy="500.00") for name in "ABCDEF"}
    refund = later(orders["D"], "order_refunded", at=3, refund="1000.00")
    held = hold_alert([orders["E"]["order_id"]], 1, "e")
    forfeit = hold_alert([orders["F"]["order_id"]], 1, "f")
    store_with(engine, rules, [*orders.values(), refund], [held, forfeit])
    verdict(engine, forfeit, "confirm", 2)
    left = state(engine, orders["D"]["order_id"])[1]  # part of it given back
    assert 0 < left < Decimal("500.00")
    kept = int(left * 100)
    bill = [
        (orders["A"]["order_id"], Decimal("500.00")),  # payable
        (orders["B"]["order_id"], Decimal("499.99")),  # under_claimed
        (orders["C"]["order_id"], Decimal("500.01")),  # over_claimed
        (orders["D"]["order_id"], Decimal("500.00")),  # refunded_but_claimed
        (orders["E"]["order_id"], Decimal("500.00")),  # held
        (orders["F"]["order_id"], Decimal("500.00")),  # forfeited
        ("PS-NOT-IN-STORE", Decimal("88.88")),  # unknown_order
        (orders["A"]["order_id"], Decimal("500.00")),  # duplicate_claim
    ]
    write_bill(tmp_path / "bill.csv", bill)
    result = reconcile(engine, read_bill(tmp_path / "bill.csv"))
    statuses = [(x["status"], x["payable"]) for x in result.lines]
    assert statuses == [
        ("payable", 50000),
        ("under_claimed", 49999),
        ("over_claimed", 50000),
        ("refunded_but_claimed", kept),
        ("held", 0),
        ("forfeited", 0),
        ("unknown_order", 0),
        ("duplicate_claim", 0),
    ]
    assert {s for s, _ in statuses} == set(STATUSES)
    assert result.payable == 50000 + 49999 + 50000 + kept
    monkeypatch.setenv("RISKMON_DATABASE_URL", str(engine.url))
    out = tmp_path / "lines.csv"
    run = CliRunner().invoke(
        app, ["reconcile", "--bill", str(tmp_path / "bill.csv"), "--out", str(out), "--lang", "en"]
    )
    assert run.exit_code == 0, run.output
    total = f"{(Decimal(149999 + kept) / 100):,.2f}"
    assert f"payable ¥{total}" in " ".join(run.output.split())
    with out.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["order_id"], r["claimed_subsidy"], r["status"], r["payable"]) for r in rows] == [
        (o, str(c), s, f"{Decimal(p) / 100:.2f}")
        for (o, c), (s, p) in zip(bill, statuses, strict=True)
    ]
    zh = CliRunner().invoke(app, ["reconcile", "--bill", str(tmp_path / "bill.csv")])
    assert zh.exit_code == 0 and f"应付 ¥{total}" in " ".join(zh.output.split())


def test_a_refund_of_everything_is_clawed_back_and_never_claimed(
    new_store: Callable[[], Engine], rules: ProgrammeRules
) -> None:
    engine = new_store()
    order = paid("p1", items=[item(*PHONE)], subsidy="500.00")
    cancel = later(order, "order_cancelled", at=1)
    store_with(engine, rules, [order, cancel], [])
    assert state(engine, order["order_id"]) == (CLAWED_BACK, Decimal("0.00"))
    assert make_claim(engine, DAY, SHARES).lines == []
    with engine.connect() as connection:
        reasons = {r.kind: (r.actor, r.reason) for r in connection.execute(select(fund_ledger))}
    assert reasons["clawback"] == ("riskmon", "order_cancelled")


def test_an_alert_stored_before_its_orders_still_holds_them(
    new_store: Callable[[], Engine], rules: ProgrammeRules
) -> None:
    engine = new_store()
    order = paid("p1", items=[item(*PHONE)], subsidy="500.00")
    early = paid("p2", items=[item(*PHONE)], subsidy="500.00")
    cancel = later(early, "order_cancelled", at=0.5)
    alert = hold_alert([order["order_id"], early["order_id"]], 1)
    run = Run(rules)
    store_with(engine, rules, [], [alert])  # the watch stage wrote first
    decided = StoreObserver(StoreWriter(engine), rules)
    feed(run, decided, order, early)
    decided.close()
    assert state(engine, order["order_id"])[0] == HELD
    assert state(engine, early["order_id"])[0] == HELD  # what the store knew then
    # its cancellation, before the alert in event time but written after: all of it is back
    cancelled = StoreObserver(StoreWriter(engine), rules)
    feed(run, cancelled, cancel)
    cancelled.close()
    assert state(engine, early["order_id"]) == (CLAWED_BACK, Decimal("0.00"))
    with engine.connect() as connection:
        frozen = connection.execute(
            select(fund_ledger.c.order_id).where(fund_ledger.c.kind == FREEZE)
        ).scalars()
        assert sorted(frozen) == sorted([order["order_id"], early["order_id"]])
