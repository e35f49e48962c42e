"""The bureau's commands as an operator runs them: `bureau check`, `bureau serve --once` to a
folder, `bureau deliveries`, `retention apply` (a dry run, then --apply)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from reports.db import open_engine
from reports.tables import audit
from riskmon.cli import app

runner = CliRunner()


def invoke(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()
    config = tmp_path / "bureau.toml"
    config.write_text(
        f"""
[schedule]
first_day = {today - timedelta(days=2)}
items = ["daily"]

[[destinations]]
name = "bureau-share"
kind = "folder"
path = "{tmp_path / "outbox"}"
""",
        encoding="utf-8",
    )
    monkeypatch.setenv("RISKMON_DATABASE_URL", f"sqlite:///{tmp_path}/store.db")
    monkeypatch.setenv("RISKMON_BUREAU_CONFIG", str(config))
    monkeypatch.setenv("COLUMNS", "160")  # rich's tables whole, as on a wide terminal
    return tmp_path


def test_serve_once_delivers_what_is_due_and_deliveries_lists_it(configured: Path) -> None:
    out = invoke("bureau", "check")
    assert "1 destination(s): bureau-share (folder)" in out
    invoke("bureau", "serve", "--once")
    days = sorted(p.name for p in (configured / "outbox" / "daily").iterdir())
    assert 1 <= len(days) <= 2  # the day before yesterday, and yesterday after 01:00
    out = invoke("bureau", "deliveries")
    assert all(day in out for day in days) and "delivered" in out
    invoke("bureau", "serve", "--once")  # nothing new: nothing delivered twice
    engine = open_engine(f"sqlite:///{configured}/store.db")
    try:
        with engine.connect() as connection:
            actions = connection.execute(select(audit.c.action)).scalars().all()
    finally:
        engine.dispose()
    assert actions.count("delivery") == len(days)

    # a corrected day goes again, as version 2 beside the first
    assert "1 delivery(ies) planned again" in invoke("bureau", "resend", days[0])
    invoke("bureau", "serve", "--once")
    assert sorted(p.name for p in (configured / "outbox" / "daily" / days[0]).iterdir()) == [
        "1",
        "2",
    ]
    assert "not a day whose package is due" in invoke("bureau", "resend", "2099-01-01", code=2)


def test_serve_refuses_a_configuration_without_a_destination(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text("[schedule]\nat = 02:30:00\n", encoding="utf-8")
    monkeypatch.setenv("RISKMON_BUREAU_CONFIG", str(empty))
    assert "names no destination" in invoke("bureau", "serve", "--once", code=2)
    empty.write_text("[schedule]\nat = 'soon'\n", encoding="utf-8")
    assert "schedule.at" in invoke("bureau", "check", code=2)


def test_retention_is_a_dry_run_until_asked(configured: Path) -> None:
    out = invoke("retention", "apply")
    assert "dry run" in out and "--apply" in out
    out = invoke("retention", "apply", "--apply")
    assert "retention applied" in out
    engine = open_engine(f"sqlite:///{configured}/store.db")
    try:
        with engine.connect() as connection:
            actions = connection.execute(select(audit.c.action)).scalars().all()
    finally:
        engine.dispose()
    assert actions == ["retention_dry_run", "retention_apply"]
