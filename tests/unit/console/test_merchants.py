"""The merchant register in the console: an application through the checklist to a
supervisor's approval; a suspension or an exit puts a `block` control record (events.md 1.1)
into the outbox for the `controls` topic, a reactivation a `lift`; the history and the audit
trail keep every step; the risk record on the page; the bureau reads and cannot act."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from conftest import csrf_of
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from console.merchant_controls import ControlSender, check_control
from reports.bureau_tables import controls_out, merchant_history, merchants
from reports.tables import audit, decisions

LICENCE = "91440300MA5FXXXX1Y".replace("X", "0")  # a made-up unified social credit code


def form(client: TestClient, path: str, **fields: Any) -> int:
    fields["csrf_token"] = csrf_of(client, path.rsplit("/", 1)[0] if "/M" in path else path)
    return client.post(path, data=fields).status_code


def apply(client: TestClient, merchant_id: str) -> None:
    status = form(
        client,
        "/merchants",
        merchant_id=merchant_id,
        name="坪山数码专营店",
        licence_no=LICENCE,
        categories="mobile_phone tablet",
    )
    assert status == 303


def test_an_application_is_vetted_approved_suspended_reactivated_and_exited(
    make_client: Callable[..., TestClient], engine: Engine
) -> None:
    with engine.connect() as connection:
        merchant_id = connection.execute(
            select(decisions.c.merchant_id).group_by(decisions.c.merchant_id).limit(1)
        ).scalar_one()
    analyst, supervisor = make_client("analyst"), make_client("supervisor")
    apply(analyst, merchant_id)
    page = f"/merchants/{merchant_id}"
    assert form(analyst, f"{page}/vet", licence_checked="true") == 303
    with engine.connect() as connection:
        assert connection.execute(select(merchants.c.status)).scalar_one() == "applied"
    assert form(analyst, f"{page}/decide", action="approve") == 403  # a supervisor's decision
    assert form(supervisor, f"{page}/decide", action="approve") == 409  # not vetted yet
    assert (
        form(
            analyst,
            f"{page}/vet",
            licence_checked="true",
            categories_checked="true",
            training_done="true",
        )
        == 303
    )
    assert form(supervisor, f"{page}/decide", action="approve", reason="ok") == 303
    assert form(supervisor, f"{page}/decide", action="suspend", reason="") == 422  # says why
    assert form(supervisor, f"{page}/decide", action="suspend", reason="fake orders") == 303
    assert form(supervisor, f"{page}/decide", action="reactivate", reason="cleared") == 303
    assert form(supervisor, f"{page}/decide", action="exit", reason="left the programme") == 303
    assert form(supervisor, f"{page}/decide", action="reactivate", reason="x") == 409

    with engine.connect() as connection:
        steps = connection.execute(
            select(merchant_history.c.from_status, merchant_history.c.to_status).order_by(
                merchant_history.c.history_id
            )
        ).all()
        records = [
            orjson.loads(p)
            for p in connection.execute(
                select(controls_out.c.payload).order_by(controls_out.c.control_id)
            ).scalars()
        ]
        audited = connection.execute(
            select(func.count()).where(audit.c.action == "merchant", audit.c.target == merchant_id)
        ).scalar_one()
    assert [tuple(s) for s in steps] == [
        (None, "applied"),
        ("applied", "applied"),
        ("applied", "vetted"),
        ("vetted", "active"),
        ("active", "suspended"),
        ("suspended", "active"),
        ("active", "exited"),
    ]
    assert audited == len(steps)
    assert [(r["kind"], r["key"], r["action"]) for r in records] == [
        ("merchant", merchant_id, "block"),
        ("merchant", merchant_id, "lift"),
        ("merchant", merchant_id, "block"),
    ]
    for record in records:
        check_control(record)  # events.md's fields, exactly
        assert record["author"] == "sup-1" and record["issued_at"].endswith("+08:00")
    assert records[0]["reason"] == "fake orders"

    shown = supervisor.get(page).text
    assert "风险档案" in shown and "/decide" not in shown  # an exited merchant: no move left


def test_the_outbox_goes_to_the_controls_topic_keyed_kind_and_key(engine: Engine) -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from console.merchant_controls import enqueue

    with engine.begin() as connection:
        enqueue(
            connection,
            "M0003",
            "block",
            "incident 17",
            "lead-01",
            datetime.now(UTC),
            ZoneInfo("Asia/Shanghai"),
        )

    class Producer:
        sent: list[tuple[str, bytes, bytes]] = []

        def send(self, topic: str, value: bytes, key: bytes) -> Any:
            self.sent.append((topic, key, value))
            return self

        def get(self, timeout: float) -> None:
            pass

        def flush(self, timeout: float) -> None:
            pass

        def close(self, timeout: float) -> None:
            pass

    sender = ControlSender(engine, "broker:9092")
    sender.producer = Producer()
    assert sender.flush() == 1 and sender.flush() == 0  # sent once
    ((topic, key, value),) = Producer.sent
    assert (topic, key) == ("controls", b"merchant:M0003")
    assert check_control(orjson.loads(value))["action"] == "block"
    assert ControlSender(engine, None).flush() == 0  # no broker: they wait


def test_the_bureau_reads_the_register_and_cannot_act(
    make_client: Callable[..., TestClient], engine: Engine
) -> None:
    apply(make_client("analyst"), "M0001")
    bureau = make_client("bureau")
    listing = bureau.get("/merchants").text
    assert "M0001" in listing and 'method="post" action="/merchants"' not in listing
    page = bureau.get("/merchants/M0001").text
    assert "/vet" not in page and "/decide" not in page and "风险档案" in page
    assert "/alerts/" not in page  # alerts are the risk team's pages
    assert form(bureau, "/merchants/M0001/vet", licence_checked="true") == 403


def test_the_risk_record_counts_the_merchants_orders_alerts_and_mark_up(
    make_client: Callable[..., TestClient], engine: Engine
) -> None:
    with engine.connect() as connection:
        merchant_id, orders = connection.execute(
            select(decisions.c.merchant_id, func.count())
            .group_by(decisions.c.merchant_id)
            .order_by(func.count().desc())
            .limit(1)
        ).one()
    analyst = make_client("analyst")
    apply(analyst, merchant_id)
    page = analyst.get(f"/merchants/{merchant_id}").text
    assert f"<dd>{orders:,}</dd>" in page
    assert "未加载商品备案目录" not in page  # the console's catalog gives the mark-up
    assert "%" in page.split("平均加价率")[1][:200]
