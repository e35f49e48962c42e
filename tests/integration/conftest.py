"""Fixtures shared by the integration tests that need the machine's real PostgreSQL.

RISKMON_TEST_POSTGRES names the server's admin database; default
postgresql://postgres@127.0.0.1:5432/test, trust auth. Each test module that asks gets a
database of its own, created here and dropped at the end whatever happened.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from reports import migrate
from reports.db import open_engine

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
def pg_url() -> Iterator[str]:
    """A new, empty database's URL, dropped at the end whatever happened."""
    name = f"riskmon_test_{uuid.uuid4().hex[:12]}"
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def pg(pg_url: str) -> Iterator[Engine]:
    """An engine on that database, migrated to the head revision."""
    engine = open_engine(pg_url)
    try:
        migrate.upgrade(engine)
        yield engine
    finally:
        engine.dispose()
