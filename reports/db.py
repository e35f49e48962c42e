"""Opening the store: a SQLAlchemy URL, SQLite (embedded, the default) or PostgreSQL.

The URL may carry a password: it is shown only through `describe`, which hides it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_URL = "sqlite:///var/riskmon.db"


class StoreError(RuntimeError):
    """The store cannot be used as asked; the message says why and what to do."""


def parse_url(url: str | URL) -> URL:
    """A SQLAlchemy URL; PostgreSQL without a driver means psycopg 3, the one installed.

    >>> parse_url("postgresql://postgres@127.0.0.1/test").drivername
    'postgresql+psycopg'
    >>> parse_url("sqlite:///var/riskmon.db").database
    'var/riskmon.db'
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            "RISKMON_DATABASE_URL is not a database URL: expected sqlite:///PATH or "
            "postgresql://USER@HOST:PORT/DATABASE"
        ) from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise StoreError(f"the store is SQLite or PostgreSQL, not {backend}")
    return parsed


def describe(url: str | URL) -> str:
    """The URL as it may be printed: never its password.

    >>> describe("postgresql://app:s3cret@db:5432/riskmon")
    'postgresql+psycopg://app:***@db:5432/riskmon'
    """
    return parse_url(url).render_as_string(hide_password=True)


def open_engine(url: str | URL) -> Engine:
    """An engine on the store; a SQLite file's folder is created (the default is under var/)."""
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            _private_file(Path(database))
        engine = create_engine(parsed)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(parsed, pool_pre_ping=True)


def _private_file(path: Path) -> None:
    """Create a new SQLite file for its owner only (0600; SQLite gives its -wal and -shm files
    the same mode), in a folder of its owner's (0700) when the folder is new."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass  # a store that exists keeps the mode its owner gave it


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    # WAL lets a report read while a replay writes; with it, NORMAL may lose the last
    # transactions on a power cut but never corrupts the file, and writes many times faster.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
