"""`riskmon user add`, `riskmon token add`: on RISKMON_DATABASE_URL, audited, errors in words."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from console.auth import authenticate, load_tokens, match_token
from reports.db import open_engine
from reports.tables import audit
from riskmon.cli import app

runner = CliRunner()


@pytest.fixture
def store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path}/riskmon.db"
    monkeypatch.setenv("RISKMON_DATABASE_URL", url)
    return url


def test_users_and_tokens_are_added_from_the_command_line(store_url: str) -> None:
    added = runner.invoke(
        app,
        ["user", "add", "ana-7", "--role", "analyst", "--password-stdin"],
        input="a long enough secret\n",
    )
    assert added.exit_code == 0, added.output
    assert "added analyst ana-7" in added.output
    issued = runner.invoke(app, ["token", "add", "platform-a"])
    assert issued.exit_code == 0, issued.output
    token = issued.stdout.strip().splitlines()[-1]
    engine = open_engine(store_url)
    try:
        with engine.connect() as connection:
            assert authenticate(connection, "ana-7", "a long enough secret") is not None
            assert match_token(load_tokens(connection), token) == "platform-a"
            rows = connection.execute(select(audit.c.action, audit.c.target)).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [("user_add", "ana-7"), ("token_add", "platform-a")]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["user", "add", "x-1", "--role", "admin", "--password-stdin"], "long enough pw\n", "role"),
        (
            ["user", "add", "x 1", "--role", "analyst", "--password-stdin"],
            "long enough pw\n",
            "name",
        ),
        (["user", "add", "x-1", "--role", "analyst", "--password-stdin"], "short\n", "12"),
        (["token", "add", "not a name"], "", "name"),
    ],
)
def test_mistakes_are_refused_in_words(
    store_url: str, args: list[str], stdin: str, message: str
) -> None:
    result = runner.invoke(app, args, input=stdin)
    assert result.exit_code == 2 and message in result.output


def test_the_console_command_is_listed() -> None:
    result = runner.invoke(app, ["console", "--help"])
    assert result.exit_code == 0 and "--port" in result.output
