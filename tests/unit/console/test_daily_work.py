"""The analyst's daily work: the queue opens on the open alerts, most money at risk first; a
comment is required to escalate and to dismiss a critical alert; bulk verdicts on an alert's
linked alerts; an entity's page; the evidence in words; the console in Chinese, English on
request and kept per user."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from zoneinfo import ZoneInfo

from conftest import USERS, csrf_of
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update

from console import queue
from console.auth import User
from console.verdicts import give
from reports.tables import alert_orders, alert_status, alerts, audit, users

PSEUDONYM = re.compile(r"[0-9a-f]{64}")
HAN = re.compile(r"[\u4e00-\u9fff]")
ROW_ID = re.compile(r'<tr class="sev-\w+">\s*<td><a href="/alerts/([0-9a-f]{32})">')
RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1}
CST = ZoneInfo("Asia/Shanghai")


def _give(engine: Engine, alert_id: str, action: str, comment: str = "seen") -> None:
    with engine.begin() as connection:
        give(connection, User("ana-1", "analyst"), alert_id, action, comment, timezone=CST)


def _post(client: TestClient, path: str, page: str, **data: object) -> object:
    return client.post(path, data={**data, "csrf_token": csrf_of(client, page)})


def test_the_queue_opens_on_open_alerts_most_money_at_risk_first(
    make_client: Callable[..., TestClient], engine: Engine
) -> None:
    with engine.connect() as connection:
        first = connection.execute(
            select(alerts.c.alert_id).order_by(*queue.QUEUE_ORDER).limit(1)
        ).scalar_one()
        total = connection.execute(select(func.count()).select_from(alerts)).scalar_one()
    _give(engine, first, "confirm")
    client = make_client("analyst")
    page = client.get("/alerts").text
    shown = ROW_ID.findall(page)
    assert first not in shown and f"{total - 1:,} 条预警" in page
    assert first in ROW_ID.findall(client.get("/alerts", params={"status": "confirmed"}).text)
    assert f"{total:,} 条预警" in client.get("/alerts", params={"status": "all"}).text
    with engine.connect() as connection:
        found = queue.queue(connection, queue.Filters(status=queue.DEFAULT_STATUS))
    keys = [(Decimal(r["subsidy_at_risk"]), RANK[r["severity"]]) for r in found.rows]
    assert keys == sorted(keys, reverse=True) and len(keys) == queue.PAGE_SIZE
    assert {r["status"] for r in found.rows} == {"open"}
    assert [r["alert_id"] for r in found.rows] == shown  # the page in the same order


def test_a_comment_is_required_to_escalate_or_to_dismiss_a_critical_alert(
    make_client: Callable[..., TestClient], engine: Engine
) -> None:
    with engine.begin() as connection:
        ids = (
            connection.execute(select(alerts.c.alert_id).where(alerts.c.risk != "budget").limit(3))
            .scalars()
            .all()
        )
        connection.execute(
            update(alerts).where(alerts.c.alert_id == ids[1]).values(severity="critical")
        )
        connection.execute(
            update(alerts).where(alerts.c.alert_id == ids[2]).values(severity="high")
        )
    client = make_client("analyst")
    for alert_id, action, words in (
        (ids[0], "escalate", "上报主管部门必须填写说明"),
        (ids[1], "dismiss", "排除严重预警必须填写说明"),
    ):
        page = f"/alerts/{alert_id}"
        answer = _post(client, f"{page}/verdict", page, action=action, comment="   ")
        assert answer.status_code == 422 and words in answer.text  # type: ignore[attr-defined]
        assert 'class="flash"' in answer.text  # type: ignore[attr-defined]
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(alert_status)).scalar() == 0
    page = f"/alerts/{ids[2]}"  # a high alert is dismissed without a word
    assert _post(client, f"{page}/verdict", page, action="dismiss").status_code == 303  # type: ignore[attr-defined]
    page = f"/alerts/{ids[0]}"
    answer = _post(client, f"{page}/verdict", page, action="escalate", comment="四人同址")
    assert answer.status_code == 303  # type: ignore[attr-defined]


def test_a_verdict_goes_to_the_linked_alerts_selected_and_to_no_other(
    make_client: Callable[..., TestClient], engine: Engine
) -> None:
    with engine.connect() as connection:
        # an alert sharing an order with at least two others
        shared = (
            select(alert_orders.c.order_id)
            .group_by(alert_orders.c.order_id)
            .having(func.count() >= 3)
            .limit(1)
            .scalar_subquery()
        )
        trio = (
            connection.execute(
                select(alert_orders.c.alert_id)
                .where(alert_orders.c.order_id == shared)
                .order_by(alert_orders.c.alert_id)
            )
            .scalars()
            .all()
        )
        stranger = connection.execute(
            select(alerts.c.alert_id).where(alerts.c.alert_id.not_in(trio)).limit(1)
        ).scalar_one()
    assert len(trio) >= 3
    main, *linked = trio
    client = make_client("analyst")
    page = client.get(f"/alerts/{main}").text
    assert 'form="bulk"' in page and 'id="bulk"' in page
    path = f"/alerts/{main}/bulk"
    refused = _post(client, path, f"/alerts/{main}", action="confirm", ids=[linked[0], stranger])
    assert refused.status_code == 422  # type: ignore[attr-defined]
    answer = _post(client, path, f"/alerts/{main}", action="confirm", ids=linked[:2])
    assert answer.status_code == 303  # type: ignore[attr-defined]
    assert "已处置 2 条关联预警(已确认欺诈)" in client.get(f"/alerts/{main}").text
    with engine.connect() as connection:
        status = dict(
            connection.execute(select(alert_status.c.alert_id, alert_status.c.status)).all()
        )
        verdicts = (
            connection.execute(select(audit.c.target).where(audit.c.action == "verdict"))
            .scalars()
            .all()
        )
    assert status == {linked[0]: "confirmed", linked[1]: "confirmed"}
    assert sorted(verdicts) == sorted(linked[:2])  # each its own verdict, audited
    # decided already: named, the rest still goes
    again = _post(client, path, f"/alerts/{main}", action="dismiss", ids=linked[:2])
    assert again.status_code == 303  # type: ignore[attr-defined]
    assert "已处置 0 条关联预警" in client.get(f"/alerts/{main}").text


def test_an_entity_page_lists_its_alerts_and_orders_over_time_and_no_pseudonym(
    make_client: Callable[..., TestClient], engine: Engine
) -> None:
    client = make_client("analyst")
    with engine.connect() as connection:
        kinds = dict(
            connection.execute(
                select(alerts.c.entity_type, func.min(alerts.c.alert_id)).group_by(
                    alerts.c.entity_type
                )
            ).all()
        )
    seen = 0
    for kind in ("device", "address", "payment_account", "pickup_point", "consumer", "merchant"):
        if kind not in kinds:
            continue
        alert_page = client.get(f"/alerts/{kinds[kind]}").text
        link = re.search(rf'href="(/entities/{kind}/[^"]+)"', alert_page)
        assert link, kind
        page = client.get(link.group(1))
        assert page.status_code == 200, (kind, link.group(1))
        assert kinds[kind] in page.text and "按日统计" in page.text and "该对象的订单" in page.text
        assert not PSEUDONYM.search(page.text), kind
        seen += 1
    assert seen >= 3
    if "device" in kinds:  # a device is named whole, never cut to dv-7…
        with engine.connect() as connection:
            key = connection.execute(
                select(alerts.c.entity_key).where(alerts.c.alert_id == kinds["device"])
            ).scalar_one()
        assert f'data-copy="{key}"' in client.get(f"/alerts/{kinds['device']}").text
    missing = client.get("/entities/device/no-such-device")
    assert missing.status_code == 404 and "404 未找到" in missing.text  # the error page in words
    with engine.connect() as connection:
        views = connection.execute(
            select(func.count()).where(audit.c.action == "view_entity")
        ).scalar_one()
    assert views == seen


def test_the_evidence_is_a_list_of_labelled_figures_with_the_json_one_click_away(
    make_client: Callable[..., TestClient], engine: Engine
) -> None:
    """One alert of every detector in the store: the evidence said in a Chinese sentence with
    its figures (reports/evidence.py), each figure labelled in Chinese (a key with no words in
    console/words.py would show as itself, in ASCII), the detector named too."""
    with engine.connect() as connection:
        one_each = connection.execute(
            select(alerts.c.detector, func.min(alerts.c.alert_id)).group_by(alerts.c.detector)
        ).all()
    client = make_client("analyst")
    assert len(one_each) >= 5
    for detector, alert_id in one_each:
        page = client.get(f"/alerts/{alert_id}").text
        figures = page.split('<dl class="figures">', 1)[1].split("</dl>", 1)[0]
        labels = re.findall(r"<dt>([^<]*)</dt>", figures)
        assert labels and all(HAN.search(label) for label in labels), (detector, labels)
        title = page.split("<h1>", 1)[1].split("<", 1)[0]
        assert HAN.search(title), (detector, title)
        assert '<details class="raw"><summary>原始数据(JSON)</summary>' in page
        said = page.split('<p class="sentence">', 1)[1].split("</p>", 1)[0]
        assert HAN.search(said) and re.search(r"\d", said), (detector, said)  # words, figures
        assert not PSEUDONYM.search(said)


def test_chinese_first_english_on_request_kept_per_user(
    make_client: Callable[..., TestClient], engine: Engine
) -> None:
    client = make_client("analyst")
    page = client.get("/alerts").text
    assert 'lang="zh-CN"' in page and "预警队列" in page and "Alert queue" not in page
    assert re.search(r"<td>20\d\d-\d\d-\d\d \d\d:\d\d</td>|>20\d\d-\d\d-\d\d \d\d:\d\d</a>", page)
    assert re.search(r"¥[\d,]+\.\d\d<", page)
    answer = _post(client, "/language", "/alerts", lang="en", next="/alerts")
    assert answer.status_code == 303  # type: ignore[attr-defined]
    page = client.get("/alerts").text
    assert 'lang="en"' in page and "Alert queue" in page
    again = make_client("analyst")  # a new session of the same user: still English
    assert "Alert queue" in again.get("/alerts").text
    assert "预警队列" in make_client("supervisor").get("/alerts").text  # others keep theirs
    with engine.connect() as connection:
        stored = connection.execute(
            select(users.c.lang).where(users.c.name == USERS["analyst"])
        ).scalar_one()
        chosen = (
            connection.execute(select(audit.c.actor).where(audit.c.action == "language"))
            .scalars()
            .all()
        )
    assert stored == "en" and chosen == [USERS["analyst"]]
    anonymous = make_client()
    assert "登录" in anonymous.get("/login").text
    _post(anonymous, "/language", "/login", lang="en", next="/login")
    assert "Log in" in anonymous.get("/login").text
