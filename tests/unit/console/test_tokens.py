"""Decision-API tokens are checked in the store on every request: a revoked token is refused
from the next request on, an expired one too; `riskmon token add|list|revoke`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import Seed
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from console.auth import AuthError, add_token, revoke_token, token_id_of, token_user
from reports.db import open_engine
from reports.tables import api_tokens, audit
from riskmon.cli import app

runner = CliRunner()


def _decide(client: TestClient, token: str) -> int:
    answer = client.post(
        "/api/v1/decide", content=b"{}", headers={"authorization": f"Bearer {token}"}
    )
    return answer.status_code


@pytest.mark.parametrize("fast_path", [True, False])
def test_a_revoked_token_is_refused_from_the_next_request_on(
    make_client: Callable[..., TestClient], engine: Engine, seed: Seed, fast_path: bool
) -> None:
    client = make_client(fast_path=fast_path)
    assert _decide(client, seed.token) == 422  # accepted; the empty event is not an order
    # revoked by another process (the command line) on the same store
    other = open_engine(engine.url)
    try:
        with other.begin() as connection:
            assert revoke_token(connection, seed.token, datetime.now(UTC)) == "platform-a"
    finally:
        other.dispose()
    assert _decide(client, seed.token) == 401


def test_a_token_past_its_expiry_is_refused(
    make_client: Callable[..., TestClient], engine: Engine
) -> None:
    now = datetime.now(UTC)
    with engine.begin() as connection:
        token = add_token(connection, "platform-b", now + timedelta(hours=1))
        with pytest.raises(AuthError, match="future"):
            add_token(connection, "platform-b", now - timedelta(seconds=1))
    later = {"at": now}
    client = make_client(clock=lambda: later["at"])
    assert _decide(client, token) == 422
    later["at"] = now + timedelta(hours=1, seconds=1)
    assert _decide(client, token) == 401


def test_a_token_is_matched_whole_not_by_its_public_part(engine: Engine, seed: Seed) -> None:
    token_id = token_id_of(seed.token)
    now = datetime.now(UTC)
    with engine.connect() as connection:
        assert token_user(connection, seed.token, now) == "platform-a"
        assert token_user(connection, f"rmk_{token_id}_guessed", now) is None
        assert token_user(connection, "rmk_" + "x" * 5000 + "_y", now) is None


@pytest.fixture
def store_url(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> str:
    url = engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("RISKMON_DATABASE_URL", url)
    return url


def test_tokens_are_listed_revoked_and_given_an_expiry_from_the_command_line(
    store_url: str, engine: Engine
) -> None:
    issued = runner.invoke(app, ["token", "add", "platform-c", "--expires", "30d"])
    assert issued.exit_code == 0, issued.output
    token = issued.stdout.strip().splitlines()[-1]
    token_id = token_id_of(token)
    assert token_id is not None
    with engine.connect() as connection:
        expires = connection.execute(
            select(api_tokens.c.expires_at).where(api_tokens.c.token_id == token_id)
        ).scalar_one()
    assert timedelta(days=29, hours=23) < expires - datetime.now(UTC) <= timedelta(days=30)
    listed = runner.invoke(app, ["token", "list"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and token_id in listed.output and "platform-c" in listed.output
    assert token not in listed.output
    revoked = runner.invoke(app, ["token", "revoke", token_id])
    assert revoked.exit_code == 0 and f"revoked token {token_id} of platform-c" in revoked.output
    again = runner.invoke(app, ["token", "revoke", token_id])
    assert again.exit_code == 2 and "revoked already" in again.output
    listed = runner.invoke(app, ["token", "list"], env={"COLUMNS": "200"})
    assert "revoked" in listed.output
    with engine.connect() as connection:
        assert token_user(connection, token, datetime.now(UTC)) is None
        rows = connection.execute(
            select(audit.c.action, audit.c.target).where(audit.c.target == "platform-c")
        ).all()
    assert [tuple(r) for r in rows] == [("token_add", "platform-c"), ("token_revoke", "platform-c")]


@pytest.mark.parametrize(
    ("expires", "message"),
    [("yesterday", "--expires is"), ("2020-01-01", "in the past"), ("10y", "--expires is")],
)
def test_a_wrong_expiry_is_refused_in_words(store_url: str, expires: str, message: str) -> None:
    result = runner.invoke(app, ["token", "add", "platform-d", "--expires", expires])
    assert result.exit_code == 2 and message in result.output


def test_a_token_without_expiry_needs_saying_so(store_url: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["token", "add", "platform-e", "--expires", "never"])
    assert result.exit_code == 0 and "with no expiry" in result.output
