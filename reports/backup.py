"""Backup and restore of the store, with a checksum manifest.

A backup is a folder: one gzip'd JSON Lines file per table (rows in key order, values in a
canonical text: money with two decimals, times in UTC) and `manifest.json`, written last, with
each file's size, SHA-256 and row count and a hash of the whole content. The format does not
depend on the database: a SQLite store restores into PostgreSQL and back.

Restore checks every file against the manifest before it touches the store, loads everything
in one transaction, and checks the content hash again before it commits: a truncated or altered
backup is refused and the store is left as it was.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Date, Engine, Numeric, Table, delete, func, insert, select

from reports import migrate
from reports.db import StoreError, describe
from reports.tables import TABLES, UtcDateTime

FORMAT = "riskmon-store-backup"
VERSION = 1
MANIFEST = "manifest.json"
_CHUNK = 5000


class BackupError(StoreError):
    """A backup that cannot be made or restored; the message says which file and why."""


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.quantize(Decimal("0.01")), "f")
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _decoder(table: Table) -> list[Any]:
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


def _lines(connection: Connection, table: Table) -> Iterator[bytes]:
    """Each row as one canonical line, in primary-key order."""
    query = select(table).order_by(*table.primary_key.columns)
    result = connection.execution_options(yield_per=_CHUNK).execute(query)
    for row in result:
        text = json.dumps([_encode(v) for v in row], ensure_ascii=False, separators=(",", ":"))
        yield text.encode("utf-8") + b"\n"


@dataclass(frozen=True)
class Digest:
    rows: dict[str, int]
    sha256: str


def digest(connection_or_engine: Connection | Engine) -> Digest:
    """Row counts and one hash of the whole content: equal for equal stores, whatever the
    database."""
    if isinstance(connection_or_engine, Engine):
        with connection_or_engine.connect() as connection:
            return digest(connection)
    connection = connection_or_engine
    sha = hashlib.sha256()
    rows: dict[str, int] = {}
    for table in TABLES:
        sha.update(f"{table.name}\n".encode())
        n = 0
        for line in _lines(connection, table):
            sha.update(line)
            n += 1
        rows[table.name] = n
    return Digest(rows, sha.hexdigest())


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            t.name: connection.execute(select(func.count()).select_from(t)).scalar_one()
            for t in TABLES
        }


def backup(engine: Engine, folder: Path) -> dict[str, Any]:
    """Write a backup of the store into `folder` (new or empty); returns the manifest."""
    migrate.require_current(engine)
    if folder.exists() and any(folder.iterdir()):
        raise BackupError(f"{folder} is not empty: a backup goes into a new or empty folder")
    folder.mkdir(parents=True, exist_ok=True)
    tables: dict[str, Any] = {}
    content = hashlib.sha256()
    # one read transaction: the files agree with each other even while a writer goes on
    with engine.connect() as connection, connection.begin():
        for table in TABLES:
            path = folder / f"{table.name}.jsonl.gz"
            content.update(f"{table.name}\n".encode())
            n = 0
            with path.open("wb") as raw:
                # mtime 0: the same store backs up to the same bytes
                with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as out:
                    for line in _lines(connection, table):
                        out.write(line)
                        content.update(line)
                        n += 1
            data = path.read_bytes()
            tables[table.name] = {
                "file": path.name,
                "rows": n,
                "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        revision = migrate.current_on(connection)
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "schema_revision": revision,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": describe(engine.url),
        "tables": tables,
        "content_sha256": content.hexdigest(),
    }
    # written last: a backup cut short has no manifest, and restore refuses it
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest, with every file checked against it (size, then SHA-256)."""
    path = folder / MANIFEST
    if not folder.is_dir():
        raise BackupError(f"{folder} is not a folder")
    if not path.exists():
        raise BackupError(
            f"{folder} has no {MANIFEST}: not a riskmon backup, or one that was cut short"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise BackupError(f"{path} is not valid JSON: the backup is damaged") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not the manifest of a riskmon store backup")
    if manifest.get("version") != VERSION:
        raise BackupError(f"{path}: backup format version {manifest.get('version')!r} unknown")
    tables = manifest.get("tables")
    if not isinstance(tables, dict) or set(tables) != {t.name for t in TABLES}:
        raise BackupError(f"{path} does not list the store's tables: the backup is damaged")
    for entry in tables.values():
        data_path = folder / str(entry.get("file", ""))
        if not data_path.is_file():
            raise BackupError(f"the backup is damaged: {data_path.name} is missing")
        size = data_path.stat().st_size
        if size != entry.get("bytes"):
            raise BackupError(
                f"the backup is damaged: {data_path.name} has {size:,} bytes, the manifest "
                f"says {entry.get('bytes'):,} (truncated or altered); restore refused"
            )
        if hashlib.sha256(data_path.read_bytes()).hexdigest() != entry.get("sha256"):
            raise BackupError(
                f"the backup is damaged: {data_path.name} does not match its SHA-256 in the "
                "manifest; restore refused"
            )
    return manifest


def _rows(folder: Path, table: Table, entry: dict[str, Any]) -> Iterator[dict[str, Any]]:
    names = [c.name for c in table.columns]
    decoders = _decoder(table)
    with gzip.open(folder / entry["file"], "rb") as handle:
        for line in handle:
            values = json.loads(line)
            yield {
                n: (v if d is None or v is None else d(v))
                for n, d, v in zip(names, decoders, values, strict=True)
            }


def _batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= _CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def restore(engine: Engine, folder: Path, *, replace: bool = False) -> dict[str, Any]:
    """Load a backup into the store (empty, or emptied first with `replace`)."""
    manifest = read_manifest(folder)
    revision = manifest.get("schema_revision")
    if revision != migrate.head():
        raise BackupError(
            f"the backup has schema revision {revision}, this riskmon writes {migrate.head()}: "
            "restore it with the riskmon that made it"
        )
    migrate.upgrade(engine)
    with engine.begin() as connection:
        counts = {
            t.name: connection.execute(select(func.count()).select_from(t)).scalar_one()
            for t in TABLES
        }
        if any(counts.values()):
            if not replace:
                raise BackupError(
                    f"the store {describe(engine.url)} is not empty "
                    f"({sum(counts.values()):,} rows): give --replace to empty it first"
                )
            for table in reversed(TABLES):  # children first
                connection.execute(delete(table))
        for table in TABLES:
            entry = manifest["tables"][table.name]
            n = 0
            for batch in _batches(_rows(folder, table, entry)):
                connection.execute(insert(table), batch)
                n += len(batch)
            if n != entry["rows"]:
                raise BackupError(
                    f"the backup is damaged: {entry['file']} holds {n:,} rows, the manifest "
                    f"says {entry['rows']:,}; restore refused, the store is unchanged"
                )
        loaded = digest(connection)
        if loaded.sha256 != manifest["content_sha256"]:
            raise BackupError(
                "the restored content does not hash to the manifest's content_sha256; "
                "restore refused, the store is unchanged"
            )
    return manifest
