"""Sessions are rows in the store: a logout ends one for good, a forged cookie opens nothing,
the 8 hours are counted from the login, an idle session ends sooner, a weak signing key is
refused."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import itsdangerous
import pytest
from conftest import SECRET, USERS, csrf_of, login
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from console.app import ConsoleConfig, create_app
from console.auth import disable_user
from console.security import SESSION_COOKIE
from reports.keys import WeakKeyError, check_key
from reports.tables import sessions
from schemas.rules import ProgrammeRules


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.at = datetime(2026, 7, 3, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


def _cookie_content(client: TestClient) -> dict[str, object]:
    signed = client.cookies[SESSION_COOKIE]
    data = itsdangerous.TimestampSigner(SECRET).unsign(signed)
    content: dict[str, object] = json.loads(base64.b64decode(data))
    return content


def _forge(content: dict[str, object], secret: str = SECRET) -> str:
    data = base64.b64encode(json.dumps(content).encode())
    return itsdangerous.TimestampSigner(secret).sign(data).decode()


def _logged_in(client: TestClient) -> bool:
    return client.get("/alerts").status_code == 200


def test_a_cookie_saved_before_logout_opens_nothing_after_it(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client("analyst")
    saved = client.cookies[SESSION_COOKIE]
    assert _logged_in(client)
    token = csrf_of(client, "/alerts")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, saved)
    answer = client.get("/alerts")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_a_cookie_forged_with_the_signing_key_names_no_session(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    # what a cookie held before sessions were kept in the store: the user's name
    client.cookies.set(SESSION_COOKIE, _forge({"user": USERS["supervisor"]}))
    assert client.get("/audit").status_code == 303
    client.cookies.set(SESSION_COOKIE, _forge({"sid": "made-up-session-id"}))
    assert client.get("/audit").status_code == 303


@pytest.mark.parametrize(
    "secret",
    [
        "changeme",
        "test-secret-not-for-production",  # 30 bytes
        "changeme" * 4,
        "0" * 64,
        "CHANGE_ME-please-generate-a-real-key-here",
        "my-example-console-secret-for-riskmon-2026",
    ],
)
def test_the_console_refuses_a_weak_signing_key(
    engine: Engine, rules: ProgrammeRules, secret: str
) -> None:
    with pytest.raises(WeakKeyError, match="RISKMON_CONSOLE_SECRET") as refused:
        create_app(ConsoleConfig(engine=engine, rules=rules, secret=secret))
    assert secret not in str(refused.value)


def test_a_generated_key_is_accepted() -> None:
    import secrets

    for _ in range(200):
        key = secrets.token_urlsafe(32)
        assert check_key("K", key) == key


def test_the_session_ends_eight_hours_after_the_login_however_busy(
    make_client: Callable[..., TestClient],
) -> None:
    clock = Clock()
    client = make_client("analyst", clock=clock)
    for _ in range(47):  # a page every 10 minutes for 7 h 50 min
        clock.advance(minutes=10)
        assert _logged_in(client)
    clock.advance(minutes=10, seconds=1)
    assert not _logged_in(client)


def test_an_idle_session_ends_after_the_idle_limit(
    make_client: Callable[..., TestClient],
) -> None:
    clock = Clock()
    client = make_client("analyst", clock=clock)
    clock.advance(minutes=29)
    assert _logged_in(client)
    clock.advance(minutes=29)
    assert _logged_in(client)  # the last page counted
    clock.advance(minutes=30, seconds=1)
    assert not _logged_in(client)


def test_disabling_a_user_ends_their_open_session_at_once(
    make_client: Callable[..., TestClient], engine: Engine
) -> None:
    client = make_client("analyst")
    other = make_client("supervisor")
    with engine.begin() as connection:
        assert disable_user(connection, USERS["analyst"], datetime.now(UTC)) == 1
    assert not _logged_in(client)
    assert _logged_in(other)
    token = csrf_of(client)
    answer = client.post(
        "/login",
        data={"name": USERS["analyst"], "password": "correct horse battery", "csrf_token": token},
    )
    assert answer.status_code == 401


def test_the_store_keeps_only_a_hash_of_the_session_id(
    make_client: Callable[..., TestClient], engine: Engine
) -> None:
    client = make_client("bureau")
    session_id = _cookie_content(client)["sid"]
    assert isinstance(session_id, str) and len(session_id) >= 40
    with engine.connect() as connection:
        rows = connection.execute(select(sessions)).mappings().all()
    assert len(rows) == 1 and rows[0]["name"] == USERS["bureau"]
    assert session_id not in json.dumps([dict(r) for r in rows], default=str)
    assert rows[0]["expires_at"] - rows[0]["created_at"] == timedelta(hours=8)


def test_a_login_starts_a_new_session_and_the_old_id_is_worthless(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client("analyst")
    first = _cookie_content(client)["sid"]
    client.cookies.clear()
    login(client, USERS["analyst"])
    second = _cookie_content(client)["sid"]
    assert first != second
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, _forge({"sid": first}))
    assert _logged_in(client)  # the first one was not ended by the second login...
    token = csrf_of(client, "/alerts")
    client.post("/logout", data={"csrf_token": token})
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, _forge({"sid": first}))
    assert not _logged_in(client)  # ...but a logout ends the one it is made from
