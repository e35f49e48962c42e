"""Controls that wait for a second supervisor (migration 0006): pausing a programme or a budget
line, or blocking a merchant, from the console's supervisors' page (console/control_pages.py).

A request is not a control: nothing goes to the `controls` topic until a different supervisor
approves it; then its record goes into the outbox (`controls_out`) in the same transaction.
The controls themselves, once issued, are the outbox's records: `controls_out` keeps them sent.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table, Text

from reports.tables import ID, USER, UtcDateTime, metadata

control_requests = Table(
    "control_requests",
    metadata,
    Column("request_id", String(64), primary_key=True, comment="the control id it will carry"),
    Column("kind", String(32), nullable=False),
    Column("key", String(ID), nullable=False),
    Column("action", String(8), nullable=False),
    Column("reason", Text(), nullable=False),
    Column("effective_from", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=True),
    Column("requested_by", String(USER), nullable=False),
    Column("requested_at", UtcDateTime(), nullable=False),
    Column("state", String(12), nullable=False, comment="pending | approved | refused"),
    Column("decided_by", String(USER), nullable=True, comment="the second supervisor"),
    Column("decided_at", UtcDateTime(), nullable=True),
)
Index(None, control_requests.c.state)

CONTROL_TABLES: tuple[Table, ...] = (control_requests,)
