"""The merchant register (入驻商户报名把关、监督管理和违规处置): an application, the vetting
checklist, a supervisor's approval, and the status over time with its history.

    applied --(checklist complete)--> vetted --(supervisor approves)--> active
    applied | vetted --(supervisor rejects)--> rejected
    active --(supervisor suspends)--> suspended --(supervisor reactivates)--> active
    active | suspended --(supervisor: exit)--> exited

A suspension or an exit puts a `block` control record on the merchant into the outbox for the
`controls` topic (events.md 1.1), so its orders are refused the subsidy; a reactivation puts a
`lift`. Each change is one transaction: the status, its history row, the audit row and the
control record go together.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import Connection, insert, select, update

from console import audit
from console.auth import User
from console.merchant_controls import enqueue
from reports.bureau_tables import merchant_history, merchants
from schemas.pseudonyms import redact_raw_identifiers

Status = Literal["applied", "vetted", "active", "suspended", "exited", "rejected"]
STATUSES: tuple[Status, ...] = get_args(Status)
Move = Literal["approve", "reject", "suspend", "reactivate", "exit"]
# move -> (the statuses it starts from, the status it leads to, the control it issues)
MOVES: dict[str, tuple[tuple[str, ...], str, str | None]] = {
    "approve": (("vetted",), "active", None),
    "reject": (("applied", "vetted"), "rejected", None),
    "suspend": (("active",), "suspended", "block"),
    "reactivate": (("suspended",), "active", "lift"),
    "exit": (("active", "suspended"), "exited", "block"),
}
MERCHANT_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
# 统一社会信用代码: 18 characters of digits and capitals (no I, O, S, V, Z)
LICENCE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}$")


class MerchantError(ValueError):
    """A change that cannot be made; `status` is the HTTP status that says why."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


def _history(
    connection: Connection,
    merchant_id: str,
    user: User,
    before: str | None,
    after: str,
    reason: str,
    now: datetime,
    remote: str | None,
    **detail: Any,
) -> None:
    connection.execute(
        insert(merchant_history).values(
            merchant_id=merchant_id,
            at=now,
            actor=user.name,
            from_status=before,
            to_status=after,
            reason=reason,
        )
    )
    audit.record(
        connection,
        user.name,
        "merchant",
        role=user.role,
        target=merchant_id,
        detail={"from": before, "to": after, "reason": reason, **detail},
        remote=remote,
        at=now,
    )


def _reason(text: str) -> str:
    text = text.strip()
    if len(text) > 2000:
        raise MerchantError("a reason has at most 2000 characters", 422)
    return redact_raw_identifiers(text)[0]


def apply(
    connection: Connection,
    user: User,
    *,
    merchant_id: str,
    name: str,
    licence_no: str,
    categories: str,
    now: datetime,
    remote: str | None = None,
) -> None:
    merchant_id = merchant_id.strip()
    licence_no = licence_no.strip().upper()
    if not MERCHANT_ID.fullmatch(merchant_id):
        raise MerchantError("the merchant id is letters, digits, '.', '_', '-'", 422)
    if not LICENCE.fullmatch(licence_no):
        raise MerchantError("the licence is an 18-character unified social credit code", 422)
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise MerchantError("the name has 1 to 200 characters", 422)
    listed = sorted({c for c in re.split(r"[\s,;,;]+", categories) if c})
    if not listed or any(not re.fullmatch(r"[a-z0-9_]{1,64}", c) for c in listed):
        raise MerchantError("categories are the programme's category names", 422)
    found = connection.execute(
        select(merchants.c.status).where(merchants.c.merchant_id == merchant_id)
    ).first()
    if found is not None:
        raise MerchantError(f"{merchant_id} is registered already ({found.status})")
    connection.execute(
        insert(merchants).values(
            merchant_id=merchant_id,
            name=name,
            licence_no=licence_no,
            categories=" ".join(listed),
            status="applied",
            licence_checked=False,
            categories_checked=False,
            training_done=False,
            applied_at=now,
            applied_by=user.name,
            updated_at=now,
        )
    )
    _history(connection, merchant_id, user, None, "applied", "application", now, remote)


def _current(connection: Connection, merchant_id: str) -> Any:
    row = connection.execute(
        select(merchants).where(merchants.c.merchant_id == merchant_id)
    ).first()
    if row is None:
        raise MerchantError("no such merchant", 404)
    return row


def vet(
    connection: Connection,
    user: User,
    merchant_id: str,
    *,
    licence_checked: bool,
    categories_checked: bool,
    training_done: bool,
    now: datetime,
    remote: str | None = None,
) -> str:
    """Record the checklist; complete, it makes the application `vetted`. Returns the status."""
    row = _current(connection, merchant_id)
    if row.status not in ("applied", "vetted"):
        raise MerchantError(f"the checklist is for an application, not a {row.status} merchant")
    complete = licence_checked and categories_checked and training_done
    after = "vetted" if complete else "applied"
    connection.execute(
        update(merchants)
        .where(merchants.c.merchant_id == merchant_id)
        .values(
            licence_checked=licence_checked,
            categories_checked=categories_checked,
            training_done=training_done,
            status=after,
            vetted_by=user.name if complete else None,
            updated_at=now,
        )
    )
    _history(
        connection,
        merchant_id,
        user,
        row.status,
        after,
        "checklist",
        now,
        remote,
        licence_checked=licence_checked,
        categories_checked=categories_checked,
        training_done=training_done,
    )
    return after


def move(
    connection: Connection,
    user: User,
    merchant_id: str,
    action: str,
    reason: str,
    now: datetime,
    timezone: Any,
    remote: str | None = None,
) -> str:
    """A supervisor's decision; returns the new status."""
    if user.role != "supervisor":
        raise MerchantError("a supervisor decides a merchant's status", 403)
    if action not in MOVES:
        raise MerchantError(f"the action is one of {', '.join(MOVES)}", 422)
    starts, after, control = MOVES[action]
    row = _current(connection, merchant_id)
    if row.status not in starts:
        raise MerchantError(f"a {row.status} merchant cannot be given '{action}'")
    why = _reason(reason)
    if control is not None and not why:
        raise MerchantError("a suspension, an exit or a reactivation says why", 422)
    if action == "approve" and row.vetted_by == user.name:
        # four eyes: who vetted the application does not also approve it
        raise MerchantError("the supervisor who vetted an application does not approve it", 403)
    changed = connection.execute(
        update(merchants)
        .where(merchants.c.merchant_id == merchant_id, merchants.c.status == row.status)
        .values(
            status=after,
            updated_at=now,
            approved_by=user.name if action == "approve" else row.approved_by,
        )
    ).rowcount
    if changed != 1:
        raise MerchantError("another change was made to this merchant meanwhile")
    control_id = None
    if control is not None:
        control_id = enqueue(
            connection, merchant_id, control, why or action, user.name, now, timezone
        )
    _history(
        connection,
        merchant_id,
        user,
        row.status,
        after,
        why or action,
        now,
        remote,
        control=control_id,
    )
    return after


def listing(connection: Connection) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in connection.execute(
            select(merchants).order_by(merchants.c.status, merchants.c.merchant_id)
        ).mappings()
    ]


def history(connection: Connection, merchant_id: str) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in connection.execute(
            select(merchant_history)
            .where(merchant_history.c.merchant_id == merchant_id)
            .order_by(merchant_history.c.history_id)
        ).mappings()
    ]
