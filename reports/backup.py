"""Backup of the store: every table that records something, sealed, and a signed manifest.

A backup is a folder (created 0700, its files 0600): one file per table, its rows as gzip'd
JSON Lines in key order with values in a canonical text (money with two decimals, times in UTC)
sealed with AES-256-GCM (`reports.sealed`), and `manifest.json`, written last, with each
file's size, SHA-256, row count and content hash, signed with HMAC-SHA256. Both keys come from
one operator's key, `RISKMON_BACKUP_KEY`, through HKDF with a salt of the backup's own
(`reports.keys`); without that key a backup can be neither read nor altered unseen. The format
does not depend on the database: a SQLite store restores into PostgreSQL and back.

`reports.restore` reads it back, the signature and every file checked before the store is
touched.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Generator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import (
    Connection,
    Date,
    Engine,
    Numeric,
    Table,
    func,
    select,
)

from reports import migrate
from reports.bureau_tables import BUREAU_TABLES
from reports.control_tables import CONTROL_TABLES
from reports.db import StoreError, describe
from reports.keys import WeakKeyError, check_key, derive
from reports.sealed import SealedWriter
from reports.tables import (
    CONSOLE_TABLES,
    TABLES,
    UtcDateTime,
    audit,
    lockouts,
    login_failures,
    sessions,
)

FORMAT = "riskmon-store-backup"
VERSION = 2
MANIFEST = "manifest.json"
KEY_SETTING = "RISKMON_BACKUP_KEY"
SUFFIX = ".jsonl.gz.sealed"
_CHUNK = 5000
# What a backup carries, in the order a restore fills them (a referenced table first); and what
# it leaves out: who is logged in now and who failed to, which mean nothing in another store.
BACKED_UP: tuple[Table, ...] = TABLES + CONSOLE_TABLES + BUREAU_TABLES + CONTROL_TABLES
NOT_BACKED_UP: tuple[Table, ...] = (sessions, login_failures, lockouts)


class BackupError(StoreError):
    """A backup that cannot be made or restored; the message says which file and why."""


@dataclass(frozen=True)
class BackupKey:
    """The operator's backup key, checked; the working keys of one backup come from it."""

    secret: str

    @classmethod
    def of(cls, value: str | None) -> BackupKey:
        if not value:
            raise BackupError(
                f"{KEY_SETTING} is not set: backups are signed and encrypted with it (generate "
                "one with `openssl rand -base64 48`, keep it apart from the backups)"
            )
        try:
            return cls(check_key(KEY_SETTING, value))
        except WeakKeyError as exc:
            raise BackupError(str(exc)) from None

    @property
    def key_id(self) -> str:
        """A public name of the key, so a restore can say a backup was made with another."""
        return derive(self.secret, "riskmon backup: key id")[:8].hex()

    def sealing(self, salt: bytes) -> bytes:
        return derive(self.secret, "riskmon backup: files", salt)

    def signing(self, salt: bytes) -> bytes:
        return derive(self.secret, "riskmon backup: manifest", salt)


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.quantize(Decimal("0.01")), "f")
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def decoders_of(table: Table) -> list[Any]:
    decoders: list[Any] = []
    for column in table.columns:
        kind = column.type
        if isinstance(kind, UtcDateTime):
            decoders.append(datetime.fromisoformat)
        elif isinstance(kind, Date):
            decoders.append(date.fromisoformat)
        elif isinstance(kind, Numeric) and kind.asdecimal:
            decoders.append(Decimal)
        else:
            decoders.append(None)
    return decoders


def table_lines(connection: Connection, table: Table, up_to: int | None = None) -> Generator[bytes]:
    """Each row as one canonical line, in primary-key order (the audit trail: up to an id)."""
    query = select(table).order_by(*table.primary_key.columns)
    if up_to is not None:
        query = query.where(audit.c.audit_id <= up_to)
    # on the statement, not the connection: the connection goes on to insert (a restore)
    result = connection.execute(query.execution_options(yield_per=_CHUNK))
    try:
        for row in result:
            line = json.dumps([_encode(v) for v in row], ensure_ascii=False, separators=(",", ":"))
            yield line.encode("utf-8") + b"\n"
    finally:
        result.close()  # a reader that stops early leaves no server-side cursor open


@dataclass(frozen=True)
class Digest:
    rows: dict[str, int]
    sha256: str


def digest(connection_or_engine: Connection | Engine) -> Digest:
    """Row counts and one hash of the whole content of what a backup carries: equal for equal
    stores, whatever the database."""
    if isinstance(connection_or_engine, Engine):
        with connection_or_engine.connect() as connection:
            return digest(connection)
    connection = connection_or_engine
    sha = hashlib.sha256()
    rows: dict[str, int] = {}
    for table in BACKED_UP:
        sha.update(f"{table.name}\n".encode())
        n = 0
        for line in table_lines(connection, table):
            sha.update(line)
            n += 1
        rows[table.name] = n
    return Digest(rows, sha.hexdigest())


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            t.name: connection.execute(select(func.count()).select_from(t)).scalar_one()
            for t in BACKED_UP + NOT_BACKED_UP
        }


def _private(path: Path) -> BinaryIO:
    """A new file only its owner may read (0600), whatever the umask."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(descriptor, "wb")


def signature_of(manifest: dict[str, Any], key: bytes) -> str:
    body = {k: v for k, v in manifest.items() if k != "signature"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def backup(engine: Engine, folder: Path, key: BackupKey) -> dict[str, Any]:
    """Write a backup of the store into `folder` (new or empty); returns the manifest."""
    migrate.require_current(engine)
    if folder.exists() and any(folder.iterdir()):
        raise BackupError(f"{folder} is not empty: a backup goes into a new or empty folder")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    salt = secrets.token_bytes(16)
    sealing = key.sealing(salt)
    tables: dict[str, Any] = {}
    content = hashlib.sha256()
    # one read transaction: the files agree with each other even while a writer goes on
    with engine.connect() as connection, connection.begin():
        for table in BACKED_UP:
            path = folder / f"{table.name}{SUFFIX}"
            content.update(f"{table.name}\n".encode())
            own = hashlib.sha256()
            n = 0
            last_id = None
            with _private(path) as raw, SealedWriter(raw, sealing, table.name) as sealed:
                # mtime 0: the compressed bytes depend on the rows only
                with gzip.GzipFile(filename="", mode="wb", fileobj=sealed, mtime=0) as out:
                    for line in table_lines(connection, table):
                        out.write(line)
                        content.update(line)
                        own.update(line)
                        n += 1
                        if table is audit:
                            last_id = json.loads(line)[0]
            data = path.read_bytes()
            tables[table.name] = {
                "file": path.name,
                "rows": n,
                "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "content_sha256": own.hexdigest(),
                **({"last_id": last_id} if table is audit else {}),
            }
        revision = migrate.current_on(connection)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "schema_revision": revision,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": describe(engine.url),
        "key_id": key.key_id,
        "salt": salt.hex(),
        "cipher": "AES-256-GCM, 1 MiB chunks (reports/sealed.py); keys by HKDF-SHA256",
        "tables": tables,
        "content_sha256": content.hexdigest(),
    }
    manifest["signature"] = signature_of(manifest, key.signing(salt))
    # written last: a backup cut short has no manifest, and restore refuses it
    with _private(folder / MANIFEST) as out:
        out.write((json.dumps(manifest, indent=2) + "\n").encode("utf-8"))
    return manifest
