"""The performance figures (绩效) of a simulated month agree with the ledgers to the fen, and the
daily report shows them with a chart."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from conftest import replay_into
from sqlalchemy import Engine, select

from console.auth import User
from console.verdicts import give
from reports import migrate
from reports.bureau import make
from reports.bureau_figures import MONEY, figures, split
from reports.bureau_words import word
from reports.db import open_engine
from reports.frames import read_decisions, read_fund, read_sales
from reports.labels import TOTAL
from reports.period import Period
from reports.rows import CLAWBACK, GRANT, HOLD, REJECT
from reports.tables import alert_orders, alerts
from schemas.rules import ProgrammeRules
from simulation.generator import generate

MONTH = Period(date(2026, 7, 1), date(2026, 7, 30))
KINDS = {GRANT: "granted", HOLD: "held", REJECT: "refused", CLAWBACK: "clawed_back"}


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory, rules: ProgrammeRules) -> Iterator[Engine]:
    """Thirty simulated days replayed into a store; the refund alerts confirmed by an analyst."""
    folder = tmp_path_factory.mktemp("month")
    generate(7, MONTH.days, folder, events_per_day=300)
    engine = open_engine(f"sqlite:///{folder}/store.db")
    migrate.upgrade(engine)
    replay_into(engine, folder, rules)
    with engine.begin() as connection:
        ids = connection.execute(
            select(alerts.c.alert_id).where(alerts.c.detector == "refund_arbitrage")
        ).scalars()
        for alert_id in ids:
            give(
                connection,
                User("lead-01", "supervisor"),
                alert_id,
                "confirm",
                "",
                timezone=ZoneInfo("Asia/Shanghai"),
            )
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def found(month: Engine) -> pd.DataFrame:
    return figures(month, MONTH)


def test_the_money_agrees_with_the_fund_ledger_to_the_fen_per_programme_and_day(
    month: Engine, found: pd.DataFrame
) -> None:
    fund = read_fund(month, until=MONTH.end)
    fund["column"] = fund["kind"].map(KINDS)
    ledger = fund.pivot_table(
        index=["programme", "day"], columns="column", values="amount", aggfunc="sum", fill_value=0
    )
    ours = found.groupby(["programme", "day"])[list(KINDS.values())].sum()
    assert len(ledger) > 40 and ledger.to_numpy().sum() > 0
    pd.testing.assert_frame_equal(
        ours.sort_index(),
        ledger[list(KINDS.values())].sort_index(),
        check_names=False,
        check_dtype=False,
    )
    assert (found["net"] == found["granted"] + found["held"] - found["clawed_back"]).all()


def test_sales_orders_and_consumers_agree_with_the_sales_ledger(
    month: Engine, found: pd.DataFrame
) -> None:
    sales = read_sales(month, MONTH)
    allowed = read_decisions(month, MONTH).set_index("order_id")["allowed_subsidy"]
    sales["subsidised"] = sales["order_id"].map(allowed).fillna(0) > 0
    key = ["programme", "category", "day"]
    expected = sales[sales["subsidised"]].groupby(key)["amount"].sum()
    ours = found.set_index(key)["sales"]
    assert (ours[ours > 0].sort_index() == expected[expected > 0].sort_index()).all()
    assert int(ours.sum()) == int(expected.sum()) > 0
    orders = sales.groupby(key)["order_id"].nunique()
    assert (found.set_index(key)["orders"].loc[orders.index] == orders).all()
    consumers = sales[sales["subsidised"]].groupby(key)["consumer"].nunique()
    assert (found.set_index(key)["consumers"].loc[consumers.index] == consumers).all()
    # everyone is new on the first day; no one is new twice in a programme
    first_day = found[found["day"] == MONTH.start]
    assert (first_day["new_consumers"] == first_day["consumers"]).all()
    subsidised = sales[sales["subsidised"]]
    people = subsidised.groupby("programme")["consumer"].nunique()
    firsts = found.groupby("programme")["new_consumers"].sum()
    assert (firsts >= people).all()  # a mixed basket's person is new in each category that day


def test_recovered_is_the_claw_backs_of_orders_of_confirmed_alerts(
    month: Engine, found: pd.DataFrame
) -> None:
    with month.connect() as connection:
        confirmed = set(
            connection.execute(
                select(alert_orders.c.order_id)
                .join(alerts, alerts.c.alert_id == alert_orders.c.alert_id)
                .where(alerts.c.detector == "refund_arbitrage")
            ).scalars()
        )
    fund = read_fund(month, until=MONTH.end)
    expected = fund[(fund["kind"] == CLAWBACK) & fund["order_id"].isin(confirmed)]["amount"].sum()
    assert int(found["recovered"].sum()) == int(expected) > 0


def test_the_month_adds_up_to_the_progress_reports_spend(
    month: Engine, found: pd.DataFrame, rules: ProgrammeRules
) -> None:
    report = make("daily", month, rules, Period(MONTH.end, MONTH.end), "en", source="test")
    progress = report.section("progress").frame
    totals = progress[progress["budget_line"] == "total"].set_index("programme")["used"]
    for programme, used in totals.items():
        assert int(found[found["programme"] == programme]["net"].sum()) == int(used)


def test_the_daily_report_shows_the_figures_with_a_chart(
    month: Engine, rules: ProgrammeRules, tmp_path: Path
) -> None:
    day = Period(date(2026, 7, 15), date(2026, 7, 15))
    report = make("daily", month, rules, day, "zh", source="test")
    section = report.section(word("performance", "zh")).frame
    totals = section[section[word("pf_category", "zh")] == word("total", "zh")]
    one_day = figures(month, day)
    for money in ("sales", "granted", "net"):
        assert int(totals[word(f"pf_{money}", "zh")].sum()) == int(one_day[money].sum())
    assert report.charts[-1].key == "chart_performance"
    assert report.charts[-1].png.startswith(b"\x89PNG")
    from reports.render import write

    (page,) = write(report, "html", tmp_path / "daily.html")
    assert word("performance", "zh") in page.read_text(encoding="utf-8")
    assert TOTAL not in page.read_text(encoding="utf-8")


def test_an_amount_is_split_to_the_fen_whatever_the_weights() -> None:
    for amount, weights in [(1, [1, 1, 1]), (99_99, [3, 3, 4]), (-1001, [1, 2]), (10, [0, 5])]:
        parts = split(amount, weights)
        assert sum(parts) == amount and len(parts) == len(weights)
    assert MONEY[0] == "sales"
