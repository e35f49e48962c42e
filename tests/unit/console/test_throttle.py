"""Login throttling in the store: a limit per client beside the one per name, lock-outs that
outlive the process, a failure table that stays small."""

from __future__ import annotations

import http.client
import re
import shutil
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import PASSWORD, SECRET, USERS, Seed, csrf_of
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from console import throttle
from console.serve import served
from reports.tables import lockouts, login_failures


def _try(client: TestClient, name: str, password: str) -> int:
    token = csrf_of(client)
    answer = client.post("/login", data={"name": name, "password": password, "csrf_token": token})
    return answer.status_code


def test_one_client_trying_many_names_is_locked_out_whatever_the_name(
    make_client: Callable[..., TestClient], engine: Engine
) -> None:
    client = make_client()
    policy = throttle.Policy()
    codes = [_try(client, f"guess-{n}", "wrong password 1") for n in range(policy.per_client)]
    assert codes[:-1] == [401] * (policy.per_client - 1) and codes[-1] == 429
    # a real user's right password, from the same client: refused, no password checked
    assert _try(client, USERS["analyst"], PASSWORD) == 429
    with engine.connect() as connection:
        scopes = connection.execute(select(lockouts.c.scope, lockouts.c.key)).all()
    assert [tuple(s) for s in scopes] == [("client", "testclient")]


def test_clients_are_counted_by_address_and_ipv6_by_its_slash_64() -> None:
    assert throttle.client_key("2001:db8:1:2::5") == throttle.client_key("2001:db8:1:2:ffff::9")
    assert throttle.client_key("2001:db8:1:3::5") != throttle.client_key("2001:db8:1:2::5")
    assert throttle.client_key("::ffff:10.1.2.3") == "10.1.2.3"


def test_the_failure_table_keeps_the_window_only_and_never_more_than_its_cap(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttle, "MAX_ROWS", 50)
    policy = throttle.Policy()
    now = datetime(2026, 7, 3, 9, 0, tzinfo=UTC)
    with engine.begin() as connection:
        for n in range(400):  # a botnet: every failure from a client and a name of its own
            throttle.failed(connection, f"name-{n}", f"10.0.{n // 256}.{n % 256}", now, policy)
            now += timedelta(seconds=1)
        assert connection.execute(select(func.count()).select_from(login_failures)).scalar() <= 50
        throttle.failed(connection, "late", "10.9.9.9", now + policy.window, policy)
        rows = connection.execute(select(login_failures.c.name)).scalars().all()
    assert rows == ["late"]


def test_a_lock_out_outlives_a_restart_of_the_console(seed: Seed, tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    shutil.copy(seed.store, store)
    env = {"RISKMON_DATABASE_URL": f"sqlite:///{store}", "RISKMON_CONSOLE_SECRET": SECRET}

    def attempt(url: str, password: str) -> int:
        host, port = url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request("GET", "/login")
        page = connection.getresponse()
        cookie = page.getheader("set-cookie", "").split(";")[0]
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.read().decode())
        assert found
        body = urllib.parse.urlencode(
            {"name": USERS["analyst"], "password": password, "csrf_token": found.group(1)}
        )
        connection.request(
            "POST",
            "/login",
            body,
            {"content-type": "application/x-www-form-urlencoded", "cookie": cookie},
        )
        status = connection.getresponse().status
        connection.close()
        return status

    with served(env=env, log=tmp_path / "first.log") as url:
        codes = [attempt(url, "not the password") for _ in range(5)]
    assert codes == [401, 401, 401, 401, 429]
    with served(env=env, log=tmp_path / "second.log") as url:
        assert attempt(url, PASSWORD) == 429
