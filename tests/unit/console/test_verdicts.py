"""Verdicts: status, labels (in the outbox without a broker, sent with one), incidents, the
audit row; no second verdict on a closed alert."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest
from conftest import USERS
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import DBAPIError

from console.verdicts import OUTBOX, SENT, LabelSender
from reports.tables import alert_orders, alert_status, alerts, audit, incidents, labels_out
from schemas.decode import decode_label

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _alert(engine: Engine, *, risk: str | None = None, orders: int = 1) -> str:
    with engine.connect() as connection:
        query = select(alerts.c.alert_id).order_by(alerts.c.alert_id)
        if risk:
            query = query.where(alerts.c.risk == risk)
        for alert_id in connection.execute(query).scalars():
            n = len(
                connection.execute(
                    select(alert_orders.c.order_id).where(alert_orders.c.alert_id == alert_id)
                ).all()
            )
            if n >= orders:
                return str(alert_id)
    raise AssertionError("no such alert in the simulated store")


def _verdict(client: TestClient, alert_id: str, action: str, comment: str = "") -> Any:
    page = client.get(f"/alerts/{alert_id}")
    token = CSRF.search(page.text)
    assert token
    return client.post(
        f"/alerts/{alert_id}/verdict",
        data={"action": action, "comment": comment, "csrf_token": token.group(1)},
    )


def _labels(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return connection.execute(select(labels_out).order_by(labels_out.c.order_id)).all()


def test_confirming_writes_a_fraud_label_per_order_to_the_outbox_and_says_so(
    make_client: Callable[..., TestClient], engine: Engine
) -> None:
    client = make_client("analyst")
    alert_id = _alert(engine, risk="hoarding", orders=2)
    answer = _verdict(client, alert_id, "confirm", "same address, four people")
    assert answer.status_code == 303
    page = client.get(answer.headers["location"]).text
    assert "预警已确认欺诈" in page and "暂存于待发队列" in page and "未配置消息队列" in page
    with engine.connect() as connection:
        status = connection.execute(
            select(alert_status.c.status).where(alert_status.c.alert_id == alert_id)
        ).scalar_one()
        orders = (
            connection.execute(
                select(alert_orders.c.order_id).where(alert_orders.c.alert_id == alert_id)
            )
            .scalars()
            .all()
        )
        row = connection.execute(select(audit).where(audit.c.action == "verdict")).one()
    assert status == "confirmed"
    labels = _labels(engine)
    assert sorted(r.order_id for r in labels) == sorted(orders)
    for row_ in labels:
        label = decode_label(row_.payload.encode())
        assert (label.label, label.risk, label.analyst) == ("fraud", "hoarding", USERS["analyst"])
        assert label.labelled_at.utcoffset() is not None and row_.status == OUTBOX
    assert row.actor == USERS["analyst"] and row.target == alert_id
    assert orjson.loads(row.detail)["comment"] == "same address, four people"
    refused = _verdict(client, alert_id, "dismiss")
    assert refused.status_code == 409 and "confirmed already" in refused.text


def test_dismissing_labels_the_orders_legit_and_escalating_files_an_incident(
    make_client: Callable[..., TestClient], engine: Engine
) -> None:
    analyst = make_client("analyst")
    with engine.connect() as connection:
        two = (
            connection.execute(select(alerts.c.alert_id).where(alerts.c.risk != "budget").limit(2))
            .scalars()
            .all()
        )
    assert _verdict(analyst, two[0], "dismiss").status_code == 303
    assert {decode_label(r.payload.encode()).label for r in _labels(engine)} == {"legit"}
    assert _verdict(analyst, two[1], "escalate", "for the bureau").status_code == 303
    with engine.connect() as connection:
        incident = connection.execute(select(incidents)).one()
    assert incident.alert_id == two[1] and incident.filed_by == USERS["analyst"]
    bureau = make_client("bureau")
    listing = bureau.get("/incidents").text
    assert f"/incidents/{incident.incident_id}" in listing and "for the bureau" in listing
    page = bureau.get(f"/incidents/{incident.incident_id}")
    assert page.status_code == 200 and "处置</h2>" not in page.text  # read-only
    # an escalated alert still takes the final word, and labels follow it
    assert _verdict(analyst, two[1], "confirm").status_code == 303
    assert _verdict(analyst, two[1], "escalate").status_code == 409


def test_a_budget_alert_takes_a_verdict_but_teaches_the_models_nothing(
    make_client: Callable[..., TestClient], engine: Engine
) -> None:
    # the simulated days spend too little to cross a threshold: one as the budget detector
    # would raise it
    with engine.begin() as connection:
        order_id = connection.execute(select(alert_orders.c.order_id).limit(1)).scalar_one()
        connection.execute(
            alerts.insert().values(
                alert_id="b" * 32,
                event_id="ev-budget#0.5",
                raised_at=datetime(2026, 7, 1, 12, tzinfo=UTC),
                day=date(2026, 7, 1),
                detector="budget_threshold",
                risk="budget",
                severity="low",
                action="notify",
                entity_type="budget_line",
                entity_key="featured_goods/digital",
                subsidy_at_risk=Decimal(0),
                score=1.0,
                evidence='{"threshold": 0.5}',
            )
        )
        connection.execute(alert_orders.insert().values(alert_id="b" * 32, order_id=order_id))
    assert _verdict(make_client("analyst"), "b" * 32, "dismiss").status_code == 303
    assert _labels(engine) == []


def test_the_outbox_goes_to_the_broker_when_there_is_one(engine: Engine) -> None:
    sent: list[tuple[str, bytes, bytes]] = []

    class Future:
        def get(self, timeout: float) -> None:
            return None

    class Producer:
        def send(self, topic: str, value: bytes, key: bytes) -> Future:
            sent.append((topic, key, value))
            return Future()

        def flush(self, timeout: float) -> None:
            return None

        def close(self, timeout: float) -> None:
            return None

    with engine.begin() as connection:
        from console.auth import User
        from console.verdicts import give
        from schemas.rules import load_rules

        alert_id = _alert(engine, risk="arbitrage")
        give(
            connection,
            User(USERS["analyst"], "analyst"),
            alert_id,
            "confirm",
            "",
            timezone=load_rules().timezone,
        )
    assert LabelSender(engine, None).flush() == 0  # no broker: they wait
    sender = LabelSender(engine, "broker.invalid:9092")
    sender._producer = Producer()
    waiting = len(_labels(engine))
    assert sender.flush() == waiting > 0
    assert {topic for topic, _, _ in sent} == {"labels"}
    assert {key.decode() for _, key, _ in sent} == {r.order_id for r in _labels(engine)}
    assert {r.status for r in _labels(engine)} == {SENT}
    assert sender.flush() == 0  # nothing is sent twice


def test_the_audit_trail_refuses_update_and_delete(
    make_client: Callable[..., TestClient], engine: Engine
) -> None:
    make_client("supervisor")
    for statement in (update(audit).values(actor="someone-else"), audit.delete()):
        with pytest.raises(DBAPIError, match="append-only"):
            with engine.begin() as connection:
                connection.execute(statement)
    with engine.connect() as connection:
        assert connection.execute(select(audit.c.actor)).scalars().all() == [USERS["supervisor"]]


def test_supervisors_see_and_export_the_audit_trail(
    make_client: Callable[..., TestClient], engine: Engine
) -> None:
    analyst = make_client("analyst")
    alert_id = _alert(engine)
    analyst.get(f"/alerts/{alert_id}")
    supervisor = make_client("supervisor")
    page = supervisor.get("/audit", params={"action": "view_alert"}).text
    assert USERS["analyst"] in page and alert_id in page
    export = supervisor.get("/audit.csv")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    lines = export.text.strip().splitlines()
    assert lines[0] == "audit_id,at,actor,role,action,target,detail,remote"
    actions = [line.split(",")[4] for line in lines[1:]]
    assert actions[:3] == ["login", "view_alert", "login"] and "view_audit" in actions
    assert make_client("analyst").get("/audit").status_code == 403
