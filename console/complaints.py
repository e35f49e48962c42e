"""Complaints and enquiries (咨询、投诉处理) from consumers and merchants: registered, assigned,
answered and closed, each step in its history and the audit trail, with a deadline for the
first answer and escalation when it passes.

A person's phone or ID number never reaches the store: at entry it becomes a masked form (shown)
and, when the pseudonym key is configured, its keyed pseudonym (to find a person's earlier
complaints); raw identifiers typed into the summary or an answer are redacted before saving.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from sqlalchemy import Connection, func, insert, select, update

from console import audit
from console.auth import User
from reports.bureau_tables import complaint_events, complaint_links, complaints
from schemas.pseudonyms import (
    Pseudonymiser,
    id_checksum_ok,
    mask_id_number,
    mask_phone,
    redact_raw_identifiers,
)

Kind = Literal["complaint", "enquiry"]
Party = Literal["consumer", "merchant"]
Channel = Literal["phone", "web", "app", "letter", "visit"]
Category = Literal[
    "subsidy_not_applied",
    "eligibility",
    "product_quality",
    "price",
    "delivery",
    "refund",
    "merchant_conduct",
    "programme_rules",
    "other",
]
Status = Literal["open", "assigned", "answered", "closed"]
KINDS: tuple[Kind, ...] = get_args(Kind)
PARTIES: tuple[Party, ...] = get_args(Party)
CHANNELS: tuple[Channel, ...] = get_args(Channel)
CATEGORIES: tuple[Category, ...] = get_args(Category)
STATUSES: tuple[Status, ...] = get_args(Status)
MAX_TEXT = 4000
REF = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
MERCHANT = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_PHONE = re.compile(r"^(?:\+?86)?1\d{10}$")


class ComplaintError(ValueError):
    """A step that cannot be taken; `status` is the HTTP status that says why."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Identity:
    masked: str
    pseudonym: str | None


def identity(party: str, contact: str, pseudonymiser: Pseudonymiser | None) -> Identity:
    """What the store keeps of who complained: masked, and pseudonymised if a key is there.

    >>> identity("consumer", "138 1234 5678", None)
    Identity(masked='138****5678', pseudonym=None)
    >>> identity("merchant", "M0042", None)
    Identity(masked='M0042', pseudonym=None)
    """
    value = re.sub(r"[\s-]", "", contact)
    if party == "merchant":
        if not MERCHANT.fullmatch(value):
            raise ComplaintError("a merchant is named by its merchant id (letters, digits)", 422)
        return Identity(value, None)
    if _PHONE.fullmatch(value):
        return Identity(
            mask_phone(value), pseudonymiser.phone(value) if pseudonymiser is not None else None
        )
    if len(value) == 18 and id_checksum_ok(value):
        return Identity(
            mask_id_number(value),
            pseudonymiser.id_number(value) if pseudonymiser is not None else None,
        )
    raise ComplaintError(
        "a consumer is identified by a mobile number or a resident ID number (it is masked and "
        "pseudonymised, never stored as typed)",
        422,
    )


def clean_text(text: str, field: str) -> str:
    """Free text as it may be stored: bounded, raw identifiers redacted."""
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise ComplaintError(f"{field} has at most {MAX_TEXT} characters", 422)
    return redact_raw_identifiers(text)[0]


def refs(text: str, field: str) -> list[str]:
    found = [r for r in re.split(r"[\s,;,;]+", text.strip()) if r]
    bad = [r for r in found if not REF.fullmatch(r)]
    if bad or len(found) > 50:
        raise ComplaintError(
            f"{field}: ids of letters, digits, '.', '_', ':', '-', at most 50", 422
        )
    return list(dict.fromkeys(found))


def _event(
    connection: Connection, complaint_id: int, user: User, action: str, note: str, now: datetime
) -> None:
    connection.execute(
        insert(complaint_events).values(
            complaint_id=complaint_id, at=now, actor=user.name, action=action, note=note
        )
    )


def _audit(
    connection: Connection,
    user: User,
    complaint_id: int,
    op: str,
    now: datetime,
    remote: str | None,
    **detail: Any,
) -> None:
    audit.record(
        connection,
        user.name,
        "complaint",
        role=user.role,
        target=str(complaint_id),
        detail={"op": op, **detail},
        remote=remote,
        at=now,
    )


def register(
    connection: Connection,
    user: User,
    *,
    kind: str,
    party: str,
    channel: str,
    category: str,
    contact: str,
    summary: str,
    orders: str = "",
    alerts: str = "",
    now: datetime,
    answer_within: timedelta,
    pseudonymiser: Pseudonymiser | None = None,
    remote: str | None = None,
) -> int:
    for value, allowed, name in (
        (kind, KINDS, "kind"),
        (party, PARTIES, "party"),
        (channel, CHANNELS, "channel"),
        (category, CATEGORIES, "category"),
    ):
        if value not in allowed:
            raise ComplaintError(f"{name} is one of {', '.join(allowed)}", 422)
    who = identity(party, contact, pseudonymiser)
    text = clean_text(summary, "the summary")
    if not text:
        raise ComplaintError("the summary says what it is about", 422)
    linked = [("order", r) for r in refs(orders, "orders")] + [
        ("alert", r) for r in refs(alerts, "alerts")
    ]
    complaint_id: int = connection.execute(
        insert(complaints)
        .values(
            kind=kind,
            party=party,
            channel=channel,
            category=category,
            identity_masked=who.masked,
            identity_hash=who.pseudonym,
            merchant_id=who.masked if party == "merchant" else None,
            summary=text,
            status="open",
            assignee=None,
            created_at=now,
            created_by=user.name,
            answer_due_at=now + answer_within,
        )
        .returning(complaints.c.complaint_id)
    ).scalar_one()
    if linked:
        connection.execute(
            insert(complaint_links),
            [{"complaint_id": complaint_id, "link_type": t, "ref": r} for t, r in linked],
        )
    _event(connection, complaint_id, user, "register", "", now)
    _audit(connection, user, complaint_id, "register", now, remote, kind=kind, category=category)
    return complaint_id


def _status(connection: Connection, complaint_id: int) -> tuple[str, str | None]:
    row = connection.execute(
        select(complaints.c.status, complaints.c.assignee).where(
            complaints.c.complaint_id == complaint_id
        )
    ).first()
    if row is None:
        raise ComplaintError("no such complaint", 404)
    return str(row.status), row.assignee


def assign(
    connection: Connection,
    user: User,
    complaint_id: int,
    assignee: str,
    now: datetime,
    remote: str | None = None,
) -> None:
    """A supervisor assigns anyone; an analyst takes it for themself."""
    status, _ = _status(connection, complaint_id)
    if status == "closed":
        raise ComplaintError("this complaint is closed")
    if user.role != "supervisor" and assignee != user.name:
        raise ComplaintError("an analyst may take a complaint for themself only", 403)
    from reports.tables import users

    known = connection.execute(
        select(users.c.role).where(users.c.name == assignee, users.c.active)
    ).scalar_one_or_none()
    if known not in ("analyst", "supervisor"):
        raise ComplaintError("assign to an active analyst or supervisor", 422)
    after = "assigned" if status == "open" else status
    connection.execute(
        update(complaints)
        .where(complaints.c.complaint_id == complaint_id)
        .values(status=after, assignee=assignee)
    )
    _event(connection, complaint_id, user, "assign", assignee, now)
    _audit(connection, user, complaint_id, "assign", now, remote, assignee=assignee)


def answer(
    connection: Connection,
    user: User,
    complaint_id: int,
    text: str,
    now: datetime,
    remote: str | None = None,
) -> None:
    status, assignee = _status(connection, complaint_id)
    if status == "closed":
        raise ComplaintError("this complaint is closed")
    if user.role != "supervisor" and assignee not in (None, user.name):
        raise ComplaintError(f"this complaint is assigned to {assignee}", 403)
    note = clean_text(text, "the answer")
    if not note:
        raise ComplaintError("an answer says something", 422)
    values: dict[str, Any] = {"status": "answered", "assignee": assignee or user.name}
    connection.execute(
        update(complaints)
        .where(complaints.c.complaint_id == complaint_id, complaints.c.first_answer_at.is_(None))
        .values(first_answer_at=now)
    )
    connection.execute(
        update(complaints).where(complaints.c.complaint_id == complaint_id).values(**values)
    )
    _event(connection, complaint_id, user, "answer", note, now)
    _audit(connection, user, complaint_id, "answer", now, remote)


def close(
    connection: Connection,
    user: User,
    complaint_id: int,
    text: str,
    now: datetime,
    remote: str | None = None,
) -> None:
    status, assignee = _status(connection, complaint_id)
    if status != "answered":
        raise ComplaintError("a complaint is closed once it has been answered")
    if user.role != "supervisor" and assignee not in (None, user.name):
        raise ComplaintError(f"this complaint is assigned to {assignee}", 403)
    connection.execute(
        update(complaints)
        .where(complaints.c.complaint_id == complaint_id)
        .values(status="closed", closed_at=now)
    )
    _event(connection, complaint_id, user, "close", clean_text(text, "the note"), now)
    _audit(connection, user, complaint_id, "close", now, remote)


SYSTEM = User("deadline", "supervisor")  # the actor of an escalation: the deadline itself


def escalate_overdue(connection: Connection, now: datetime) -> list[int]:
    """Flag every complaint still unanswered past its deadline, once: its history, the audit
    trail and the supervisors' list say so. Returns the ids escalated now."""
    c = complaints.c
    late = list(
        connection.execute(
            select(c.complaint_id).where(
                c.first_answer_at.is_(None),
                c.escalated_at.is_(None),
                c.status != "closed",
                c.answer_due_at < now,
            )
        ).scalars()
    )
    for complaint_id in late:
        changed = connection.execute(
            update(complaints)
            .where(c.complaint_id == complaint_id, c.escalated_at.is_(None))
            .values(escalated_at=now)
        ).rowcount
        if changed:
            _event(connection, complaint_id, SYSTEM, "escalate", "", now)
            _audit(connection, SYSTEM, complaint_id, "escalate", now, None)
    return late


def listing(connection: Connection, status: str | None = None) -> list[dict[str, Any]]:
    query = select(complaints).order_by(
        complaints.c.escalated_at.is_(None), complaints.c.complaint_id.desc()
    )
    if status:
        query = query.where(complaints.c.status == status)
    return [dict(r) for r in connection.execute(query.limit(500)).mappings()]


def counts(connection: Connection) -> dict[str, int]:
    rows = connection.execute(
        select(complaints.c.status, func.count()).group_by(complaints.c.status)
    ).all()
    return {str(s): int(n) for s, n in rows}


def file(connection: Connection, complaint_id: int) -> dict[str, Any] | None:
    row = (
        connection.execute(select(complaints).where(complaints.c.complaint_id == complaint_id))
        .mappings()
        .first()
    )
    if row is None:
        return None
    out = dict(row)
    out["links"] = [
        dict(r)
        for r in connection.execute(
            select(complaint_links.c.link_type, complaint_links.c.ref)
            .where(complaint_links.c.complaint_id == complaint_id)
            .order_by(complaint_links.c.link_type, complaint_links.c.ref)
        ).mappings()
    ]
    out["history"] = [
        dict(r)
        for r in connection.execute(
            select(complaint_events)
            .where(complaint_events.c.complaint_id == complaint_id)
            .order_by(complaint_events.c.event_id)
        ).mappings()
    ]
    return out
