"""Schemathesis fuzzes the decision API from its own OpenAPI document: whatever it sends, no
5xx, and every answer is one the document names, in the shape it gives. What it generates
rarely passes the contract, so a second fuzz sends valid orders with arbitrary values, which
reach the detectors."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest
import schemathesis
from conftest import Seed
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine

from console.app import ConsoleConfig, create_app
from schemas.outputs import dumps
from schemas.rules import ProgrammeRules


@pytest.fixture
def api(engine: Engine, seed: Seed, rules: ProgrammeRules) -> Iterator[FastAPI]:
    app = create_app(
        ConsoleConfig(engine=engine, rules=rules, catalog=seed.folder / "catalog.jsonl")
    )
    with TestClient(app):  # its start-up: the tokens and the state snapshot
        yield app


def test_the_decision_api_never_answers_5xx(api: FastAPI, seed: Seed) -> None:
    auth = {"authorization": f"Bearer {seed.token}"}
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", api, headers=auth)
    operation = schema["/api/v1/decide"]["POST"]
    checks = [
        schemathesis.checks.not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    statuses: set[int] = set()

    @given(case=operation.as_strategy())
    @settings(
        max_examples=60,
        deadline=None,
        derandomize=True,  # the same cases every run: a fuzz test must not be flaky
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: schemathesis.Case) -> None:
        response = case.call(headers=auth)
        statuses.add(response.status_code)
        case.validate_response(response, checks=checks)

    fuzz()
    assert statuses <= {200, 409, 413, 422} and 422 in statuses


money = st.decimals(min_value="0.01", max_value="99999.99", places=2)


@st.composite
def valid_orders(draw: st.DrawFn, base: dict[str, Any]) -> bytes:
    """A contract-valid order_paid, every value the rules weigh drawn anew."""
    event = copy.deepcopy(base)
    items = []
    for _ in range(draw(st.integers(1, 4))):
        price = draw(money)
        items.append(
            {
                "sku": draw(st.sampled_from(["SKU-00008", "SKU-00048", "SKU-99999", "x"])),
                "category": draw(st.sampled_from(CATEGORIES)),
                "quantity": draw(st.integers(1, 99)),
                "unit_price": price,
                "energy_grade": draw(st.none() | st.integers(1, 5)),
            }
        )
    total = sum((i["quantity"] * i["unit_price"] for i in items), Decimal(0))
    hours = draw(st.integers(-24 * 400, 24 * 400))
    offset = draw(st.sampled_from(["+08:00", "Z", "-05:00"]))
    at = datetime(2026, 7, 1, tzinfo=UTC) + timedelta(hours=hours)
    event |= {
        "event_id": f"fuzz-{draw(st.integers(0, 10**9))}",
        "order_id": f"FZ{draw(st.integers(0, 10**9))}",
        "programme": draw(st.sampled_from(["featured_goods", "logistics_warehouse", "none"])),
        "occurred_at": at.isoformat().replace("+00:00", offset),
        "items": items,
        "order_amount": total,
        "subsidy_amount": draw(st.sampled_from([Decimal(0), total, Decimal("500.00")])),
        "qualification": draw(
            st.none()
            | st.builds(lambda c: {"code": c, "verified": True}, st.text("AB1", min_size=1))
        ),
        "warehouse_id": draw(st.none() | st.sampled_from(["WH-01", "WH-XX"])),
    }
    event["consumer"] = event["consumer"] | {"birth_year": draw(st.integers(1900, 2100))}
    event["payment"] = event["payment"] | {"paid_amount": total}
    return dumps(event)  # money as exact JSON numbers


CATEGORIES = ["mobile_phone", "refrigerator", "local_food", "tablet", "television", "toy"]


def test_valid_orders_with_arbitrary_values_are_always_decided(api: FastAPI, seed: Seed) -> None:
    base = next(
        orjson.loads(line)
        for line in (seed.folder / "events.jsonl").read_bytes().splitlines()
        if b'"order_paid"' in line
    )
    statuses: dict[int, int] = {}
    with TestClient(api) as client:
        client.headers["authorization"] = f"Bearer {seed.token}"

        @given(raw=valid_orders(base))
        @settings(max_examples=150, deadline=None, derandomize=True, database=None)
        def fuzz(raw: bytes) -> None:
            answer = client.post("/api/v1/decide", content=raw)
            statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
            assert answer.status_code in (200, 409), answer.text

        fuzz()
    assert statuses.get(200, 0) > 100
