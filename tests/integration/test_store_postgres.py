"""The store on the machine's real PostgreSQL: a database of its own for this module, created
and dropped at the end by `conftest.py` (RISKMON_TEST_POSTGRES names the server's admin database;
default postgresql://postgres@127.0.0.1:5432/test, trust auth)."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.engine import make_url
from store_checks import check_ledger_totals, injected_bill

from console import audit as trail
from console.auth import add_user
from detectors.store import MemoryStore
from replay import Replay, ReplayStats
from reports import migrate
from reports.backup import BackupKey, backup, digest
from reports.db import open_engine
from reports.observer import StoreObserver
from reports.reconcile import read_bill, reconcile
from reports.restore import restore
from reports.tables import audit, decisions, metadata
from reports.writer import StoreWriter
from schemas.rules import ProgrammeRules, load_rules
from simulation.generator import generate

pytestmark = pytest.mark.integration
RULES = load_rules()


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pg-simulated")
    generate(11, 2, folder, events_per_day=2500, bad_lines=3)
    return folder


def _replay(engine: Engine, folder: Path, rules: ProgrammeRules) -> tuple[ReplayStats, MemoryStore]:
    state = MemoryStore()
    observer = StoreObserver(StoreWriter(engine), rules, batch_rows=700)
    stats = Replay(rules, state, observers=[observer]).run(
        folder / "events.jsonl", catalog=folder / "catalog.jsonl"
    )
    return stats, state


@pytest.fixture(scope="module")
def filled(pg: Engine, simulated: Path) -> tuple[ReplayStats, MemoryStore]:
    return _replay(pg, simulated, RULES)


def test_the_migration_builds_exactly_the_tables_the_code_writes(pg: Engine) -> None:
    with pg.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []


def test_ledger_totals_equal_the_allowed_subsidy_less_claw_backs(
    pg: Engine, filled: tuple[ReplayStats, MemoryStore]
) -> None:
    stats, state = filled
    check_ledger_totals(pg, stats, state)


def test_a_second_replay_changes_nothing(
    pg: Engine, filled: tuple[ReplayStats, MemoryStore], simulated: Path
) -> None:
    before = digest(pg)
    _replay(pg, simulated, RULES)
    assert digest(pg) == before


def test_the_same_events_store_the_same_content_as_in_sqlite(
    pg: Engine, filled: tuple[ReplayStats, MemoryStore], simulated: Path, tmp_path: Path
) -> None:
    lite = open_engine(f"sqlite:///{tmp_path}/store.db")
    try:
        migrate.upgrade(lite)
        _replay(lite, simulated, RULES)
        assert digest(lite) == digest(pg)
    finally:
        lite.dispose()


def test_reconciliation_finds_exactly_the_injected_differences(
    pg: Engine, filled: tuple[ReplayStats, MemoryStore], tmp_path: Path
) -> None:
    over, unknown, refunded = injected_bill(pg, tmp_path / "bill.csv")
    result = reconcile(pg, read_bill(tmp_path / "bill.csv"))
    found = {(str(d["kind"]), str(d["order_id"])) for d in result.differences}
    assert found == (
        {("over_claimed", o) for o in over}
        | {("unknown_order", o) for o in unknown}
        | {("refunded_but_claimed", o) for o in refunded}
    )


def test_backup_from_postgresql_restores_into_sqlite_and_back(
    pg: Engine, filled: tuple[ReplayStats, MemoryStore], pg_url: str, tmp_path: Path
) -> None:
    key = BackupKey.of("p4Ls8Qw2Er6Ty0Ui3Op7As1Df5Gh9JkM")  # made for this test
    with pg.begin() as connection:  # the console's tables and the trail travel too
        add_user(connection, "sup-pg", "supervisor", "correct horse battery")
        trail.record(connection, "sup-pg", "login", role="supervisor")
    original = digest(pg)
    backup(pg, tmp_path / "from-pg", key)
    lite = open_engine(f"sqlite:///{tmp_path}/restored.db")
    try:
        restore(lite, tmp_path / "from-pg", key)
        assert digest(lite) == original
        backup(lite, tmp_path / "from-sqlite", key)
    finally:
        lite.dispose()
    restore(pg, tmp_path / "from-sqlite", key, replace=True)
    assert digest(pg) == original
    with pg.begin() as connection:  # serial columns go on after the restored ids
        trail.record(connection, "sup-pg", "logout", role="supervisor")


def test_a_restore_into_a_new_postgresql_store_continues_its_serial_ids(
    pg_url: str, tmp_path: Path
) -> None:
    key = BackupKey.of("p4Ls8Qw2Er6Ty0Ui3Op7As1Df5Gh9JkM")  # made for this test
    lite = open_engine(f"sqlite:///{tmp_path}/source.db")
    try:
        migrate.upgrade(lite)
        with lite.begin() as connection:
            for n in range(3):
                trail.record(connection, f"sup-{n}", "login")
        backup(lite, tmp_path / "bk", key)
    finally:
        lite.dispose()
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    name = f"riskmon_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    target = open_engine(make_url(pg_url).set(database=name))
    try:
        restore(target, tmp_path / "bk", key)
        with target.begin() as connection:
            trail.record(connection, "sup-3", "login")  # id 4, not a clash with id 1
            ids = connection.execute(select(audit.c.audit_id)).scalars().all()
        assert sorted(ids) == [1, 2, 3, 4]
    finally:
        target.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_an_async_writer_fills_postgresql(
    pg: Engine, filled: tuple[ReplayStats, MemoryStore]
) -> None:
    from factories import Run, item, line, paid

    from schemas.decode import decode_order
    from schemas.outputs import Origin

    observer = StoreObserver(StoreWriter(pg), RULES, autoflush=False)
    run = Run(RULES)
    event = paid(
        "pg-async", items=[item("SKU-PH-1", "mobile_phone", "4999.00")], order_id="PG-ASYNC-1"
    )
    raw = line(event)
    parsed = decode_order(raw)
    outcome = run.pipeline.on_order(parsed, raw, Origin("orders"))
    observer.on_decided(parsed, outcome)  # type: ignore[arg-type]
    asyncio.run(observer.aflush())
    with pg.connect() as connection:
        stored = connection.execute(
            select(decisions.c.allowed_subsidy).where(decisions.c.order_id == "PG-ASYNC-1")
        ).scalar_one()
    assert stored == Decimal("500.00")
    before = digest(pg).rows["decisions"]
    asyncio.run(observer.aflush())  # nothing left to write
    observer.on_decided(parsed, outcome)  # type: ignore[arg-type]
    asyncio.run(observer.aflush())  # a redelivery: nothing new
    assert digest(pg).rows["decisions"] == before


def test_verdicts_move_the_money_and_the_claim_agrees_with_the_ledger(
    pg: Engine, filled: tuple[ReplayStats, MemoryStore]
) -> None:
    """Last in the module: it judges alerts. A confirmation forfeits, a dismissal releases, on
    PostgreSQL as on SQLite; the states add up to the ledger and the claim to the fen."""
    from datetime import date, timedelta
    from zoneinfo import ZoneInfo

    from store_checks import ledger_sums, money_states

    from console.auth import User
    from console.verdicts import give
    from reports.claim import make_claim
    from reports.fund_states import FORFEITED, RELEASED, totals
    from reports.period import Period
    from reports.tables import alerts

    with pg.begin() as connection:
        found = connection.execute(
            select(alerts.c.alert_id, alerts.c.raised_at)
            .where(alerts.c.action.in_(("hold", "block")), alerts.c.risk != "budget")
            .order_by(alerts.c.raised_at, alerts.c.alert_id)
        ).all()
        assert len(found) >= 2
        for n, (alert_id, raised_at) in enumerate(found):
            action = "confirm" if n % 2 else "dismiss"
            give(
                connection,
                User("lead-01", "supervisor"),
                alert_id,
                action,
                "checked against the orders",
                timezone=ZoneInfo("Asia/Shanghai"),
                now=raised_at + timedelta(hours=1),
            )
    states = totals(money_states(pg).values())
    sums = ledger_sums(pg)
    assert states[FORFEITED] > 0 and states[RELEASED] > 0
    assert sum(states.values()) == sums["grant"] + sums["hold"] - sums["clawback"]
    claim = make_claim(pg, Period(date(2026, 7, 1), date(2026, 12, 31)), {})
    assert claim.total == claim.claimable_end == sum(m.claimable for m in money_states(pg).values())
