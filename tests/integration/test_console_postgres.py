"""The console's tables on the machine's real PostgreSQL: the migration builds them as the code
declares them, and the audit trail refuses UPDATE, DELETE and TRUNCATE (a trigger), whoever
asks. (The database is `tests/integration/conftest.py`'s, as for the store's tests.)"""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, select, text, update
from sqlalchemy.exc import DBAPIError

from console import audit as trail
from reports import migrate
from reports.tables import audit, metadata

pytestmark = pytest.mark.integration


def test_the_migration_builds_the_console_tables_as_declared(pg: Engine) -> None:
    with pg.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []


def test_the_audit_trail_is_append_only_on_postgresql(pg: Engine) -> None:
    with pg.begin() as connection:
        trail.record(connection, "sup-1", "login", role="supervisor")
    refused = (
        update(audit).values(actor="someone-else"),
        audit.delete(),
        text("TRUNCATE audit"),
    )
    for statement in refused:
        with pytest.raises(DBAPIError, match="append-only"):
            with pg.begin() as connection:
                connection.execute(statement)
    with pg.connect() as connection:
        assert connection.execute(select(audit.c.actor)).scalars().all() == ["sup-1"]


def test_downgrade_and_upgrade_again(pg: Engine) -> None:
    with pg.begin() as connection:
        command.downgrade(migrate._config(connection), "0001")
    assert migrate.current(pg) == "0001"
    assert migrate.upgrade(pg) == migrate.head()


def test_a_retention_run_deletes_only_audit_rows_past_its_cut_off_on_postgresql(
    pg: Engine,
) -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from reports import retention
    from reports.bureau_config import Retention

    with pg.begin() as connection:
        for year in (2027, 2029):
            trail.record(connection, "ana-9", "login", at=datetime(year, 3, 1, tzinfo=UTC))
    periods = Retention(audit_days=730)
    retention.apply(pg, periods, datetime(2030, 1, 10, tzinfo=UTC), ZoneInfo("Asia/Shanghai"), "x")
    with pg.connect() as connection:
        left = (
            connection.execute(select(audit.c.at).where(audit.c.actor == "ana-9")).scalars().all()
        )
    assert [a.year for a in left] == [2029]
    with pytest.raises(DBAPIError, match="append-only"), pg.begin() as connection:
        connection.execute(audit.delete().where(audit.c.actor == "ana-9"))
