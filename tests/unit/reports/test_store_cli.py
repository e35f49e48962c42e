"""The store's commands, on RISKMON_DATABASE_URL: replay --store, db, report, reconcile,
backup and restore, and their errors in words."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Filled
from sqlalchemy import select
from store_checks import injected_bill
from typer.testing import CliRunner

from reports.backup import digest
from reports.db import open_engine
from reports.formats import money
from reports.frames import yuan
from reports.reconcile import read_bill, reconcile
from reports.tables import audit
from riskmon.cli import app

runner = CliRunner()


KEY = "u3Vb8Nq1Lz6Wc9Ty2Rm5Kd0Hs4Jf7GpX"  # made for these tests


@pytest.fixture
def store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path}/var/riskmon.db"
    monkeypatch.setenv("RISKMON_DATABASE_URL", url)
    monkeypatch.setenv("RISKMON_BACKUP_KEY", KEY)
    # the paths the commands print on one line, however long the tmp path (an xdist worker's is)
    monkeypatch.setenv("COLUMNS", "250")
    return url


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_replay_fills_the_store_and_the_other_commands_read_it(
    filled: Filled, store_url: str, tmp_path: Path
) -> None:
    folder = filled.folder
    invoke(
        "replay",
        "--events",
        str(folder / "events.jsonl"),
        "--catalog",
        str(folder / "catalog.jsonl"),
        "--store",
    )
    engine = open_engine(store_url)
    try:
        assert digest(engine) == digest(filled.engine)
        over, unknown, refunded = injected_bill(engine, tmp_path / "bill.csv")
    finally:
        engine.dispose()
    status = invoke("db", "status")
    assert f"decisions: {filled.stats.orders:,} rows" in status
    out = invoke("report", "daily", "--out", str(tmp_path / "r" / "daily.html"))
    assert "daily.html" in out and (tmp_path / "r" / "daily.html").exists()
    invoke("report", "incidents", "--format", "md", "--out", str(tmp_path / "r" / "inc.txt"))
    invoke("report", "ledger", "--date", "2026-07-01", "--out", str(tmp_path / "r" / "l.csv"))
    checked = invoke(
        "reconcile",
        "--bill",
        str(tmp_path / "bill.csv"),
        "--out",
        str(tmp_path / "d.xlsx"),
        "--lang",
        "en",
    )
    assert "over claimed" in checked and (tmp_path / "d.xlsx").exists()
    excess = sum(over.values()) + sum(unknown.values()) + sum(refunded.values())
    expected = reconcile(filled.engine, read_bill(tmp_path / "bill.csv"))
    assert yuan(expected.billed - expected.payable) == excess
    assert f"payable {money(yuan(expected.payable))}" in " ".join(checked.split())
    invoke("backup", str(tmp_path / "bk"))
    restored = f"sqlite:///{tmp_path}/restored.db"
    result = runner.invoke(
        app, ["restore", str(tmp_path / "bk")], env={"RISKMON_DATABASE_URL": restored}
    )
    assert result.exit_code == 0, result.output
    assert "every console session ended" in " ".join(result.output.split())
    engine = open_engine(restored)
    try:
        rows = digest(engine).rows
        assert rows.pop("audit") == 1  # the restore, recorded
        assert rows == {t: n for t, n in digest(filled.engine).rows.items() if t != "audit"}
        with engine.connect() as connection:
            done = connection.execute(select(audit.c.action, audit.c.actor)).one()
    finally:
        engine.dispose()
    assert done.action == "restore" and done.actor.startswith("cli")
    foreign = runner.invoke(
        app,
        ["restore", str(tmp_path / "bk")],
        env={"RISKMON_DATABASE_URL": restored, "RISKMON_BACKUP_KEY": KEY[::-1]},
    )
    assert foreign.exit_code == 2 and "made with another key" in foreign.output


def test_backup_needs_a_real_key(filled: Filled, store_url: str, tmp_path: Path) -> None:
    invoke("db", "upgrade")
    for key, error in (("", "RISKMON_BACKUP_KEY is not set"), ("changeme", "8 bytes long")):
        result = runner.invoke(
            app, ["backup", str(tmp_path / "bk")], env={"RISKMON_BACKUP_KEY": key}
        )
        assert result.exit_code == 2 and error in result.output
        assert not (tmp_path / "bk").exists()


def test_reading_an_empty_store_is_refused_in_words(store_url: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", "daily", "--out", str(tmp_path / "x.html")])
    assert result.exit_code == 2
    assert "no riskmon tables yet" in result.output and "riskmon db upgrade" in result.output
    invoke("db", "upgrade")
    result = runner.invoke(app, ["report", "daily", "--out", str(tmp_path / "x.html")])
    assert result.exit_code == 2 and "holds nothing yet" in result.output


def test_a_truncated_backup_is_refused_by_restore(
    filled: Filled, store_url: str, tmp_path: Path
) -> None:
    from reports.backup import BackupKey, backup

    backup(filled.engine, tmp_path / "bk", BackupKey.of(KEY))
    path = tmp_path / "bk" / "alerts.jsonl.gz.sealed"
    path.write_bytes(path.read_bytes()[:-100])
    result = runner.invoke(app, ["restore", str(tmp_path / "bk")])
    assert result.exit_code == 2
    assert "the backup is damaged: alerts.jsonl.gz.sealed" in result.output
    assert not (tmp_path / "var" / "riskmon.db").exists()  # nothing was touched


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["report", "weekly", "--out", "x.html"], "one of daily, incidents, ledger"),
        (["report", "daily", "--out", "x.pdf"], "--format must be one of"),
        (["report", "daily", "--out", "x.html", "--lang", "fr"], "--lang must be zh or en"),
        (["report", "daily", "--out", "x.html", "--from", "2026-07-02"], "go together"),
        (["report", "daily", "--out", "x.html", "--date", "July"], "YYYY-MM-DD"),
    ],
)
def test_bad_options_are_refused_in_words(store_url: str, args: list[str], error: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and error in result.output


def test_a_database_that_cannot_be_reached_is_named_without_its_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RISKMON_DATABASE_URL", "postgresql://app:s3cret@127.0.0.1:1/nowhere")
    result = runner.invoke(app, ["db", "status"])
    assert result.exit_code == 2
    assert "127.0.0.1:1/nowhere" in result.output and "s3cret" not in result.output
