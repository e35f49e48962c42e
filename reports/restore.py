"""Restore of a backup (`reports.backup`): the signature first, then every file, then the store.

Restore checks the manifest's signature first, then that each file is the one its table names
(a plain file inside the folder: no `../x`, no absolute path, no symbolic link) with the size
and SHA-256 the manifest signs, before it touches the store; it loads everything in one
transaction and checks each table's content hash again before it commits.

The audit trail is append-only, even for a restore: rows the store already has must be the
backup's own (same number, same content); the backup's missing rows are added; rows the store
has beyond the backup (what happened since) stay. A store whose trail is not the backup's is
refused. Sessions are not backed up, and a restore ends them all: everyone logs in again.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Integer, Table, delete, func, insert, select

from reports import migrate
from reports.backup import (
    BACKED_UP,
    FORMAT,
    KEY_SETTING,
    MANIFEST,
    SUFFIX,
    VERSION,
    BackupError,
    BackupKey,
    decoders_of,
    signature_of,
    table_lines,
)
from reports.db import describe
from reports.sealed import SealError, open_sealed
from reports.tables import audit, sessions

_CHUNK = 5000


def _load_manifest(folder: Path) -> dict[str, Any]:
    if not folder.is_dir():
        raise BackupError(f"{folder} is not a folder")
    path = folder / MANIFEST
    if path.is_symlink():
        raise BackupError(f"{path} is a symbolic link: restore refused")
    if not path.is_file():
        raise BackupError(
            f"{folder} has no {MANIFEST}: not a riskmon backup, or one that was cut short"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise BackupError(f"{path} is not valid JSON: the backup is damaged") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not the manifest of a riskmon store backup")
    if manifest.get("version") == 1:
        raise BackupError(
            f"{path} is an unsigned backup of an older riskmon: restore it with that riskmon, "
            "then back the store up again with this one"
        )
    if manifest.get("version") != VERSION:
        raise BackupError(f"{path}: backup format version {manifest.get('version')!r} unknown")
    return manifest


def _check_signature(manifest: dict[str, Any], key: BackupKey) -> bytes:
    """The backup's sealing key, once the manifest's signature is found to be right."""
    try:
        salt = bytes.fromhex(str(manifest.get("salt", "")))
    except ValueError:
        salt = b""
    signature = manifest.get("signature")
    if len(salt) != 16 or not isinstance(signature, str):
        raise BackupError("the manifest is not signed: the backup is damaged; restore refused")
    if not hmac.compare_digest(signature, signature_of(manifest, key.signing(salt))):
        if manifest.get("key_id") != key.key_id:
            raise BackupError(
                f"the backup was made with another key (id {manifest.get('key_id')!r}; "
                f"{KEY_SETTING} has id {key.key_id}): restore refused"
            )
        raise BackupError(
            "the manifest's signature is wrong: the manifest was altered; restore refused"
        )
    return key.sealing(salt)


def _data_path(folder: Path, table: str, entry: Any) -> Path:
    """The file a manifest entry names, if it is the table's own plain file in the folder."""
    name = entry.get("file") if isinstance(entry, dict) else None
    if not isinstance(name, str) or name != f"{table}{SUFFIX}":
        raise BackupError(
            f"the manifest names {name!r} for {table}, not {table}{SUFFIX}: a backup's files "
            "are its own, in its folder; restore refused"
        )
    path = folder / name
    if path.is_symlink():
        raise BackupError(f"{path} is a symbolic link: restore refused")
    if path.resolve().parent != folder.resolve():
        raise BackupError(f"{path} is not inside {folder}: restore refused")
    if not path.is_file():
        raise BackupError(f"the backup is damaged: {name} is missing")
    return path


def read_manifest(folder: Path, key: BackupKey) -> dict[str, Any]:
    """The manifest, its signature checked, and every file checked against it (its name and
    place, then size, then SHA-256)."""
    manifest = _load_manifest(folder)
    _check_signature(manifest, key)
    tables = manifest.get("tables")
    if not isinstance(tables, dict) or set(tables) != {t.name for t in BACKED_UP}:
        raise BackupError(
            f"{folder / MANIFEST} does not list the tables this riskmon backs up: restore it "
            "with the riskmon that made it"
        )
    for table, entry in tables.items():
        data_path = _data_path(folder, table, entry)
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


def _backup_lines(folder: Path, table: Table, sealing: bytes) -> Iterator[bytes]:
    with (folder / f"{table.name}{SUFFIX}").open("rb") as raw:
        with gzip.GzipFile(fileobj=open_sealed(raw, sealing, table.name), mode="rb") as lines:
            yield from lines


def _rows(lines: Iterator[bytes], table: Table) -> Iterator[dict[str, Any]]:
    names = [c.name for c in table.columns]
    decoders = decoders_of(table)
    for line in lines:
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


def _missing_audit(connection: Connection, lines: Iterator[bytes]) -> Iterator[bytes]:
    """The backup's audit rows the store lacks; refused if a row it has differs."""
    held = table_lines(connection, audit)
    try:
        yield from _merge(held, lines)
    finally:
        held.close()


def _merge(held: Iterator[bytes], lines: Iterator[bytes]) -> Iterator[bytes]:
    have = next(held, None)
    for line in lines:
        number = json.loads(line)[0]
        while have is not None and json.loads(have)[0] < number:
            have = next(held, None)  # a row the backup never had: it stays
        if have is not None and json.loads(have)[0] == number:
            if have != line:
                raise BackupError(
                    f"the store's audit trail is not the backup's (row {number} differs): the "
                    "trail is append-only, so a restore never rewrites it; restore into a new "
                    "store instead"
                )
            continue
        yield line


def _reset_sequences(connection: Connection) -> None:
    """PostgreSQL: serial columns go on after the ids restored (SQLite does so by itself)."""
    if connection.dialect.name != "postgresql":
        return
    for table in BACKED_UP:
        (column, *more) = table.primary_key.columns
        if more or not isinstance(column.type, Integer) or column.autoincrement is False:
            continue
        sequence = func.pg_get_serial_sequence(table.name, column.name)
        last = func.max(column)
        connection.execute(select(func.setval(sequence, func.coalesce(last, 1), last.isnot(None))))


def restore(
    engine: Engine, folder: Path, key: BackupKey, *, replace: bool = False
) -> dict[str, Any]:
    """Load a backup into the store (empty, or emptied first with `replace`)."""
    manifest = read_manifest(folder, key)
    sealing = _check_signature(manifest, key)
    revision = manifest.get("schema_revision")
    if revision != migrate.head():
        raise BackupError(
            f"the backup has schema revision {revision}, this riskmon writes {migrate.head()}: "
            "restore it with the riskmon that made it"
        )
    migrate.upgrade(engine)
    try:
        with engine.begin() as connection:
            _load(connection, folder, manifest, sealing, replace)
    except SealError as exc:
        raise BackupError(f"the backup is damaged: {exc}; restore refused") from None
    return manifest


def _load(
    connection: Connection,
    folder: Path,
    manifest: dict[str, Any],
    sealing: bytes,
    replace: bool,
) -> None:
    held = sum(
        connection.execute(select(func.count()).select_from(t)).scalar_one() for t in BACKED_UP
    )
    if held and not replace:
        raise BackupError(
            f"the store {describe(connection.engine.url)} is not empty ({held:,} rows): give "
            "--replace to empty it first"
        )
    connection.execute(delete(sessions))  # everyone logs in again, as the restored users
    for table in reversed(BACKED_UP):  # children first; the audit trail is never emptied
        if table is not audit:
            connection.execute(delete(table))
    for table in BACKED_UP:
        entry = manifest["tables"][table.name]
        lines = _Counted(_backup_lines(folder, table, sealing))
        source = _missing_audit(connection, iter(lines)) if table is audit else iter(lines)
        for batch in _batches(_rows(source, table)):
            connection.execute(insert(table), batch)
        if lines.n != entry["rows"]:
            raise BackupError(
                f"the backup is damaged: {entry['file']} holds {lines.n:,} rows, the manifest "
                f"says {entry['rows']:,}; restore refused, the store is unchanged"
            )
        own = hashlib.sha256()
        up_to = entry.get("last_id") or 0 if table is audit else None
        for line in table_lines(connection, table, up_to):
            own.update(line)
        if own.hexdigest() != entry["content_sha256"]:
            raise BackupError(
                f"the restored {table.name} does not hash to the manifest's content_sha256; "
                "restore refused, the store is unchanged"
            )
    _reset_sequences(connection)


class _Counted:
    """Lines, counted as they are read."""

    def __init__(self, lines: Iterator[bytes]) -> None:
        self.lines = lines
        self.n = 0

    def __iter__(self) -> Iterator[bytes]:
        for line in self.lines:
            self.n += 1
            yield line
