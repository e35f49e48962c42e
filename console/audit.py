"""The audit trail (内部监督): every login, alert view and verdict, appended and never changed.

This module only inserts and reads: there is no update or delete path, and the store's
triggers refuse one from anywhere else (migration 0002).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, func, insert, select

from reports.cells import neutralise_value
from reports.tables import audit

# What is recorded; a page filters on these.
ACTIONS = (
    "login",
    "login_failed",
    "logout",
    "view_alert",
    "view_incident",
    "verdict",
    "view_audit",
    "export_audit",
    "view_report",
    "user_add",
    "token_add",
    "user_disable",
    "token_revoke",
    "restore",
    # the bureau's side (reports/bureau_*.py, console/complaints.py, console/merchants.py)
    "delivery",
    "delivery_failed",
    "delivery_resend",
    "complaint",
    "view_complaint",
    "merchant",
    "view_merchant",
    "retention_dry_run",
    "retention_apply",
    # the fund ledger (riskmon/fund_cli.py, console holds page)
    "fund_release",
    # controls (console/control_register.py): issued, requested for a second supervisor, refused
    "control",
    "control_request",
    "control_refuse",
    # the console's daily work (console/triage_pages.py, console/user_pages.py)
    "view_entity",
    "user_enable",
    "user_reset",
    "user_remove",
    "language",
)
COLUMNS = ("audit_id", "at", "actor", "role", "action", "target", "detail", "remote")


def record(
    connection: Connection,
    actor: str,
    action: str,
    *,
    role: str | None = None,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    remote: str | None = None,
    at: datetime | None = None,
) -> None:
    """Append one row, in the caller's transaction (a verdict and its audit row go together)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    connection.execute(
        insert(audit).values(
            at=at or datetime.now(UTC),
            actor=actor[:64],
            role=role,
            action=action,
            target=target,
            detail=orjson.dumps(detail or {}).decode(),
            remote=remote,
        )
    )


@dataclass(frozen=True)
class AuditPage:
    rows: list[dict[str, Any]]
    total: int


def page(
    connection: Connection,
    *,
    actor: str | None = None,
    action: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> AuditPage:
    """The newest rows first, filtered by actor and action."""
    query = select(audit)
    count = select(func.count()).select_from(audit)
    if actor:
        query = query.where(audit.c.actor == actor)
        count = count.where(audit.c.actor == actor)
    if action:
        query = query.where(audit.c.action == action)
        count = count.where(audit.c.action == action)
    rows = connection.execute(
        query.order_by(audit.c.audit_id.desc()).offset(offset).limit(limit)
    ).mappings()
    total = connection.execute(count).scalar_one()
    return AuditPage([dict(r) for r in rows], total)


def export_csv(connection: Connection) -> Iterator[str]:
    """The whole trail as CSV, oldest first, times in UTC (RFC 3339); text cells neutralised
    (`reports.cells`): a failed login's user name is whatever was typed, by anyone."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    yield _take(buffer)
    result = connection.execution_options(yield_per=2000).execute(
        select(*(audit.c[c] for c in COLUMNS)).order_by(audit.c.audit_id)
    )
    for row in result:
        values = [neutralise_value(value) for value in row]
        values[1] = row[1].astimezone(UTC).isoformat()
        writer.writerow(values)
        yield _take(buffer)


def _take(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
