"""The supervisors' page of controls (/controls): a control issued at once into the outbox with
its audit row; pausing a programme or blocking a merchant only once a second, different
supervisor approves; a lift; a reason required for each; analysts see and cannot act, the
bureau cannot see (tests/unit/console/test_routes.py walks every role over every route)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import orjson
from conftest import PASSWORD, csrf_of, login
from disguises import make_id
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from console.auth import add_user
from reports.bureau_tables import controls_out
from reports.control_tables import control_requests
from reports.tables import audit
from schemas.decode import decode_control

# a resident ID number with a valid checksum, built at test time: no fixture holds one
RAW_ID = make_id(random.Random(5), ending_in_x=True)


def form(client: TestClient, path: str, **fields: Any) -> Any:
    fields["csrf_token"] = csrf_of(client, "/controls")
    return client.post(path, data=fields)


def _issued(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        payloads = connection.execute(
            select(controls_out.c.payload).order_by(controls_out.c.control_id)
        ).scalars()
        return [decode_control(p.encode()) for p in payloads]


def _trail(engine: Engine, action: str) -> list[Any]:
    with engine.connect() as connection:
        return connection.execute(
            select(audit.c.actor, audit.c.target, audit.c.detail)
            .where(audit.c.action == action)
            .order_by(audit.c.audit_id)
        ).all()


def test_a_control_is_issued_at_once_and_lifted(
    make_client: Callable[..., TestClient], engine: Engine
) -> None:
    supervisor = make_client("supervisor")
    refused = form(supervisor, "/controls", kind="sku", key="SKU-9", action="hold", reason=" ")
    assert refused.status_code == 422
    added = form(
        supervisor,
        "/controls",
        kind="sku",
        key="SKU-9",
        action="hold",
        reason="价格异常,待核实",
        expires="7d",
    )
    assert added.status_code == 303, added.text
    (control,) = _issued(engine)
    assert (control.kind, control.key, control.action, control.author) == (
        "sku",
        "SKU-9",
        "hold",
        "sup-1",
    )
    assert control.expires_at is not None and (control.expires_at - control.issued_at).days == 7
    ((actor, target, detail),) = _trail(engine, "control")
    assert (actor, target) == ("sup-1", control.control_id)
    assert orjson.loads(detail)["reason"] == "价格异常,待核实"
    page = supervisor.get("/controls").text
    assert control.control_id in page and "生效中" in page and "冻结待审" in page
    assert "待发送" in page  # no broker configured: the record waits in the outbox

    assert form(supervisor, f"/controls/{control.control_id}/lift", reason="").status_code == 422
    lifted = form(supervisor, f"/controls/{control.control_id}/lift", reason="已核实")
    assert lifted.status_code == 303
    lift = _issued(engine)[-1]
    assert (lift.kind, lift.key, lift.action) == ("sku", "SKU-9", "lift")
    assert form(supervisor, f"/controls/{control.control_id}/lift", reason="x").status_code == 409
    assert "已解除" in supervisor.get("/controls").text
    assert form(supervisor, "/controls/c-nope/lift", reason="x").status_code == 404


def test_a_pause_or_a_merchant_block_needs_a_second_supervisor(
    make_client: Callable[..., TestClient], engine: Engine
) -> None:
    with engine.begin() as connection:
        add_user(connection, "sup-2", "supervisor", PASSWORD)
    first = make_client("supervisor")
    second = make_client()
    login(second, "sup-2")
    paused = form(
        first,
        "/controls",
        kind="programme",
        key="featured_goods",
        action="pause",
        reason="预算将尽",
    )
    assert paused.status_code == 303
    assert _issued(engine) == []  # requested, not issued
    with engine.connect() as connection:
        request_id, state = connection.execute(
            select(control_requests.c.request_id, control_requests.c.state)
        ).one()
    assert state == "pending" and "待复核" in first.get("/controls").text
    assert form(first, f"/controls/{request_id}/approve").status_code == 403  # not the asker
    assert _issued(engine) == []
    assert form(second, f"/controls/{request_id}/approve").status_code == 303
    (control,) = _issued(engine)
    assert (control.control_id, control.kind, control.action) == (request_id, "programme", "pause")
    assert control.author == "sup-1"
    assert orjson.loads(_trail(engine, "control")[0].detail)["approved_by"] == "sup-2"
    assert [t.actor for t in _trail(engine, "control_request")] == ["sup-1"]
    assert form(second, f"/controls/{request_id}/approve").status_code == 409  # once only
    assert "sup-2" in first.get("/controls").text  # who approved it, on the page

    blocked = form(first, "/controls", kind="merchant", key="M0003", action="block", reason="刷单")
    assert blocked.status_code == 303
    with engine.connect() as connection:
        (block_id,) = connection.execute(
            select(control_requests.c.request_id).where(control_requests.c.state == "pending")
        ).scalars()
    assert form(second, f"/controls/{block_id}/refuse").status_code == 303
    assert len(_issued(engine)) == 1  # refused: never issued
    assert [t.actor for t in _trail(engine, "control_refuse")] == ["sup-2"]
    assert "已驳回" in first.get("/controls").text
    # a hold on a merchant is no block: issued at once
    assert (
        form(first, "/controls", kind="merchant", key="M0003", action="hold", reason="核查")
    ).status_code == 303
    assert _issued(engine)[-1].action == "hold"


def test_analysts_see_without_forms_and_a_bad_record_is_refused_in_words(
    make_client: Callable[..., TestClient], engine: Engine
) -> None:
    supervisor, analyst = make_client("supervisor"), make_client("analyst")
    assert (
        form(supervisor, "/controls", kind="sku", key="SKU-1", action="block", reason="x")
    ).status_code == 303
    page = analyst.get("/controls")
    assert page.status_code == 200 and "SKU-1" in page.text
    assert 'action="/controls"' not in page.text and "/lift" not in page.text
    assert form(
        analyst, "/controls", kind="sku", key="S", action="hold", reason="x"
    ).status_code == (403)
    bad = [
        {"kind": "consumer", "key": RAW_ID, "action": "block"},  # a raw ID
        {"kind": "sku", "key": "S", "action": "pause"},
        {"kind": "planet", "key": "S", "action": "block"},
        {"kind": "sku", "key": "S", "action": "block", "expires": "yesterday"},
    ]
    for fields in bad:
        answer = form(supervisor, "/controls", reason="x", **fields)
        assert answer.status_code == 422, fields
        assert RAW_ID not in answer.text
    assert len(_issued(engine)) == 1
    address = "ab" * 32
    allowed = form(
        supervisor, "/controls", kind="address", key=address, action="allow", reason="站点"
    )
    assert allowed.status_code == 303
    page = analyst.get("/controls").text
    assert address not in page and address[:8] + "…" in page  # masked, as on every page
