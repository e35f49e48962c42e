"""Retention: a dry run first (counts, nothing changed, recorded), then `apply` anonymises the
orders, alerts and complaints past their period and deletes the audit rows and deliveries past
theirs, in one recorded run; the money and the reports' counts are untouched; the audit trail
refuses any other deletion still."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import Filled
from sqlalchemy import Engine, delete, func, insert, select
from sqlalchemy.exc import DBAPIError

from console import audit as trail
from reports import retention
from reports.backup import digest
from reports.bureau_config import Retention
from reports.bureau_figures import figures
from reports.bureau_tables import complaint_events, complaints, retention_runs
from reports.db import open_engine
from reports.frames import read_fund
from reports.period import Period
from reports.tables import alerts, audit, decisions, sales_ledger

CST = ZoneInfo("Asia/Shanghai")
PSEUDONYM = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")
NOW = datetime(2030, 1, 10, tzinfo=UTC)
# a year for personal data, two for the audit trail: the two simulated days (2026-07) are past
# the first, audit rows of 2027 past the second, those of 2029 within it
PERIODS = Retention(
    orders_days=365, alerts_days=365, complaints_days=365, audit_days=730, deliveries_days=730
)


@pytest.fixture
def store(filled: Filled, tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "store.db"
    shutil.copy(str(filled.engine.url.database), path)
    engine = open_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        for year in (2027, 2029):
            trail.record(connection, "ana-1", "login", at=datetime(year, 3, 1, tzinfo=UTC))
        complaint_id = connection.execute(
            insert(complaints)
            .values(
                kind="complaint",
                party="consumer",
                channel="phone",
                category="refund",
                identity_masked="138****5678",
                identity_hash="ab" * 32,
                summary="late refund",
                status="closed",
                created_at=datetime(2026, 7, 2, tzinfo=UTC),
                created_by="ana-1",
                answer_due_at=datetime(2026, 7, 3, tzinfo=UTC),
            )
            .returning(complaints.c.complaint_id)
        ).scalar_one()
        connection.execute(
            insert(complaint_events).values(
                complaint_id=complaint_id,
                at=datetime(2026, 7, 2, tzinfo=UTC),
                actor="ana-1",
                action="answer",
                note="called back on the phone",
            )
        )
    yield engine
    engine.dispose()


def _people(engine: Engine) -> tuple[int, int]:
    with engine.connect() as connection:
        return (
            connection.execute(
                select(func.count(func.distinct(decisions.c.consumer)))
            ).scalar_one(),
            connection.execute(select(func.count()).select_from(audit)).scalar_one(),
        )


def test_a_dry_run_counts_and_changes_nothing_but_the_trail(store: Engine) -> None:
    before = digest(store)
    found = retention.plan(store, PERIODS, NOW, CST)
    rows = {s.kind: s.rows for s in found.steps}
    assert rows["orders"] > 1000 and rows["alerts"] > 0 and rows["complaints"] == 1
    assert rows["audit"] == 1 and rows["deliveries"] == 0
    retention.record_dry_run(store, found, "cli:ops")
    after = digest(store)
    assert {t: n for t, n in after.rows.items() if t != "audit"} == {
        t: n for t, n in before.rows.items() if t != "audit"
    }
    assert after.rows["audit"] == before.rows["audit"] + 1


def test_apply_anonymises_and_deletes_what_is_past_and_keeps_the_money_and_counts(
    store: Engine,
) -> None:
    days = Period(datetime(2026, 7, 1).date(), datetime(2026, 7, 2).date())
    figures_before = figures(store, days)
    fund_before = read_fund(store)
    people_before, _ = _people(store)
    done = retention.apply(store, PERIODS, NOW, CST, "cli:ops")
    assert {s.kind: s.rows for s in done.steps}["audit"] == 1

    with store.connect() as connection:
        consumers = connection.execute(select(decisions.c.consumer)).scalars().all()
        consumers += connection.execute(select(sales_ledger.c.consumer)).scalars().all()
        texts = [
            f"{k} {e}"
            for k, e in connection.execute(select(alerts.c.entity_key, alerts.c.evidence))
        ]
        complaint = connection.execute(select(complaints)).one()
        notes = connection.execute(select(complaint_events.c.note)).scalars().all()
        years = sorted(a.year for a in connection.execute(select(audit.c.at)).scalars())
        run = connection.execute(select(retention_runs)).one()
    assert all(c.startswith("anon-") for c in consumers)
    assert not any(PSEUDONYM.search(t) for t in texts)
    assert (complaint.identity_masked, complaint.identity_hash) == ("***", None)
    assert complaint.summary == retention.REMOVED and notes == [""]
    assert 2027 not in years and 2029 in years  # the 2027 login is gone, the 2029 one kept
    assert run.state == "done"

    # one person is still one person: the figures and the money are unchanged
    people_after, _ = _people(store)
    assert people_after == people_before
    assert figures(store, days).equals(figures_before)
    assert read_fund(store).equals(fund_before)

    again = retention.apply(store, PERIODS, NOW + timedelta(days=1), CST, "cli:ops")
    assert {s.kind: s.rows for s in again.steps} == {
        "orders": 0,
        "alerts": 0,
        "complaints": 0,
        "audit": 0,
        "deliveries": 0,
    }


def test_the_audit_trail_still_refuses_a_deletion_outside_a_retention_run(store: Engine) -> None:
    with pytest.raises(DBAPIError, match="append-only"), store.begin() as connection:
        connection.execute(delete(audit).where(audit.c.at < datetime(2028, 1, 1, tzinfo=UTC)))
    # inside a run, only what is older than its cut-off
    with pytest.raises(DBAPIError, match="append-only"), store.begin() as connection:
        connection.execute(
            insert(retention_runs).values(
                at=NOW,
                actor="x",
                state="applying",
                audit_before=datetime(2028, 1, 1, tzinfo=UTC),
                detail="{}",
            )
        )
        connection.execute(delete(audit))  # the 2029 row is within the period
    assert _people(store)[1] == 2
