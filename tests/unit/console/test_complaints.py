"""Complaints and enquiries in the console: registered with the identity masked at entry (and
pseudonymised with the ingest's key), assigned, answered, closed; escalated when the first
answer is late; every step audited; the bureau reads and cannot act; the daily report counts
them."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from conftest import csrf_of
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text

from console.sessions import Limits
from reports.bureau import make
from reports.bureau_tables import complaint_events, complaints
from reports.bureau_words import word
from reports.period import Period
from reports.tables import audit
from schemas.pseudonyms import Pseudonymiser, id_checksum_ok
from schemas.rules import ProgrammeRules

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
PSEUDONYM_KEY = "9e3779b97f4a7c15f39cc0605cedc8341082276bf3a27251f86c6a11d0c18e95"  # for tests


def raw_phone(rng: random.Random) -> str:
    return "13" + "".join(rng.choice("0123456789") for _ in range(9))


def raw_id(rng: random.Random) -> str:
    """A resident ID number with a valid GB 11643 check character, made here at run time."""
    first17 = "440310" + "19880704" + "".join(rng.choice("0123456789") for _ in range(3))
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    number = first17 + "10X98765432"[total % 11]
    assert id_checksum_ok(number)
    return number


# sessions that outlast the clock's jumps (the deadline is a day)
LONG = Limits(absolute=timedelta(days=7), idle=timedelta(days=7))


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 7, 3, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai

    def __call__(self) -> datetime:
        return self.at


def register(client: TestClient, **fields: str) -> str:
    form = {
        "kind": "complaint",
        "party": "consumer",
        "channel": "phone",
        "category": "subsidy_not_applied",
        "summary": "subsidy missing",
        "orders": "",
        "alerts": "",
        "csrf_token": csrf_of(client, "/complaints"),
        **fields,
    }
    answer = client.post("/complaints", data=form)
    assert answer.status_code == 303, answer.text
    return str(answer.headers["location"])


def post(client: TestClient, path: str, **fields: str) -> int:
    page = client.get(path.rsplit("/", 1)[0])
    assert page.status_code == 200, page.text[-2000:]
    fields["csrf_token"] = csrf_of(client, path.rsplit("/", 1)[0])
    return client.post(path, data=fields).status_code


def test_a_complaint_is_registered_masked_handled_and_closed(
    make_client: Callable[..., TestClient],
    engine: Engine,
    rules: ProgrammeRules,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RISKMON_PSEUDONYM_KEY", PSEUDONYM_KEY)
    rng = random.Random(19)
    phone, other_id = raw_phone(rng), raw_id(rng)
    clock = Clock()
    analyst = make_client("analyst", clock=clock, limits=LONG)
    where = register(
        analyst,
        contact=phone,
        summary=f"no discount on order PS1; my ID is {other_id}",
        orders="PS20260701000001, PS20260701000002",
    )
    complaint_id = int(where.rsplit("/", 1)[1])
    page = analyst.get(where).text
    assert phone[:3] + "****" + phone[-4:] in page
    with engine.connect() as connection:
        row = connection.execute(select(complaints)).one()
        dump = "\n".join(connection.execute(text("SELECT * FROM complaints")).all().__repr__())
    assert phone not in dump and other_id not in dump and phone not in page
    assert "[REDACTED]" in row.summary
    key = bytes.fromhex(PSEUDONYM_KEY)
    assert row.identity_hash == Pseudonymiser(key).phone(phone)  # the orders' own pseudonym
    assert row.answer_due_at == clock.at + timedelta(hours=24)

    supervisor = make_client("supervisor", clock=clock, limits=LONG)
    assert post(supervisor, f"/complaints/{complaint_id}/assign", assignee="ana-1") == 303
    clock.at += timedelta(hours=3)
    assert (
        post(analyst, f"/complaints/{complaint_id}/answer", text="refunded the difference") == 303
    )
    assert post(analyst, f"/complaints/{complaint_id}/close", text="done") == 303
    with engine.connect() as connection:
        row = connection.execute(select(complaints)).one()
        steps = [e.action for e in connection.execute(select(complaint_events.c.action)).all()]
        trail = connection.execute(
            select(audit.c.actor, audit.c.detail).where(audit.c.action == "complaint")
        ).all()
    assert (row.status, row.assignee, row.escalated_at) == ("closed", "ana-1", None)
    assert row.first_answer_at == clock.at
    assert steps == ["register", "assign", "answer", "close"]
    assert [re.search(r'"op":"(\w+)"', d).group(1) for _, d in trail] == steps  # type: ignore[union-attr]

    report = make(
        "daily", engine, rules, Period(date(2026, 7, 3), date(2026, 7, 3)), "en", source="t"
    )
    counted = report.section(word("complaints_section", "en")).frame.iloc[0]
    assert counted[word("cp_registered", "en")] == 1
    assert counted[word("cp_on_time", "en")] == 1 and counted[word("cp_overdue", "en")] == 0
    assert counted[word("cp_hours", "en")] == "3.0"


def test_a_late_first_answer_is_escalated_once_and_the_bureau_only_reads(
    make_client: Callable[..., TestClient], engine: Engine
) -> None:
    clock = Clock()
    analyst = make_client("analyst", clock=clock, limits=LONG)
    where = register(analyst, party="merchant", contact="M0007", kind="enquiry", category="price")
    clock.at += timedelta(hours=24, seconds=1)
    bureau = make_client("bureau", clock=clock, limits=LONG)
    listing = bureau.get("/complaints").text
    assert word("overdue_badge", "zh") in listing
    assert 'method="post" action="/complaints"' not in listing  # no form to register
    page = bureau.get(where).text
    assert "/answer" not in page and "/assign" not in page
    complaint_id = where.rsplit("/", 1)[1]
    assert bureau.post(f"/complaints/{complaint_id}/answer", data={"text": "x"}).status_code == 403
    analyst.get("/complaints")  # a second look escalates nothing again
    with engine.connect() as connection:
        escalations = connection.execute(
            select(complaint_events).where(complaint_events.c.action == "escalate")
        ).all()
        viewed = (
            connection.execute(select(audit.c.actor).where(audit.c.action == "view_complaint"))
            .scalars()
            .all()
        )
    assert len(escalations) == 1 and escalations[0].actor == "deadline"
    assert viewed == ["bur-1"]


def test_an_analyst_assigns_only_to_themself_and_bad_input_is_refused(
    make_client: Callable[..., TestClient],
) -> None:
    analyst = make_client("analyst")
    where = register(analyst, contact=raw_phone(random.Random(3)))
    complaint_id = where.rsplit("/", 1)[1]
    assert post(analyst, f"/complaints/{complaint_id}/assign", assignee="sup-1") == 403
    assert post(analyst, f"/complaints/{complaint_id}/assign", assignee="ana-1") == 303
    form = {"kind": "complaint", "party": "consumer", "channel": "phone", "category": "other"}
    token = csrf_of(analyst, "/complaints")
    for contact in ("12345", "not a phone"):
        answer = analyst.post(
            "/complaints", data={**form, "contact": contact, "summary": "x", "csrf_token": token}
        )
        assert answer.status_code == 422 and contact not in answer.text
    answer = analyst.post(
        "/complaints",
        data={**form, "category": "gossip", "contact": "M1", "summary": "x", "csrf_token": token},
    )
    assert answer.status_code == 422
