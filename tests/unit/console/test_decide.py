"""The decision API: the deciding detectors over the state rebuilt from the store, exactly as
the replay's own state decides, committing nothing."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from console.app import ConsoleConfig, create_app
from console.auth import add_token
from detectors.pipeline import Pipeline
from detectors.store import MemoryStore
from replay import Replay
from reports import migrate
from reports.db import open_engine
from reports.observer import StoreObserver
from reports.writer import StoreWriter
from schemas.orders import ORDER_ADAPTER, OrderPaid
from schemas.outputs import Origin, dumps
from schemas.rules import ProgrammeRules
from simulation.generator import generate

ASKED = 60  # orders of the second day asked about, one by one


@dataclass
class Split:
    """The first simulated day in the store (and the replay's own state after it); the second
    day's paid orders, not yet decided."""

    engine: Engine
    state: MemoryStore
    folder: Path
    later: list[bytes]
    token: str


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory, rules: ProgrammeRules) -> Iterator[Split]:
    folder = tmp_path_factory.mktemp("decide")
    generate(7, 2, folder, events_per_day=1500)
    lines = (folder / "events.jsonl").read_bytes().splitlines()
    first_day = orjson.loads(lines[0])["occurred_at"][:10]
    day1 = [line for line in lines if orjson.loads(line)["occurred_at"][:10] == first_day]
    (folder / "day1.jsonl").write_bytes(b"\n".join(day1) + b"\n")
    later = [
        line
        for line in lines
        if orjson.loads(line)["occurred_at"][:10] != first_day
        and orjson.loads(line)["event_type"] == "order_paid"
    ]
    engine = open_engine(f"sqlite:///{folder}/store.db")
    migrate.upgrade(engine)
    state = MemoryStore()
    Replay(rules, state, observers=[StoreObserver(StoreWriter(engine), rules)]).run(
        folder / "day1.jsonl", catalog=folder / "catalog.jsonl"
    )
    with engine.begin() as connection:
        token = add_token(connection, "platform-a")
    yield Split(engine, state, folder, later, token)
    engine.dispose()


@pytest.fixture
def client(split: Split, rules: ProgrammeRules) -> Iterator[TestClient]:
    app = create_app(
        ConsoleConfig(engine=split.engine, rules=rules, catalog=split.folder / "catalog.jsonl")
    )
    with TestClient(app) as client:
        client.headers["authorization"] = f"Bearer {split.token}"
        yield client


def _without_codes(state: MemoryStore) -> MemoryStore:
    """The replay's deciding state less what the store cannot tell: earlier orders' codes."""
    out = MemoryStore()
    for name in ("seen_events", "orders", "quota", "budget", "catalog"):
        out.tables[name] = copy.deepcopy(state.table(name))
    return out


def test_the_rebuilt_state_is_the_replays_own(client: TestClient, split: Split) -> None:
    tables = client.app.state.console.decider.snapshot.tables  # type: ignore[attr-defined]
    quota = {c: {k: n for k, n in q.items() if n} for c, q in split.state.table("quota").items()}
    assert tables["quota"] == {c: q for c, q in quota.items() if q}
    assert {k: v["used"] for k, v in tables["budget"].items()} == {
        k: v["used"] for k, v in split.state.table("budget").items()
    }
    assert set(tables["orders"]) == set(split.state.table("orders"))
    # the payments' event ids: what a repeated order_paid would carry
    assert set(tables["seen_events"]) <= set(split.state.table("seen_events"))
    assert len(tables["seen_events"]) == len(tables["orders"])


def test_each_answer_is_what_the_pipeline_decides_on_that_state(
    client: TestClient, split: Split, rules: ProgrammeRules
) -> None:
    decisions: dict[str, int] = {}
    for raw in split.later[:ASKED]:
        event = ORDER_ADAPTER.validate_json(raw)
        assert isinstance(event, OrderPaid)
        pipeline = Pipeline(rules, _without_codes(split.state), watching=[])
        expected = pipeline.decide(event, raw, Origin("test")).decision
        assert expected is not None
        answer = client.post("/api/v1/decide", content=raw)
        assert answer.status_code == 200, answer.text
        assert answer.content == dumps(expected)
        decisions[answer.json()["decision"]] = decisions.get(answer.json()["decision"], 0) + 1
    assert decisions.get("approve", 0) > ASKED // 2


def test_nothing_is_committed_and_repeats_are_refused(client: TestClient, split: Split) -> None:
    raw = split.later[0]
    first = client.post("/api/v1/decide", content=raw)
    again = client.post("/api/v1/decide", content=raw)
    assert first.status_code == again.status_code == 200 and first.content == again.content
    stored = next(
        line
        for line in (split.folder / "day1.jsonl").read_bytes().splitlines()
        if b'"order_paid"' in line
    )
    answer = client.post("/api/v1/decide", content=stored)
    assert answer.status_code == 409 and answer.json()["error"] == "duplicate_event"
    renamed: dict[str, Any] = orjson.loads(stored)
    renamed["event_id"] = "another-event"
    answer = client.post("/api/v1/decide", content=orjson.dumps(renamed))
    assert answer.status_code == 409 and answer.json()["error"] == "duplicate_order"


def test_bad_requests_are_refused_in_words(client: TestClient, split: Split) -> None:
    assert client.post("/api/v1/decide", content=b"{broken").json()["error"] == "malformed_json"
    event: dict[str, Any] = orjson.loads(split.later[0])
    event["order_amount"] = "a lot"
    answer = client.post("/api/v1/decide", content=orjson.dumps(event))
    assert answer.status_code == 422 and "order_amount" in answer.json()["detail"]
    event = orjson.loads(split.later[0]) | {"event_type": "order_cancelled"}
    answer = client.post("/api/v1/decide", content=orjson.dumps(event))
    assert answer.status_code == 422 and answer.json()["error"] == "not_order_paid"
    big = b'{"pad": "' + b"x" * (2 << 20) + b'"}'
    assert client.post("/api/v1/decide", content=big).status_code == 413
    for header in ("Bearer rmk_00_nope", "Basic abc", ""):
        answer = client.post(
            "/api/v1/decide", content=split.later[0], headers={"authorization": header}
        )
        assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"])
def test_a_poison_time_is_refused_not_a_server_error(
    client: TestClient, split: Split, at: str
) -> None:
    # Issue 18 item 1: the decision API answered 500 (OverflowError in the detectors).
    event: dict[str, Any] = orjson.loads(split.later[0]) | {"occurred_at": at}
    answer = client.post("/api/v1/decide", content=orjson.dumps(event))
    assert answer.status_code == 422
    assert answer.json()["error"] == "time_out_of_range"
    assert answer.json()["detail"].startswith("occurred_at: outside the accepted window")


def test_the_window_of_the_settings_is_the_apis(split: Split, rules: ProgrammeRules) -> None:
    from schemas.times import TimeWindow

    event: dict[str, Any] = orjson.loads(split.later[0])
    raw = orjson.dumps(event)
    asked = datetime.fromisoformat(event["occurred_at"])
    narrow = TimeWindow(asked + timedelta(days=1), asked + timedelta(days=30))
    config = ConsoleConfig(engine=split.engine, rules=rules, event_window=narrow)
    with TestClient(create_app(config)) as narrowed:
        narrowed.headers["authorization"] = f"Bearer {split.token}"
        answer = narrowed.post("/api/v1/decide", content=raw)
    assert answer.status_code == 422 and answer.json()["error"] == "time_out_of_range"


def test_a_store_that_moved_on_is_picked_up(client: TestClient, split: Split) -> None:
    console = client.app.state.console  # type: ignore[attr-defined]
    assert console.refresh() is False  # nothing changed
    raw = split.later[0]
    assert client.post("/api/v1/decide", content=raw).status_code == 200
    engine = split.engine
    with engine.begin() as connection:
        # the worker's decision of that order, as the store observer writes it
        event = ORDER_ADAPTER.validate_json(raw)
        connection.exec_driver_sql(
            "INSERT INTO decisions VALUES (?, ?, '2026-07-02 01:00:00.000000', '2026-07-02', "
            "?, ?, ?, 'approve', 1, 1, 0, 0, '')",
            (event.order_id, event.event_id, event.programme, event.merchant_id, "c" * 64),
        )
    try:
        assert console.refresh() is True
        assert client.post("/api/v1/decide", content=raw).status_code == 409
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "DELETE FROM decisions WHERE order_id = ?", (event.order_id,)
            )
        console.refresh()


def test_the_openapi_document_describes_the_contract(client: TestClient) -> None:
    doc = client.get("/api/v1/openapi.json").json()
    operation = doc["paths"]["/api/v1/decide"]["post"]
    assert set(operation["responses"]) == {"200", "401", "409", "413", "422"}
    schemas = doc["components"]["schemas"]
    assert {"OrderPaid", "Decision", "Consumer", "Item"} <= set(schemas)
    assert schemas["Decision"]["properties"]["decision"]["enum"] == ["approve", "review", "reject"]


def test_the_fast_path_answers_as_the_route_does(
    client: TestClient, split: Split, rules: ProgrammeRules
) -> None:
    app = create_app(
        ConsoleConfig(
            engine=split.engine,
            rules=rules,
            catalog=split.folder / "catalog.jsonl",
            fast_path=False,
        )
    )
    big = b'{"pad": "' + b"x" * (2 << 20) + b'"}'
    with TestClient(app) as routed:
        routed.headers["authorization"] = client.headers["authorization"]
        for raw in [*split.later[:5], b"{broken", big]:
            fast = client.post("/api/v1/decide", content=raw)
            slow = routed.post("/api/v1/decide", content=raw)
            assert (fast.status_code, fast.content) == (slow.status_code, slow.content)
        for answer in (
            client.post("/api/v1/decide", content=split.later[0], headers={"authorization": ""}),
            routed.post("/api/v1/decide", content=split.later[0], headers={"authorization": ""}),
        ):
            assert answer.status_code == 401
