"""A store filled by a simulated replay, copied fresh for each test, with a user of each role
and an API token; clients of the console app (Starlette's TestClient) logged in as each."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from console.app import ConsoleConfig, create_app
from console.auth import add_token, add_user
from replay import Replay
from reports import migrate
from reports.db import open_engine
from reports.observer import StoreObserver
from reports.writer import StoreWriter
from schemas.rules import ProgrammeRules, load_rules
from simulation.generator import generate

PASSWORD = "correct horse battery"
SECRET = "test-only-cookie-signing-key-0f3a9c5e7b1d"  # noqa: S105 - 32+ bytes, as required
USERS = {"analyst": "ana-1", "supervisor": "sup-1", "bureau": "bur-1"}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Seed:
    folder: Path
    store: Path
    token: str


@pytest.fixture(scope="session")
def rules() -> ProgrammeRules:
    return load_rules()


@pytest.fixture(scope="session")
def seed(tmp_path_factory: pytest.TempPathFactory, rules: ProgrammeRules) -> Seed:
    """Two simulated days (every pattern) replayed into a store, users and a token added."""
    folder = tmp_path_factory.mktemp("console")
    generate(11, 2, folder, events_per_day=1500)
    store = folder / "seed.db"
    engine = open_engine(f"sqlite:///{store}")
    try:
        migrate.upgrade(engine)
        Replay(rules, observers=[StoreObserver(StoreWriter(engine), rules)]).run(
            folder / "events.jsonl", catalog=folder / "catalog.jsonl"
        )
        with engine.begin() as connection:
            for role, name in USERS.items():
                add_user(connection, name, role, PASSWORD)
            token = add_token(connection, "platform-a")
    finally:
        engine.dispose()
    return Seed(folder, store, token)


@pytest.fixture
def engine(seed: Seed, tmp_path: Path) -> Iterator[Engine]:
    """A copy of the seeded store of the test's own."""
    path = tmp_path / "store.db"
    shutil.copy(seed.store, path)
    engine = open_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture
def make_client(
    engine: Engine, seed: Seed, rules: ProgrammeRules
) -> Iterator[Callable[..., TestClient]]:
    """Clients of one app over the test's store; `make_client(role)` is logged in."""
    clients: list[TestClient] = []

    def make(role: str | None = None, **config: object) -> TestClient:
        app = create_app(
            ConsoleConfig(
                engine=engine,
                rules=rules,
                catalog=seed.folder / "catalog.jsonl",
                secret=SECRET,
                **config,  # type: ignore[arg-type]
            )
        )
        client = TestClient(app, follow_redirects=False)
        client.__enter__()
        clients.append(client)
        if role is not None:
            login(client, USERS[role])
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def csrf_of(client: TestClient, path: str = "/login") -> str:
    page = client.get(path)
    found = CSRF.search(page.text)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def login(client: TestClient, name: str, password: str = PASSWORD) -> None:
    token = csrf_of(client)
    answer = client.post(
        "/login", data={"name": name, "password": password, "csrf_token": token, "next": "/"}
    )
    assert answer.status_code == 303, answer.text
