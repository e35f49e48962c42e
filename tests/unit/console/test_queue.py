"""The queue: filters, paging, masked identities; an alert's file."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from console.queue import PAGE_SIZE
from reports.tables import alerts

PSEUDONYM = re.compile(r"[0-9a-f]{64}")
ROW = re.compile(r'<tr class="sev-(\w+)">\s*<td><a href="/alerts/([0-9a-f]{32})">')


def _rows(page: str) -> list[tuple[str, str]]:
    return ROW.findall(page)


def test_filters_narrow_the_queue_to_what_the_store_holds(
    make_client: Callable[..., TestClient], engine: Engine
) -> None:
    client = make_client("analyst")
    with engine.connect() as connection:
        total = connection.execute(select(func.count()).select_from(alerts)).scalar_one()
        high_fraud = connection.execute(
            select(func.count()).where(alerts.c.risk == "fraud", alerts.c.severity == "high")
        ).scalar_one()
        days = connection.execute(select(func.min(alerts.c.day), func.max(alerts.c.day))).one()
        first_day = connection.execute(
            select(func.count()).where(alerts.c.day == days[0])
        ).scalar_one()
    page = client.get("/alerts").text
    assert f"{total:,} 条预警" in page  # all open: the queue opens on the open ones
    assert len(_rows(page)) == min(total, PAGE_SIZE)
    page = client.get("/alerts", params={"risk": "fraud", "severity": "high"}).text
    rows = _rows(page)
    assert len(rows) == high_fraud > 0 and {s for s, _ in rows} == {"high"}
    page = client.get("/alerts", params={"from": str(days[0]), "to": str(days[0])}).text
    assert f"{first_day:,} 条预警" in page
    assert "0 条预警" in client.get("/alerts", params={"status": "confirmed"}).text
    assert client.get("/alerts", params={"risk": "nonsense"}).status_code == 422
    assert client.get("/alerts", params={"from": "yesterday"}).status_code == 422


def test_pages_of_the_queue_do_not_overlap_and_cover_it(
    make_client: Callable[..., TestClient], engine: Engine
) -> None:
    client = make_client("supervisor")
    with engine.connect() as connection:
        total = connection.execute(select(func.count()).select_from(alerts)).scalar_one()
    seen: list[str] = []
    page = 1
    while True:
        text = client.get("/alerts", params={"page": page}).text
        seen += [alert_id for _, alert_id in _rows(text)]
        if 'rel="next"' not in text:
            break
        page += 1
    assert len(seen) == len(set(seen)) == total and page == -(-total // PAGE_SIZE)


def test_no_page_shows_a_whole_pseudonym(
    make_client: Callable[..., TestClient], engine: Engine
) -> None:
    client = make_client("analyst")
    with engine.connect() as connection:
        ids = connection.execute(select(alerts.c.alert_id)).scalars().all()
    assert not PSEUDONYM.search(client.get("/alerts").text)
    for alert_id in ids:
        page = client.get(f"/alerts/{alert_id}")
        assert page.status_code == 200
        assert not PSEUDONYM.search(page.text), alert_id


def test_an_alert_page_shows_its_evidence_orders_and_linked_entities(
    make_client: Callable[..., TestClient], engine: Engine
) -> None:
    client = make_client("analyst")
    with engine.connect() as connection:
        alert_id, detector = connection.execute(
            select(alerts.c.alert_id, alerts.c.detector).where(alerts.c.detector == "address_ring")
        ).first()
    page = client.get(f"/alerts/{alert_id}").text
    assert "同地址多人" in page and "证据" in page and "不同消费者数" in page
    assert "distinct_consumers" in page  # the JSON, one click away
    assert "关联对象" in page and '<span class="kind">消费者</span>' in page
    assert "…" in page  # masked keys
    assert client.get("/alerts/" + "0" * 32).status_code == 404


def test_the_bureau_reads_the_reports_and_each_reading_is_recorded(
    make_client: Callable[..., TestClient], engine: Engine
) -> None:
    from reports.tables import audit

    bureau = make_client("bureau")
    listing = bureau.get("/reports")
    assert listing.status_code == 200 and "/reports/incidents" in listing.text
    for kind in ("daily", "incidents"):
        page = bureau.get(f"/reports/{kind}")
        assert page.status_code == 200 and "<table" in page.text
        assert not PSEUDONYM.search(page.text)
    assert bureau.get("/reports/daily", params={"day": "2020-01-01"}).status_code == 200
    assert bureau.get("/reports/ledger").status_code == 422
    with engine.connect() as connection:
        seen = (
            connection.execute(select(audit.c.target).where(audit.c.action == "view_report"))
            .scalars()
            .all()
        )
    assert seen == ["daily", "incidents", "daily"]
