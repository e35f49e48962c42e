"""Backup then restore gives back the store exactly; a damaged backup is refused, the store
left untouched."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Filled
from sqlalchemy import Engine

from reports.backup import BackupError, backup, digest, read_manifest, restore, row_counts


@pytest.fixture
def backed_up(filled: Filled, tmp_path: Path) -> Path:
    folder = tmp_path / "backup"
    backup(filled.engine, folder)
    return folder


def test_backup_then_restore_reproduces_the_store(
    filled: Filled, backed_up: Path, new_store: Callable[[], Engine]
) -> None:
    original = digest(filled.engine)
    assert all(original.rows.values())  # every table has rows
    manifest = json.loads((backed_up / "manifest.json").read_text())
    assert manifest["content_sha256"] == original.sha256
    assert {t: e["rows"] for t, e in manifest["tables"].items()} == original.rows
    target = new_store()
    restore(target, backed_up)
    assert digest(target) == original


def test_the_same_store_backs_up_to_the_same_bytes(
    filled: Filled, backed_up: Path, tmp_path: Path
) -> None:
    again = tmp_path / "again"
    backup(filled.engine, again)
    for path in backed_up.glob("*.jsonl.gz"):
        assert (again / path.name).read_bytes() == path.read_bytes()


def test_a_truncated_backup_is_refused_and_the_store_left_as_it_was(
    backed_up: Path, new_store: Callable[[], Engine]
) -> None:
    target = new_store()
    path = backed_up / "fund_ledger.jsonl.gz"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(BackupError, match=r"fund_ledger.jsonl.gz has [\d,]+ bytes, the manifest"):
        restore(target, backed_up)
    assert sum(row_counts(target).values()) == 0


def test_an_altered_file_of_the_right_size_is_refused(backed_up: Path) -> None:
    path = backed_up / "decisions.jsonl.gz"
    data = bytearray(path.read_bytes())
    data[-12] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BackupError, match="does not match its SHA-256"):
        read_manifest(backed_up)


def test_a_backup_without_its_manifest_is_refused(backed_up: Path) -> None:
    (backed_up / "manifest.json").unlink()
    with pytest.raises(BackupError, match="no manifest.json: not a riskmon backup"):
        read_manifest(backed_up)
    (backed_up / "manifest.json").write_text('{"format": "riskmon-store-b')
    with pytest.raises(BackupError, match="not valid JSON"):
        read_manifest(backed_up)


def test_a_store_with_rows_is_replaced_only_when_asked(
    filled: Filled, backed_up: Path, new_store: Callable[[], Engine]
) -> None:
    target = new_store()
    restore(target, backed_up)
    with pytest.raises(BackupError, match="give --replace"):
        restore(target, backed_up)
    restore(target, backed_up, replace=True)
    assert digest(target) == digest(filled.engine)


def test_a_backup_goes_into_a_new_or_empty_folder(filled: Filled, tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    with pytest.raises(BackupError, match="not empty"):
        backup(filled.engine, tmp_path / "busy")
