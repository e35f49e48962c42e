"""After a replay of a simulated set, the ledgers hold exactly what the decisions allowed, less
the claw-backs, to the fen; a second replay of the same events changes nothing."""

from __future__ import annotations

from collections.abc import Callable

from conftest import Filled, replay_into
from sqlalchemy import Engine, select
from store_checks import check_ledger_totals, ledger_sums

from reports.backup import digest
from reports.frames import read_decisions, read_sales, store_days
from reports.ledgers import fund_with_totals
from reports.tables import decisions
from schemas.rules import ProgrammeRules


def test_ledger_totals_equal_the_allowed_subsidy_less_claw_backs(filled: Filled) -> None:
    assert filled.stats.clawed_back > 0 and filled.stats.rejected > 0  # a set that tests them
    check_ledger_totals(filled.engine, filled.stats, filled.state)


def test_every_decision_is_stored_once(filled: Filled) -> None:
    with filled.engine.connect() as connection:
        stored = connection.scalars(select(decisions.c.decision)).all()
    assert len(stored) == filled.stats.orders
    for kind, n in filled.stats.decisions.items():
        assert stored.count(kind) == n


def test_replaying_the_same_events_again_changes_nothing(
    filled: Filled, rules: ProgrammeRules, new_store: Callable[[], Engine]
) -> None:
    once = new_store()
    replay_into(once, filled.folder, rules)
    before = digest(once)
    replay_into(once, filled.folder, rules)
    assert digest(once) == before
    assert digest(filled.engine) == before  # and batch sizes do not matter


def test_the_sales_ledger_holds_every_item_of_every_order_that_claimed(filled: Filled) -> None:
    claimed = read_decisions(filled.engine)
    claimed = claimed[claimed["claimed_subsidy"] > 0]
    sales = read_sales(filled.engine)
    assert set(sales["order_id"]) == set(claimed["order_id"])
    assert sales["decision"].notna().all()
    by_order = sales.groupby("order_id")["amount"].sum()
    totals = claimed.set_index("order_id")["order_amount"]
    assert (by_order.sort_index() == totals.sort_index()).all()


def test_running_totals_end_at_what_the_ledger_spent(filled: Filled) -> None:
    days = store_days(filled.engine)
    assert days is not None
    fund = fund_with_totals(filled.engine, days)
    sums = ledger_sums(filled.engine)
    spent = sums["grant"] + sums["hold"] - sums["clawback"]
    last_of_each = fund.groupby("programme")["programme_total"].last()
    assert int(last_of_each.sum()) == spent
