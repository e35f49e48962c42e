"""Control requests waiting for a second supervisor (reports/control_tables.py).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

ID = 128
USER = 64


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "control_requests",
        sa.Column(
            "request_id", sa.String(64), nullable=False, comment="the control id it will carry"
        ),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("key", sa.String(ID), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _time("effective_from"),
        _time("expires_at", nullable=True),
        sa.Column("requested_by", sa.String(USER), nullable=False),
        _time("requested_at"),
        sa.Column("state", sa.String(12), nullable=False, comment="pending | approved | refused"),
        sa.Column("decided_by", sa.String(USER), nullable=True, comment="the second supervisor"),
        _time("decided_at", nullable=True),
        sa.PrimaryKeyConstraint("request_id", name="pk_control_requests"),
    )
    op.create_index("ix_control_requests_state", "control_requests", ["state"])


def downgrade() -> None:
    op.drop_table("control_requests")
