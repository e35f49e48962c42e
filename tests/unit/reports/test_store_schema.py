"""The store's schema: the migration builds exactly `reports.tables`; stale stores are refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from reports import migrate
from reports.db import StoreError, describe, open_engine
from reports.rows import COLUMNS
from reports.tables import TABLES, metadata


def test_the_migration_builds_exactly_the_tables_the_code_writes(
    new_store: Callable[[], Engine],
) -> None:
    engine = new_store()
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    assert diff == []
    assert set(inspect(engine).get_table_names()) >= {t.name for t in TABLES}


def test_row_tuples_follow_the_column_order_of_each_table() -> None:
    assert {t.name: tuple(c.name for c in t.columns) for t in TABLES} == COLUMNS


def test_upgrade_twice_changes_nothing(new_store: Callable[[], Engine]) -> None:
    engine = new_store()
    assert migrate.current(engine) == migrate.head()
    assert migrate.upgrade(engine) == migrate.head()


def test_a_store_without_tables_is_refused_in_words(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path}/empty.db")
    try:
        with pytest.raises(StoreError, match="riskmon db upgrade"):
            migrate.require_current(engine)
    finally:
        engine.dispose()


def test_a_store_from_a_newer_riskmon_is_refused(new_store: Callable[[], Engine]) -> None:
    engine = new_store()
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StoreError, match="newer than this riskmon"):
        migrate.require_current(engine)
    with pytest.raises(StoreError, match="upgrade riskmon"):
        migrate.upgrade(engine)


def test_urls_never_show_their_password_and_unknown_databases_are_refused() -> None:
    assert "s3cret" not in describe("postgresql://app:s3cret@db/riskmon")
    with pytest.raises(StoreError, match="SQLite or PostgreSQL"):
        describe("mysql://root@localhost/x")
    with pytest.raises(StoreError, match="not a database URL"):
        describe("not a url")


def test_the_default_sqlite_file_gets_its_folder(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path}/var/deeper/riskmon.db")
    try:
        migrate.upgrade(engine)
        assert (tmp_path / "var" / "deeper" / "riskmon.db").exists()
    finally:
        engine.dispose()
