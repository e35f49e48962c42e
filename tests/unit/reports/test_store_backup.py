"""Backup then restore gives back the store exactly, the console's and the bureau's tables and
the audit trail included; a backup is sealed and its manifest signed; a damaged, altered or
foreign backup, or one whose manifest points outside its folder, is refused and the store left
untouched."""

from __future__ import annotations

import gzip
import json
import os
import stat
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import Filled
from sqlalchemy import Connection, Engine, func, insert, select

from console import audit as trail
from console.auth import User, add_token, add_user
from console.verdicts import give
from reports.backup import (
    BACKED_UP,
    NOT_BACKED_UP,
    BackupError,
    BackupKey,
    backup,
    digest,
    row_counts,
    signature_of,
)
from reports.bureau_tables import (
    complaint_events,
    complaint_links,
    complaints,
    controls_out,
    deliveries,
    merchant_history,
    merchants,
    retention_runs,
)
from reports.control_tables import control_requests
from reports.db import open_engine
from reports.restore import read_manifest, restore
from reports.tables import alerts, audit, metadata, sessions

KEY = BackupKey.of("k7Pq2vX9mR4tW8yB3nF6hJ1cL5dG0sAz")  # made for these tests
OTHER = BackupKey.of("Zq8wE3rT6yU1iO4pA7sD0fG5hJ2kL9xC")


def _resign(folder: Path, change: Callable[[dict[str, object]], None]) -> None:
    """Alter the manifest and sign it again with the right key, as a backup made by a faulty
    or hostile riskmon that held the key would be."""
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    salt = bytes.fromhex(manifest["salt"])
    manifest["signature"] = signature_of(manifest, KEY.signing(salt))
    path.write_text(json.dumps(manifest))


def bureau_rows(connection: Connection, actor: str) -> None:
    """A row in each of the bureau's tables (migration 0004)."""
    now = datetime(2026, 7, 2, 1, 0, tzinfo=UTC)
    connection.execute(
        insert(deliveries).values(
            delivery_id="d" * 32,
            destination="bureau-api",
            package="daily",
            subject="2026-07-01",
            version="1",
            created_at=now,
            due_at=now,
            state="delivered",
            attempts=1,
            delivered_at=now,
            receipt="HTTP 200",
        )
    )
    complaint_id = connection.execute(
        insert(complaints)
        .values(
            kind="complaint",
            party="consumer",
            channel="phone",
            category="refund",
            identity_masked="138****5678",
            summary="late refund",
            status="open",
            created_at=now,
            created_by=actor,
            answer_due_at=now,
        )
        .returning(complaints.c.complaint_id)
    ).scalar_one()
    connection.execute(
        insert(complaint_links).values(complaint_id=complaint_id, link_type="order", ref="PS1")
    )
    connection.execute(
        insert(complaint_events).values(
            complaint_id=complaint_id, at=now, actor=actor, action="register", note=""
        )
    )
    connection.execute(
        insert(merchants).values(
            merchant_id="M0001",
            name="Shop",
            licence_no="91440300MA5F000000",
            categories="tablet",
            status="active",
            licence_checked=True,
            categories_checked=True,
            training_done=True,
            applied_at=now,
            applied_by=actor,
            updated_at=now,
        )
    )
    connection.execute(
        insert(merchant_history).values(
            merchant_id="M0001", at=now, actor=actor, to_status="active", reason="approved"
        )
    )
    connection.execute(
        insert(controls_out).values(
            control_id="c-1",
            kind="merchant",
            key="M0001",
            payload="{}",
            status="outbox",
            created_at=now,
        )
    )
    connection.execute(
        insert(retention_runs).values(at=now, actor=actor, state="done", detail="{}")
    )
    connection.execute(
        insert(control_requests).values(
            request_id="c-2",
            kind="programme",
            key="featured_goods",
            action="pause",
            reason="budget",
            effective_from=now,
            requested_by=actor,
            requested_at=now,
            state="pending",
        )
    )


@pytest.fixture(scope="module")
def worked_backup(filled: Filled, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A backup of the filled store after the console was used on it: users, a token,
    verdicts, an incident, the audit trail."""
    folder = tmp_path_factory.mktemp("worked")
    backup(filled.engine, folder / "plain", KEY)
    engine = open_engine(f"sqlite:///{folder}/worked.db")
    try:
        restore(engine, folder / "plain", KEY)
        lead = User("sup-9", "supervisor")
        tz = ZoneInfo("Asia/Shanghai")
        with engine.begin() as connection:
            add_user(connection, lead.name, lead.role, "correct horse battery")
            add_token(connection, "platform-a")
            ids = connection.execute(select(alerts.c.alert_id).limit(3)).scalars().all()
            give(connection, lead, ids[0], "confirm", "seen twice", timezone=tz)
            give(connection, lead, ids[1], "escalate", "for the bureau", timezone=tz)
            trail.record(connection, lead.name, "login", role=lead.role)
            bureau_rows(connection, lead.name)
        backup(engine, folder / "worked", KEY)
    finally:
        engine.dispose()
    return folder / "worked"


@pytest.fixture
def worked(worked_backup: Path, new_store: Callable[[], Engine]) -> Engine:
    engine = new_store()
    restore(engine, worked_backup, KEY)
    return engine


@pytest.fixture
def backed_up(worked: Engine, tmp_path: Path) -> Path:
    folder = tmp_path / "backup"
    backup(worked, folder, KEY)
    return folder


def test_every_table_is_either_backed_up_or_named_as_left_out() -> None:
    named = [t.name for t in BACKED_UP + NOT_BACKED_UP]
    assert sorted(named) == sorted(metadata.tables) and len(set(named)) == len(named)


def test_backup_then_restore_reproduces_the_store_console_tables_included(
    worked: Engine, backed_up: Path, new_store: Callable[[], Engine]
) -> None:
    original = digest(worked)
    assert all(original.rows.values()), original.rows  # every table has rows
    manifest = json.loads((backed_up / "manifest.json").read_text())
    assert manifest["content_sha256"] == original.sha256
    assert {t: e["rows"] for t, e in manifest["tables"].items()} == original.rows
    target = new_store()
    restore(target, backed_up, KEY)
    assert digest(target) == original
    with target.begin() as connection:  # the trail goes on after the restored rows
        trail.record(connection, "sup-9", "logout")


def test_the_files_are_sealed_and_private(backed_up: Path, worked: Engine) -> None:
    with worked.connect() as connection:
        token_hash = connection.execute(select(func.min(alerts.c.entity_key))).scalar_one()
    assert stat.S_IMODE(backed_up.stat().st_mode) == 0o700
    for path in backed_up.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
        if path.name != "manifest.json":
            data = path.read_bytes()
            assert data.startswith(b"riskmon-sealed-1\n")
            assert token_hash.encode() not in data
            # no readable gzip stream behind the header (a sealed file's random bytes may hold
            # gzip's two magic bytes by chance: one file in a few hundred did)
            with pytest.raises((OSError, EOFError, zlib.error)):
                gzip.decompress(data[len(b"riskmon-sealed-1\n") :])


def test_the_store_file_and_its_journal_are_private(tmp_path: Path) -> None:
    from reports import migrate
    from reports.db import open_engine

    old = os.umask(0o022)
    try:
        engine = open_engine(f"sqlite:///{tmp_path}/new/riskmon.db")
        migrate.upgrade(engine)
        with engine.begin() as connection:
            trail.record(connection, "x", "login")
        made = sorted((tmp_path / "new").iterdir())
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in made}
        engine.dispose()
    finally:
        os.umask(old)
    assert "riskmon.db-wal" in modes
    assert set(modes.values()) == {0o600}, modes
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700


def test_a_backup_opens_only_with_its_key(backed_up: Path, new_store: Callable[[], Engine]) -> None:
    target = new_store()
    with pytest.raises(BackupError, match="made with another key"):
        restore(target, backed_up, OTHER)
    assert sum(row_counts(target).values()) == 0


def test_without_a_real_key_nothing_is_backed_up(filled: Filled, tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="RISKMON_BACKUP_KEY is not set"):
        BackupKey.of(None)
    with pytest.raises(BackupError, match="RISKMON_BACKUP_KEY is 8 bytes"):
        BackupKey.of("changeme")


def test_a_tampered_manifest_is_refused(backed_up: Path, new_store: Callable[[], Engine]) -> None:
    path = backed_up / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["tables"]["decisions"]["rows"] += 1
    path.write_text(json.dumps(manifest))
    target = new_store()
    with pytest.raises(BackupError, match="signature is wrong"):
        restore(target, backed_up, KEY)
    del manifest["signature"]
    path.write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="not signed"):
        read_manifest(backed_up, KEY)
    assert sum(row_counts(target).values()) == 0


@pytest.mark.parametrize("place", ["../x", "/etc/passwd", "sub/decisions.jsonl.gz.sealed"])
def test_a_manifest_path_outside_the_folder_is_refused(
    backed_up: Path, new_store: Callable[[], Engine], place: str
) -> None:
    outside = backed_up.parent / "x"
    outside.write_bytes((backed_up / "decisions.jsonl.gz.sealed").read_bytes())

    def point(manifest: dict[str, object]) -> None:
        manifest["tables"]["decisions"]["file"] = place  # type: ignore[index]

    _resign(backed_up, point)
    target = new_store()
    with pytest.raises(BackupError, match="restore refused"):
        restore(target, backed_up, KEY)
    assert sum(row_counts(target).values()) == 0


def test_a_symbolic_link_in_the_backup_is_refused(backed_up: Path, tmp_path: Path) -> None:
    real = backed_up / "alerts.jsonl.gz.sealed"
    moved = tmp_path / "elsewhere.sealed"
    real.rename(moved)
    real.symlink_to(moved)
    with pytest.raises(BackupError, match="symbolic link"):
        read_manifest(backed_up, KEY)


def test_a_truncated_backup_is_refused_and_the_store_left_as_it_was(
    backed_up: Path, new_store: Callable[[], Engine]
) -> None:
    target = new_store()
    path = backed_up / "fund_ledger.jsonl.gz.sealed"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(BackupError, match=r"fund_ledger.jsonl.gz.sealed has [\d,]+ bytes"):
        restore(target, backed_up, KEY)
    assert sum(row_counts(target).values()) == 0


def test_an_altered_file_of_the_right_size_is_refused(backed_up: Path) -> None:
    path = backed_up / "decisions.jsonl.gz.sealed"
    data = bytearray(path.read_bytes())
    data[-12] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BackupError, match="does not match its SHA-256"):
        read_manifest(backed_up, KEY)


def test_a_file_swapped_for_another_table_does_not_open(
    backed_up: Path, new_store: Callable[[], Engine]
) -> None:
    # even with a manifest signed over the swap, a chunk sealed for one table fails in another
    swapped = backed_up / "verdicts.jsonl.gz.sealed"
    swapped.write_bytes((backed_up / "incidents.jsonl.gz.sealed").read_bytes())

    def follow(manifest: dict[str, object]) -> None:
        tables = manifest["tables"]
        tables["verdicts"] = {**tables["incidents"], "file": swapped.name}  # type: ignore[index]

    _resign(backed_up, follow)
    target = new_store()
    with pytest.raises(BackupError, match="does not open with this key"):
        restore(target, backed_up, KEY)
    assert sum(row_counts(target).values()) == 0


def test_a_backup_without_its_manifest_is_refused(backed_up: Path) -> None:
    (backed_up / "manifest.json").unlink()
    with pytest.raises(BackupError, match="no manifest.json: not a riskmon backup"):
        read_manifest(backed_up, KEY)
    (backed_up / "manifest.json").write_text('{"format": "riskmon-store-b')
    with pytest.raises(BackupError, match="not valid JSON"):
        read_manifest(backed_up, KEY)
    (backed_up / "manifest.json").write_text('{"format": "riskmon-store-backup", "version": 1}')
    with pytest.raises(BackupError, match="unsigned backup of an older riskmon"):
        read_manifest(backed_up, KEY)


def test_replace_works_on_a_store_with_verdicts_and_keeps_its_audit_trail(
    worked: Engine, backed_up: Path, new_store: Callable[[], Engine]
) -> None:
    target = new_store()
    restore(target, backed_up, KEY)
    with pytest.raises(BackupError, match="give --replace"):
        restore(target, backed_up, KEY)
    with target.begin() as connection:  # what happened after the backup, sessions included
        trail.record(connection, "sup-9", "view_audit", role="supervisor")
        connection.execute(
            insert(sessions).values(
                session_hash="0" * 64,
                name="sup-9",
                created_at=func.now(),
                seen_at=func.now(),
                expires_at=func.now(),
            )
        )
    restore(target, backed_up, KEY, replace=True)
    after = digest(target)
    original = digest(worked)
    assert {t: n for t, n in after.rows.items() if t != "audit"} == {
        t: n for t, n in original.rows.items() if t != "audit"
    }
    assert after.rows["audit"] == original.rows["audit"] + 1  # the later row stays
    with target.connect() as connection:
        assert connection.execute(select(func.count()).select_from(sessions)).scalar() == 0
        actions = connection.execute(select(audit.c.action)).scalars().all()
    assert actions[-1] == "view_audit"


def test_a_store_whose_audit_trail_is_another_is_refused(
    backed_up: Path, new_store: Callable[[], Engine]
) -> None:
    target = new_store()
    with target.begin() as connection:
        trail.record(connection, "someone-else", "login")
    with pytest.raises(BackupError, match="audit trail is not the backup's"):
        restore(target, backed_up, KEY, replace=True)
    with target.connect() as connection:
        assert connection.execute(select(audit.c.actor)).scalars().all() == ["someone-else"]


def test_a_backup_goes_into_a_new_or_empty_folder(filled: Filled, tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    with pytest.raises(BackupError, match="not empty"):
        backup(filled.engine, tmp_path / "busy", KEY)
