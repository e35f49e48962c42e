"""Managing users: the supervisors' `/users` page and `riskmon user list|disable|enable|reset|
remove`, each change audited; a disabled or reset user is out at once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import PASSWORD, USERS, csrf_of, login
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from console.auth import add_user, authenticate
from reports import migrate
from reports.db import open_engine
from reports.tables import audit, users
from riskmon.cli import app

NEW_PASSWORD = "plum kettle orbit glacier"  # noqa: S105 - a test's own
runner = CliRunner()


def _change(client: TestClient, name: str, change: str, **data: str) -> int:
    token = csrf_of(client, "/users")
    answer = client.post(f"/users/{name}/{change}", data={**data, "csrf_token": token})
    return answer.status_code


def _trail(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(audit.c.actor, audit.c.action, audit.c.target)
            .where(audit.c.action.like("user_%"))
            .order_by(audit.c.audit_id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_a_supervisor_disables_enables_resets_and_removes_and_each_is_audited(
    make_client: Callable[..., TestClient], engine: Engine
) -> None:
    supervisor = make_client("supervisor")
    bureau = make_client("bureau")
    listing = supervisor.get("/users").text
    assert all(f'data-user="{name}"' in listing for name in USERS.values())
    assert "argon2" not in listing  # never a hash
    assert _change(supervisor, "bur-1", "disable") == 303
    assert "已停用 bur-1,结束 1 个会话" in supervisor.get("/users").text
    assert bureau.get("/incidents").status_code == 303  # out at once
    assert _change(supervisor, "bur-1", "disable") == 422  # disabled already
    assert _change(supervisor, "bur-1", "enable") == 303
    login(bureau, "bur-1")
    assert _change(supervisor, "bur-1", "reset", password="password1234") == 422  # guessable
    assert _change(supervisor, "bur-1", "reset", password=NEW_PASSWORD) == 303
    assert bureau.get("/incidents").status_code == 303  # the old session ended
    with engine.connect() as connection:
        assert authenticate(connection, "bur-1", PASSWORD) is None
        assert authenticate(connection, "bur-1", NEW_PASSWORD) is not None
    assert _change(supervisor, "bur-1", "remove") == 303
    assert _change(supervisor, "sup-1", "disable") == 409  # not oneself
    assert _change(supervisor, "sup-1", "remove") == 409
    assert _change(supervisor, "nobody", "enable") == 422
    with engine.connect() as connection:
        names = set(connection.execute(select(users.c.name)).scalars())
    assert names == {"ana-1", "sup-1"}
    assert _trail(engine) == [
        ("sup-1", "user_disable", "bur-1"),
        ("sup-1", "user_enable", "bur-1"),
        ("sup-1", "user_reset", "bur-1"),
        ("sup-1", "user_remove", "bur-1"),
    ]


def test_only_a_supervisor_manages_users(make_client: Callable[..., TestClient]) -> None:
    for role in ("analyst", "bureau"):
        client = make_client(role)
        assert client.get("/users").status_code == 403
        token = csrf_of(client, "/incidents")
        answer = client.post("/users/sup-1/disable", data={"csrf_token": token})
        assert answer.status_code == 403


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    url = f"sqlite:///{tmp_path}/riskmon.db"
    monkeypatch.setenv("RISKMON_DATABASE_URL", url)
    engine = open_engine(url)
    migrate.upgrade(engine)
    with engine.begin() as connection:
        add_user(connection, "ana-7", "analyst", PASSWORD)
        add_user(connection, "lead-2", "supervisor", PASSWORD, lang="en")
    return engine


def test_the_user_commands_list_disable_enable_reset_and_remove(store: Engine) -> None:
    listed = runner.invoke(app, ["user", "list"])
    assert listed.exit_code == 0, listed.output
    assert "ana-7" in listed.output and "lead-2" in listed.output and "never" in listed.output
    assert "argon2" not in listed.output
    assert runner.invoke(app, ["user", "disable", "ana-7"]).exit_code == 0
    assert "disabled" in runner.invoke(app, ["user", "list"]).output
    assert runner.invoke(app, ["user", "enable", "ana-7"]).exit_code == 0
    weak = runner.invoke(app, ["user", "reset", "ana-7", "--password-stdin"], input="short\n")
    assert weak.exit_code == 2 and "12" in weak.output
    reset = runner.invoke(
        app, ["user", "reset", "ana-7", "--password-stdin"], input=NEW_PASSWORD + "\n"
    )
    assert reset.exit_code == 0, reset.output
    with store.connect() as connection:
        assert authenticate(connection, "ana-7", NEW_PASSWORD) is not None
    unknown = runner.invoke(app, ["user", "remove", "nobody"])
    assert unknown.exit_code == 2 and "no user named" in unknown.output
    assert runner.invoke(app, ["user", "remove", "lead-2"]).exit_code == 0
    actions = [action for _, action, _ in _trail(store)]
    assert actions == ["user_disable", "user_enable", "user_reset", "user_remove"]
    store.dispose()
