"""A simulated month with verdicts given during it: the fund ledger, the claim, the
reconciliation and the co-funding split agree to the fen."""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from conftest import replay_into
from sqlalchemy import Engine, select
from store_checks import ledger_sums, money_states, write_bill

from console.auth import User
from console.verdicts import give
from reports import migrate
from reports.bureau import make
from reports.bureau_config import Fund
from reports.bureau_figures import figures
from reports.bureau_package import build_package
from reports.claim import make_claim
from reports.cofunding import split_frame
from reports.db import open_engine
from reports.frames import yuan
from reports.fund_states import CLAIMABLE, FORFEITED, HELD, RELEASED, totals
from reports.period import Period
from reports.reconcile import read_bill, reconcile
from reports.rows import CLAWBACK, GRANT, HOLD
from reports.tables import alerts
from schemas.rules import ProgrammeRules
from simulation.generator import generate

MONTH = Period(date(2026, 7, 1), date(2026, 7, 30))
FIRST, SECOND = Period(MONTH.start, date(2026, 7, 15)), Period(date(2026, 7, 16), MONTH.end)
TZ = ZoneInfo("Asia/Shanghai")
AFTER = date(2026, 8, 31)  # the last events and verdicts come after the 30th
SHARES = Fund().cofunding


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory, rules: ProgrammeRules) -> Iterator[Engine]:
    """Thirty simulated days; of the alerts that hold or review orders, one in three left
    open, the others judged a day after they were raised, confirmed and dismissed in turn."""
    folder = tmp_path_factory.mktemp("fund-month")
    generate(5, MONTH.days, folder, events_per_day=300)
    engine = open_engine(f"sqlite:///{folder}/store.db")
    migrate.upgrade(engine)
    replay_into(engine, folder, rules)
    with engine.begin() as connection:
        found = connection.execute(
            select(alerts.c.alert_id, alerts.c.raised_at)
            .where(alerts.c.action.in_(("hold", "block", "review")), alerts.c.risk != "budget")
            .order_by(alerts.c.raised_at, alerts.c.alert_id)
        ).all()
        for n, (alert_id, raised_at) in enumerate(found):
            if n % 3 == 0:
                continue  # left open: its orders stay held
            give(
                connection,
                User("lead-01", "supervisor"),
                alert_id,
                "confirm" if n % 3 == 1 else "dismiss",
                "checked against the orders",
                timezone=TZ,
                now=raised_at + timedelta(days=1),
            )
    yield engine
    engine.dispose()


def test_the_ledger_the_states_and_the_claim_agree_to_the_fen(month: Engine) -> None:
    sums = ledger_sums(month)
    money = money_states(month)
    states = totals(money.values())
    net = sums[GRANT] + sums[HOLD] - sums[CLAWBACK]
    assert states[HELD] > 0 and states[FORFEITED] > 0 and states[RELEASED] > 0
    assert sum(states.values()) == net
    whole = make_claim(month, Period(MONTH.start, AFTER), SHARES)
    held = sum(m.net for m in whole.held)
    forfeited = sum(m.net for m in whole.forfeited)
    assert whole.claimable_start == 0
    assert whole.total == whole.claimable_end == sum(m.claimable for m in money.values())
    assert whole.total + held + forfeited == net
    assert all(line.subsidy > 0 for line in whole.lines)  # nothing was claimed before


def test_claims_of_successive_periods_add_up_to_the_whole(month: Engine) -> None:
    end = AFTER  # the last verdicts come a day after the last alerts
    whole = make_claim(month, Period(MONTH.start, end), SHARES)
    first = make_claim(month, FIRST, SHARES)
    second = make_claim(month, Period(SECOND.start, end), SHARES)
    per_order: dict[str, int] = defaultdict(int)
    for line in [*first.lines, *second.lines]:
        per_order[line.order_id] += line.subsidy
    assert {k: v for k, v in per_order.items() if v} == {x.order_id: x.subsidy for x in whole.lines}
    assert first.total + second.total == whole.total
    assert first.public + second.public == whole.public < whole.total  # co-funding apart
    assert first.claimable_end == second.claimable_start
    deductions = [x for x in second.lines if x.subsidy < 0]
    assert deductions, "a verdict in the second half took back money claimed in the first"
    assert sum(second.recovery(x.order_id) for x in second.recoveries) > 0


def test_reconcile_pays_exactly_the_claim(month: Engine, tmp_path: Path) -> None:
    end = AFTER
    whole = make_claim(month, Period(MONTH.start, end), SHARES)
    money = money_states(month)
    # the platform bills every order at what the ledger holds, held and forfeited included
    bill = sorted((o, yuan(m.net)) for o, m in money.items() if m.net > 0)
    write_bill(tmp_path / "bill.csv", bill)
    result = reconcile(month, read_bill(tmp_path / "bill.csv"))
    assert result.payable == whole.total
    by_status = {s: result.count(s) for s in ("payable", "held", "forfeited")}
    assert by_status["held"] == sum(1 for m in money.values() if m.state == HELD and m.net > 0)
    assert by_status["forfeited"] == sum(
        1 for m in money.values() if m.state == FORFEITED and m.net > 0
    )
    assert by_status["payable"] == sum(
        1 for m in money.values() if m.state in CLAIMABLE and m.net > 0
    )
    assert all(
        line["payable"] == 0 for line in result.lines if line["status"] in ("held", "forfeited")
    )
    # a bill of the claim's own lines is paid in whole
    write_bill(tmp_path / "claim.csv", [(x.order_id, yuan(x.subsidy)) for x in whole.lines])
    paid = reconcile(month, read_bill(tmp_path / "claim.csv"))
    assert paid.differences == [] and paid.payable == paid.billed == whole.total


def test_public_and_platform_money_add_up_to_the_logistics_ledger(month: Engine) -> None:
    split = split_frame(month, MONTH, SHARES)
    found = figures(month, MONTH)
    logistics = found[found["programme"] == "logistics_warehouse"]
    per_day = logistics.groupby("day")["net"].sum().to_dict()
    both = split.groupby("day")["net"].sum().to_dict()
    assert both == {d: v for d, v in per_day.items() if d in both} and len(both) >= 25
    public = int(split[split["source"] == "public"]["net"].sum())
    platform = int(split[split["source"] == "platform"]["net"].sum())
    assert public + platform == int(logistics["net"].sum())
    share = Decimal(platform) / Decimal(public + platform)
    assert abs(share - Decimal("0.8334")) < Decimal("0.0005")


def test_the_daily_report_shows_co_funding_and_old_holds(
    month: Engine, rules: ProgrammeRules
) -> None:
    day = Period(date(2026, 7, 20), date(2026, 7, 20))
    report = make("daily", month, rules, day, "en", source="test", fund=Fund(hold_hours=24))
    cofunding = report.section("Logistics subsidy, public and platform money")
    assert len(cofunding.frame) == 4  # the day and the total, public and platform
    holds = report.section("holds_aged")
    assert len(holds.frame) > 0
    assert (holds.frame["hours_held"] >= 24).all()  # whole hours, rounded down


def test_the_bureau_package_carries_the_days_claim(month: Engine, rules: ProgrammeRules) -> None:
    day = date(2026, 7, 20)
    package = build_package(month, rules, day, ("claim",), "zh", datetime(2026, 7, 21, tzinfo=UTC))
    ((name, data),) = package.files
    assert name == "claim-2026-07-20.xlsx"
    lines = pd.read_excel(io.BytesIO(data), sheet_name="申报明细")
    claim = make_claim(month, Period(day, day), SHARES)
    assert len(lines) == len(claim.lines) > 0
    assert round(lines["补贴(元)"].sum() * 100) == claim.total
