"""The control register: controls issued by a person (`riskmon controls add|lift`, the console's
supervisors' page), checked by the contract's own model, audited, and sent through the outbox.

Every record issued here goes into `controls_out` (console/merchant_controls.py) in the
transaction of its audit row, so a control is never sent unrecorded nor recorded unaudited; the
outbox keeps it once sent, and is where `list` reads what was issued (the merchant register's
blocks and lifts included). The controls that stop the most money at once, a programme or a
budget line paused and a merchant blocked, are only *requested* from the console: a second,
different supervisor approves the request (`control_requests`) before its record is issued.

A control's state at a moment follows the workers' rule (detectors/controls.py): on its key's
timeline, the latest control whose `effective_from` has come is in force, unless it is a `lift`
or has expired.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

import orjson
from sqlalchemy import Connection, func, insert, or_, select, update

from console import audit
from console.merchant_controls import OUTBOX
from reports.bureau_tables import controls_out
from reports.control_tables import control_requests
from schemas.controls import Control
from schemas.decode import DecodeError, decode_control
from schemas.identifiers import redact_raw_identifiers

# (kind, action) that the console issues only with a second supervisor's approval
TWO_PERSON = frozenset({("programme", "pause"), ("budget_line", "pause"), ("merchant", "block")})
REGISTER_PREFIX = "c-merchant-"  # the merchant register's own (console/merchant_controls.py)


class ControlError(ValueError):
    """A control that cannot be issued; `status` is the HTTP status that says why."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def needs_second(kind: str, action: str) -> bool:
    return (kind, action) in TWO_PERSON


def _stamp(at: datetime, timezone: tzinfo) -> str:
    return at.astimezone(timezone).isoformat(timespec="seconds")


def next_id(connection: Connection, now: datetime, timezone: tzinfo) -> str:
    """`c-YYYYMMDD-NNNN`, as the contract's example: the day's next number, over the outbox and
    the requests (a request carries the id its control will have)."""
    prefix = f"c-{now.astimezone(timezone):%Y%m%d}-"
    taken = 0
    for table, column in (
        (controls_out, controls_out.c.control_id),
        (control_requests, control_requests.c.request_id),
    ):
        taken += connection.execute(
            select(func.count()).select_from(table).where(column.like(f"{prefix}%"))
        ).scalar_one()
    return f"{prefix}{taken + 1:04d}"


def build(
    control_id: str,
    kind: str,
    key: str,
    action: str,
    reason: str,
    author: str,
    *,
    issued_at: datetime,
    effective_from: datetime,
    expires_at: datetime | None,
    timezone: tzinfo,
) -> Control:
    """The record, decoded as a worker decodes it: what is refused here would be a dead letter
    there. A raw ID or phone number in the reason is redacted first (the topic never carries
    one in clear)."""
    why = redact_raw_identifiers(reason.strip())[0]
    if not why:
        raise ControlError("a control says why: the reason is required")
    record = {
        "schema_version": 1,
        "control_id": control_id,
        "kind": kind,
        "key": key.strip(),
        "action": action,
        "reason": why,
        "author": author,
        "issued_at": _stamp(issued_at, timezone),
        "effective_from": _stamp(effective_from, timezone),
        "expires_at": None if expires_at is None else _stamp(expires_at, timezone),
    }
    try:
        return decode_control(orjson.dumps(record))
    except DecodeError as exc:
        raise ControlError(exc.message) from None


def _payload(control: Control) -> str:
    return control.model_dump_json()


def issue(
    connection: Connection,
    control: Control,
    *,
    actor: str,
    role: str | None,
    now: datetime,
    remote: str | None = None,
    approved_by: str | None = None,
) -> str:
    """Record `control` in the outbox and the audit trail, in the caller's transaction."""
    connection.execute(
        insert(controls_out).values(
            control_id=control.control_id,
            kind=control.kind,
            key=control.key,
            payload=_payload(control),
            status=OUTBOX,
            created_at=now,
            sent_at=None,
        )
    )
    detail: dict[str, Any] = {
        "kind": control.kind,
        "key": control.key,
        "action": control.action,
        "reason": control.reason,
        "effective_from": control.effective_from.isoformat(),
        "expires_at": None if control.expires_at is None else control.expires_at.isoformat(),
    }
    if approved_by is not None:
        detail["approved_by"] = approved_by
    audit.record(
        connection,
        actor,
        "control",
        role=role,
        target=control.control_id,
        detail=detail,
        remote=remote,
        at=now,
    )
    return control.control_id


def issued(connection: Connection, control_id: str) -> Control | None:
    payload = connection.execute(
        select(controls_out.c.payload).where(controls_out.c.control_id == control_id)
    ).scalar_one_or_none()
    return None if payload is None else decode_control(payload.encode())


def lift_of(
    connection: Connection,
    control_id: str,
    reason: str,
    author: str,
    *,
    now: datetime,
    effective_from: datetime | None,
    timezone: tzinfo,
) -> Control:
    """The `lift` record that ends `control_id` (on its key), from `effective_from` (now)."""
    found = issued(connection, control_id)
    if found is None:
        raise ControlError(f"no control {control_id} was issued", 404)
    if found.action == "lift":
        raise ControlError(f"{control_id} is a lift itself", 409)
    if control_id.startswith(REGISTER_PREFIX):
        raise ControlError(
            f"{control_id} goes with the merchant register's status: reactivate the merchant "
            "there (/merchants), so the register and the control agree",
            409,
        )
    # a lift ends whatever is in force on the key: only the control in force (or to come) is
    # lifted by naming it, never a newer one by naming an old one
    timeline = [
        decode_control(payload.encode())
        for payload in connection.execute(
            select(controls_out.c.payload)
            .where(controls_out.c.kind == found.kind, controls_out.c.key == found.key)
            .order_by(controls_out.c.created_at, controls_out.c.control_id)
        ).scalars()
    ]
    state = states_at(timeline, now)[control_id]
    if state not in ("active", "scheduled"):
        raise ControlError(f"{control_id} is {state}: there is nothing of it to lift", 409)
    return build(
        next_id(connection, now, timezone),
        found.kind,
        found.key,
        "lift",
        reason,
        author,
        issued_at=now,
        effective_from=effective_from or now,
        expires_at=None,
        timezone=timezone,
    )


def request(
    connection: Connection,
    control: Control,
    *,
    actor: str,
    role: str,
    now: datetime,
    remote: str | None = None,
) -> str:
    """Keep `control` (built, so checked) as a request for a second supervisor's approval."""
    connection.execute(
        insert(control_requests).values(
            request_id=control.control_id,
            kind=control.kind,
            key=control.key,
            action=control.action,
            reason=control.reason,
            effective_from=control.effective_from,
            expires_at=control.expires_at,
            requested_by=actor,
            requested_at=now,
            state="pending",
        )
    )
    audit.record(
        connection,
        actor,
        "control_request",
        role=role,
        target=control.control_id,
        detail={"kind": control.kind, "key": control.key, "action": control.action},
        remote=remote,
        at=now,
    )
    return control.control_id


def decide_request(
    connection: Connection,
    request_id: str,
    *,
    approve: bool,
    actor: str,
    role: str,
    now: datetime,
    timezone: tzinfo,
    remote: str | None = None,
) -> str:
    """A second supervisor approves (the control is issued) or refuses a request; the one who
    asked may withdraw it (refuse) but never approve it. Returns the new state."""
    row = connection.execute(
        select(control_requests).where(control_requests.c.request_id == request_id)
    ).first()
    if row is None:
        raise ControlError("no such request", 404)
    if row.state != "pending":
        raise ControlError(f"the request is {row.state} already", 409)
    if approve and row.requested_by == actor:
        raise ControlError("a second supervisor approves it, not the one who asked", 403)
    state = "approved" if approve else "refused"
    changed = connection.execute(
        update(control_requests)
        .where(control_requests.c.request_id == request_id, control_requests.c.state == "pending")
        .values(state=state, decided_by=actor, decided_at=now)
    ).rowcount
    if changed != 1:
        raise ControlError("the request was decided meanwhile", 409)
    if not approve:
        audit.record(
            connection,
            actor,
            "control_refuse",
            role=role,
            target=request_id,
            detail={"requested_by": row.requested_by},
            remote=remote,
            at=now,
        )
        return state
    control = build(
        request_id,
        row.kind,
        row.key,
        row.action,
        row.reason,
        row.requested_by,
        issued_at=now,
        effective_from=row.effective_from,
        expires_at=row.expires_at,
        timezone=timezone,
    )
    issue(connection, control, actor=actor, role=role, now=now, remote=remote, approved_by=actor)
    return state


@dataclass(frozen=True)
class Listed:
    """A control or a request as the register shows it."""

    control_id: str
    kind: str
    key: str
    action: str
    reason: str
    author: str
    effective_from: datetime
    expires_at: datetime | None
    state: str
    sent: bool
    approved_by: str | None = None


def states_at(controls: list[Control], now: datetime) -> dict[str, str]:
    """Each control's state at `now`, by the workers' rule on its key's timeline."""
    timelines: dict[str, list[Control]] = defaultdict(list)
    for control in controls:
        timelines[control.topic_key].append(control)
    states: dict[str, str] = {}
    for timeline in timelines.values():
        timeline.sort(key=lambda c: c.effective_from)  # stable: arrival order on a tie
        come = [c for c in timeline if c.effective_from <= now]
        for control in timeline:
            if control.action == "lift":
                states[control.control_id] = "lift"
            elif control.effective_from > now:
                states[control.control_id] = "scheduled"
            elif control is not come[-1]:
                later = come[come.index(control) + 1 :]
                states[control.control_id] = (
                    "lifted" if any(c.action == "lift" for c in later) else "superseded"
                )
            elif control.expires_at is not None and control.expires_at <= now:
                states[control.control_id] = "expired"
            else:
                states[control.control_id] = "active"
    return states


def listing(connection: Connection, now: datetime, *, lifts: bool = False) -> list[Listed]:
    """Issued controls with their state at `now`, then pending and refused requests; newest
    first. Lift records themselves only with `lifts`."""
    rows = connection.execute(
        select(controls_out.c.payload, controls_out.c.status).order_by(
            controls_out.c.created_at, controls_out.c.control_id
        )
    ).all()
    controls = [decode_control(r.payload.encode()) for r in rows]
    sent = {c.control_id: r.status != OUTBOX for c, r in zip(controls, rows, strict=True)}
    approvers = dict(
        connection.execute(
            select(control_requests.c.request_id, control_requests.c.decided_by).where(
                control_requests.c.state == "approved"
            )
        ).all()
    )
    states = states_at(controls, now)
    found = [
        Listed(
            c.control_id,
            c.kind,
            c.key,
            c.action,
            c.reason,
            c.author,
            c.effective_from,
            c.expires_at,
            states[c.control_id],
            sent[c.control_id],
            approvers.get(c.control_id),
        )
        for c in controls
        if lifts or c.action != "lift"
    ]
    waiting = connection.execute(
        select(control_requests).where(
            or_(control_requests.c.state == "pending", control_requests.c.state == "refused")
        )
    ).all()
    found += [
        Listed(
            r.request_id,
            r.kind,
            r.key,
            r.action,
            r.reason,
            r.requested_by,
            r.effective_from,
            r.expires_at,
            r.state,
            False,
            r.decided_by,
        )
        for r in waiting
    ]
    pending = [c for c in found if c.state == "pending"]
    rest = sorted((c for c in found if c.state != "pending"), key=lambda c: c.effective_from)
    return pending + rest[::-1]
