"""The console's tables on the machine's real PostgreSQL: the migration builds them as the code
declares them, and the audit trail refuses UPDATE, DELETE and TRUNCATE (a trigger), whoever
asks. (RISKMON_TEST_POSTGRES names the server's admin database, as for the store's tests.)"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from console import audit as trail
from reports import migrate
from reports.db import open_engine
from reports.tables import audit, metadata

pytestmark = pytest.mark.integration
ADMIN_URL = os.environ.get("RISKMON_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    url = make_url(ADMIN_URL)
    return psycopg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        dbname=url.database,
        autocommit=True,
    )


@pytest.fixture(scope="module")
def pg() -> Iterator[Engine]:
    name = f"riskmon_console_{uuid.uuid4().hex[:12]}"
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    engine = open_engine(make_url(ADMIN_URL).set(database=name))
    try:
        migrate.upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
