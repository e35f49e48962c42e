"""Migration 0002 on SQLite: down to the first schema and up again, triggers and all."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, update
from sqlalchemy.exc import DBAPIError

from console import audit as trail
from reports import migrate
from reports.db import open_engine
from reports.tables import CONSOLE_TABLES, audit


def test_down_to_the_first_schema_and_up_again(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path}/store.db")
    try:
        migrate.upgrade(engine)
        with engine.begin() as connection:
            command.downgrade(migrate._config(connection), "0001")
        names = set(inspect(engine).get_table_names())
        assert not names & {t.name for t in CONSOLE_TABLES} and "alerts" in names
        migrate.upgrade(engine)
        with engine.begin() as connection:
            trail.record(connection, "sup-1", "login")
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(update(audit).values(actor="x"))
    finally:
        engine.dispose()
