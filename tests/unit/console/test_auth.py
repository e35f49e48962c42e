"""Logging in: argon2 hashes, hashed API tokens, session cookie flags, CSRF, lock-out."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import PASSWORD, USERS, Seed, csrf_of, login
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, select

from console.auth import AuthError, add_user, authenticate
from reports.tables import api_tokens, audit, lockouts, users


def test_passwords_are_argon2id_hashes_and_tokens_are_kept_hashed(
    engine: Engine, seed: Seed
) -> None:
    with engine.connect() as connection:
        hashes = connection.execute(select(users.c.password_hash)).scalars().all()
        stored = connection.execute(select(api_tokens.c.token_hash)).scalars().all()
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    assert all(PASSWORD not in h for h in hashes)
    assert seed.token not in stored and len(stored[0]) == 64


def test_users_need_a_known_role_a_handle_and_a_long_password(engine: Engine) -> None:
    with engine.begin() as connection:
        with pytest.raises(AuthError, match="role"):
            add_user(connection, "x-1", "admin", PASSWORD)
        with pytest.raises(AuthError, match="name"):
            add_user(connection, "not a handle", "analyst", PASSWORD)
        with pytest.raises(AuthError, match="12 characters"):
            add_user(connection, "x-1", "analyst", "short")
        with pytest.raises(AuthError, match="exists"):
            add_user(connection, USERS["analyst"], "analyst", PASSWORD)
        assert authenticate(connection, USERS["analyst"], PASSWORD) is not None
        assert authenticate(connection, USERS["analyst"], PASSWORD + "!") is None
        assert authenticate(connection, "nobody", PASSWORD) is None


def test_the_session_cookie_is_httponly_and_samesite_lax(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    token = csrf_of(client)
    answer = client.post(
        "/login",
        data={"name": USERS["analyst"], "password": PASSWORD, "csrf_token": token},
    )
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    secure = make_client(secure_cookies=True)
    assert "; secure" in secure.get("/login").headers["set-cookie"].lower()


def test_pages_carry_headers_that_forbid_framing_and_foreign_scripts(
    make_client: Callable[..., TestClient],
) -> None:
    page = make_client("analyst").get("/alerts")
    assert page.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


def test_a_post_without_the_csrf_token_is_refused(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    client.get("/login")
    answer = client.post("/login", data={"name": USERS["analyst"], "password": PASSWORD})
    assert answer.status_code == 403
    answer = client.post(
        "/login",
        data={"name": USERS["analyst"], "password": PASSWORD, "csrf_token": "forged"},
    )
    assert answer.status_code == 403
    analyst = make_client("analyst")
    alert = analyst.get("/alerts").text.split('href="/alerts/')[1].split('"')[0]
    refused = analyst.post(f"/alerts/{alert}/verdict", data={"action": "confirm"})
    assert refused.status_code == 403


def test_a_wrong_password_is_refused_and_recorded_and_five_lock_the_name(
    make_client: Callable[..., TestClient], engine: Engine
) -> None:
    client = make_client()
    for attempt in range(5):
        token = csrf_of(client)
        answer = client.post(
            "/login", data={"name": USERS["bureau"], "password": "wrong" * 4, "csrf_token": token}
        )
        assert answer.status_code == (401 if attempt < 4 else 429)
    token = csrf_of(client)
    answer = client.post(
        "/login", data={"name": USERS["bureau"], "password": PASSWORD, "csrf_token": token}
    )
    assert answer.status_code == 429 and "失败次数过多" in answer.text
    assert 14 * 60 <= int(answer.headers["retry-after"]) <= 15 * 60
    with engine.begin() as connection:
        connection.execute(delete(lockouts))
    login(client, USERS["bureau"])
    with engine.connect() as connection:
        actions = (
            connection.execute(select(audit.c.action).where(audit.c.actor == USERS["bureau"]))
            .scalars()
            .all()
        )
    assert actions == ["login_failed"] * 6 + ["login"]


def test_login_goes_back_to_the_page_asked_for_but_never_to_another_site(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    first = client.get("/alerts?risk=fraud")
    assert first.status_code == 303 and first.headers["location"].startswith("/login?next=")
    for target, expected in (("/alerts", "/alerts"), ("//evil.example", "/"), ("https://x", "/")):
        token = csrf_of(client)
        answer = client.post(
            "/login",
            data={
                "name": USERS["analyst"],
                "password": PASSWORD,
                "csrf_token": token,
                "next": target,
            },
        )
        assert answer.headers["location"] == expected
        client.cookies.clear()
