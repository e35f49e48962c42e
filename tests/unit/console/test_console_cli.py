"""`riskmon user add|disable`, `riskmon token add`, `riskmon console`: on RISKMON_DATABASE_URL,
audited, errors in words; guessable passwords and weak signing keys refused."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from console.auth import authenticate, token_user
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
            assert token_user(connection, token, datetime.now(UTC)) == "platform-a"
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


@pytest.mark.parametrize(
    "password",
    [
        "password1234",  # the top of every leaked list, padded to the length
        "qwertyuiop123",  # a keyboard walk
        "Passw0rd!2026",  # a common password dressed up
        "123456789012",
        "riskmon-console",  # the service's own words
        "ana-7ana-7ana-7",  # the user's own name
        "abcabcabcabcabc",
    ],
)
def test_a_guessable_password_is_refused_whatever_its_length(store_url: str, password: str) -> None:
    result = runner.invoke(
        app, ["user", "add", "ana-7", "--role", "analyst", "--password-stdin"], input=password
    )
    assert result.exit_code == 2 and "too easy to guess" in result.output
    assert password not in result.output


def test_a_disabled_user_cannot_log_in_and_the_change_is_audited(store_url: str) -> None:
    runner.invoke(
        app,
        ["user", "add", "ana-8", "--role", "analyst", "--password-stdin"],
        input="a long enough secret\n",
    )
    disabled = runner.invoke(app, ["user", "disable", "ana-8"])
    assert disabled.exit_code == 0 and "disabled ana-8; 0 open session(s) ended" in disabled.output
    again = runner.invoke(app, ["user", "disable", "ana-8"])
    assert again.exit_code == 2 and "disabled already" in again.output
    unknown = runner.invoke(app, ["user", "disable", "nobody"])
    assert unknown.exit_code == 2 and "no user named" in unknown.output
    engine = open_engine(store_url)
    try:
        with engine.connect() as connection:
            assert authenticate(connection, "ana-8", "a long enough secret") is None
            actions = connection.execute(select(audit.c.action)).scalars().all()
    finally:
        engine.dispose()
    assert actions == ["user_add", "user_disable"]


@pytest.mark.parametrize("secret", ["changeme", "x" * 40, "replace-me-with-a-long-random-secret"])
def test_the_console_command_refuses_a_weak_signing_key(
    store_url: str, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RISKMON_CONSOLE_SECRET", secret)
    result = runner.invoke(app, ["console", "--port", "0"])
    assert result.exit_code == 2 and "RISKMON_CONSOLE_SECRET" in result.output
    assert secret not in result.output


def test_the_signing_key_may_come_from_a_file(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "secret").write_text("changeme\n")
    monkeypatch.setenv("RISKMON_CONSOLE_SECRET_FILE", str(tmp_path / "secret"))
    result = runner.invoke(app, ["console", "--port", "0"])
    assert result.exit_code == 2 and "8 bytes long" in result.output
    monkeypatch.setenv("RISKMON_CONSOLE_SECRET", "also set")
    result = runner.invoke(app, ["console", "--port", "0"])
    assert result.exit_code == 1 and "not both" in str(result.exception or result.output)
