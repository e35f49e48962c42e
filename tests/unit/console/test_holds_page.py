"""The console's holds page: analysts and supervisors see the held orders, the old ones marked;
only a supervisor releases one, with a reason, audited; the bureau does not see the page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import orjson
from conftest import csrf_of
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from reports.fund_moves import order_money
from reports.fund_states import HELD, RELEASED
from reports.holds import held_orders
from reports.tables import audit


def test_holds_are_listed_and_a_supervisor_releases_one_with_a_reason(
    make_client: Callable[..., TestClient], engine: Engine
) -> None:
    held = held_orders(engine, datetime.now(UTC))
    assert held, "the simulated days hold some orders"
    first = held[0].order_id
    analyst = make_client("analyst")
    page = analyst.get("/holds")
    assert page.status_code == 200
    assert first in page.text and "⚠" in page.text  # July's holds are old by now
    assert 'action="/holds/' not in page.text  # no release form for an analyst
    token = csrf_of(analyst, "/holds")
    refused = analyst.post(f"/holds/{first}/release", data={"reason": "x", "csrf_token": token})
    assert refused.status_code == 403
    assert make_client("bureau").get("/holds").status_code == 403

    supervisor = make_client("supervisor")
    token = csrf_of(supervisor, "/holds")
    blank = supervisor.post(f"/holds/{first}/release", data={"reason": " ", "csrf_token": token})
    assert blank.status_code == 409
    done = supervisor.post(
        f"/holds/{first}/release", data={"reason": "merchant verified", "csrf_token": token}
    )
    assert done.status_code == 303
    again = supervisor.post(
        f"/holds/{first}/release", data={"reason": "again", "csrf_token": token}
    )
    assert again.status_code == 409
    with engine.connect() as connection:
        assert order_money(connection, [first])[first].state == RELEASED
        row = connection.execute(select(audit).where(audit.c.action == "fund_release")).one()
    assert row.actor == "sup-1" and row.target == first
    assert orjson.loads(row.detail)["from"] == HELD
    assert first not in supervisor.get("/holds").text
