"""Writing the store: what SQLAlchemy would store, idempotent by id, claw-backs spread as the
budget does, and an async API for the streaming runtime."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from factories import CATALOG, Run, item, later, line, paid
from sqlalchemy import Engine, func, insert, select

from reports.observer import StoreObserver
from reports.rows import COLUMNS, Batch
from reports.tables import TABLES, decisions, fund_ledger, sales_ledger
from reports.writer import StoreWriter
from schemas.decode import decode_order
from schemas.outputs import Origin
from schemas.rules import ProgrammeRules

FRIDGE = ("SKU-FR-1", "refrigerator", "5000.00")
PHONE = ("SKU-PH-1", "mobile_phone", "4999.00")


def feed(run: Run, observer: StoreObserver, *events: dict[str, Any]) -> None:
    """Events through the pipeline, the observer called as the replay calls it."""
    for event in events:
        raw = line(event)
        parsed = decode_order(raw)
        outcome = run.pipeline.on_order(parsed, raw, Origin("orders"))
        if outcome.status != "processed":
            continue
        if outcome.decision is not None:
            observer.on_decided(parsed, outcome)  # type: ignore[arg-type]
        else:
            observer.on_later(parsed, outcome)  # type: ignore[arg-type]
        for alert in outcome.alerts:
            observer.on_alert(alert)


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            t.name: connection.execute(select(func.count()).select_from(t)).scalar_one()
            for t in TABLES
        }


def test_rows_read_back_exactly_and_are_stored_as_sqlalchemy_stores_them(
    new_store: Callable[[], Engine], rules: ProgrammeRules
) -> None:
    engine, reference = new_store(), new_store()
    observer = StoreObserver(StoreWriter(engine), rules)
    order = paid("p1", items=[item(*PHONE)], subsidy="500.00")
    feed(Run(rules), observer, order)
    observer.close()
    with engine.connect() as connection:
        row = connection.execute(select(decisions)).one()._asdict()
    assert row["allowed_subsidy"] == Decimal("500.00")
    assert row["decided_at"] == datetime(2026, 7, 6, 2, 0, tzinfo=UTC)
    assert row["day"] == date(2026, 7, 6)
    assert row["consumer"] == order["consumer"]["id_hash"]
    # the same values through SQLAlchemy's own INSERT give the same stored text
    with reference.begin() as connection:
        connection.execute(insert(decisions), [row])
    raw = "SELECT * FROM decisions"
    with engine.connect() as a, reference.connect() as b:
        assert a.exec_driver_sql(raw).all() == b.exec_driver_sql(raw).all()


def test_writing_the_same_events_twice_changes_nothing(
    new_store: Callable[[], Engine], rules: ProgrammeRules
) -> None:
    engine = new_store()
    order = paid("p2", items=[item(*PHONE)])
    refund = later(order, "order_refunded", at=2, refund="1000.00")
    for _ in range(2):  # a redelivery, as a fresh pipeline sees it
        observer = StoreObserver(StoreWriter(engine), rules)
        feed(Run(rules), observer, order, refund)
        observer.close()
        first = counts(engine)
    assert first["decisions"] == 1 and first["fund_ledger"] == 2 and first["sales_ledger"] == 1


def test_a_partial_refund_of_a_mixed_basket_is_spread_as_the_budget_spreads_it(
    new_store: Callable[[], Engine], rules: ProgrammeRules
) -> None:
    engine = new_store()
    run = Run(rules)
    observer = StoreObserver(StoreWriter(engine), rules, batch_rows=1)  # every row its own batch
    basket = [item(*PHONE), item(*FRIDGE, grade=1)]
    order = paid("p3", items=basket, subsidy="1500.00")
    refund = later(order, "order_refunded", at=5, refund="3333.33")
    feed(run, observer, order, refund)
    observer.close()
    used = {k: Decimal(v["used"]) for k, v in run.store.table("budget").items() if "/" in k}
    with engine.connect() as connection:
        entries = connection.execute(
            select(fund_ledger.c.budget_line, fund_ledger.c.kind, fund_ledger.c.amount)
        ).all()
    spent: dict[str, Decimal] = {}
    for budget_line, kind, amount in entries:
        sign = {"grant": 1, "hold": 1, "clawback": -1}.get(kind, 0)
        key = f"featured_goods/{budget_line}"
        spent[key] = spent.get(key, Decimal(0)) + sign * amount
    assert spent == used
    assert {kind for _, kind, _ in entries} == {"grant", "clawback"}
    assert sum(1 for _, kind, _ in entries if kind == "clawback") == 2  # one per line


def test_the_sales_ledger_takes_the_catalogs_energy_grade(
    new_store: Callable[[], Engine], rules: ProgrammeRules
) -> None:
    from schemas.decode import decode_catalog

    engine = new_store()
    observer = StoreObserver(StoreWriter(engine), rules)
    for entry in CATALOG:
        observer.on_catalog(decode_catalog(line(entry)))
    # the order line states no grade; the catalog registered grade 1
    feed(Run(rules), observer, paid("p4", items=[item(*FRIDGE)], subsidy="1000.00"))
    observer.close()
    with engine.connect() as connection:
        grade = connection.scalar(select(sales_ledger.c.energy_grade))
    assert grade == 1


def test_an_async_caller_has_its_batches_written_in_a_worker_thread(
    new_store: Callable[[], Engine], rules: ProgrammeRules
) -> None:
    engine = new_store()
    writer = StoreWriter(engine)
    threads: list[str] = []
    write = writer.write

    def recording(batch: Batch, builder: Any = None) -> None:
        threads.append(threading.current_thread().name)
        write(batch, builder)

    writer.write = recording  # type: ignore[method-assign]
    observer = StoreObserver(writer, rules, autoflush=False, batch_rows=1)
    feed(Run(rules), observer, paid("p5"), paid("p6"))
    assert observer.pending == 6  # nothing written yet: two decisions, sales rows and grants

    async def main() -> str:
        await observer.aflush()
        return threading.current_thread().name

    loop_thread = asyncio.run(main())
    assert observer.pending == 0 and counts(engine)["decisions"] == 2
    assert len(threads) == 1 and threads[0] != loop_thread


def test_a_write_that_fails_in_the_worker_thread_is_raised_at_close(
    new_store: Callable[[], Engine], rules: ProgrammeRules
) -> None:
    writer = StoreWriter(new_store())

    def broken(batch: Batch, builder: Any = None) -> None:
        raise RuntimeError("disk full")

    writer.write = broken  # type: ignore[method-assign]
    observer = StoreObserver(writer, rules, batch_rows=1)
    feed(Run(rules), observer, paid("p7"))  # the first row's batch goes to the thread
    with pytest.raises(RuntimeError, match="disk full"):
        observer.close()


def test_an_empty_batch_is_no_transaction(new_store: Callable[[], Engine]) -> None:
    writer = StoreWriter(new_store())
    writer.write(Batch())
    assert writer.rows_written == 0
    assert set(COLUMNS) == {t.name for t in TABLES}
