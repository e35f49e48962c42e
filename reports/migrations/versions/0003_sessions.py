"""Console sessions kept in the store, login throttling kept in the store, token expiry.

A session is a row (revocable, with an absolute and an idle limit) instead of a signed cookie
alone; failed logins and lock-outs survive a restart; an API token may expire.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

USER = 64


def _time(name: str, *, nullable: bool = False, comment: str | None = None) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, comment=comment)


def upgrade() -> None:
    op.add_column("api_tokens", _time("expires_at", nullable=True, comment="null: never (0003)"))
    op.create_table(
        "sessions",
        sa.Column(
            "session_hash", sa.String(64), nullable=False, comment="SHA-256 of the cookie's id"
        ),
        sa.Column("name", sa.String(USER), nullable=False),
        _time("created_at"),
        _time("seen_at", comment="last request (idle limit)"),
        _time("expires_at", comment="absolute limit"),
        _time("ended_at", nullable=True),
        sa.Column("ended_why", sa.String(16), nullable=True, comment="logout | disabled"),
        sa.Column("remote", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(["name"], ["users.name"], name="fk_sessions_name_users"),
        sa.PrimaryKeyConstraint("session_hash", name="pk_sessions"),
    )
    op.create_index("ix_sessions_name", "sessions", ["name"])
    op.create_index("ix_sessions_expires_at", "sessions", ["expires_at"])
    op.create_table(
        "login_failures",
        sa.Column("failure_id", sa.Integer(), autoincrement=True, nullable=False),
        _time("at"),
        sa.Column("name", sa.String(USER), nullable=False),
        sa.Column("client", sa.String(64), nullable=False, comment="IPv4 address or IPv6 /64"),
        sa.PrimaryKeyConstraint("failure_id", name="pk_login_failures"),
    )
    op.create_index("ix_login_failures_at", "login_failures", ["at"])
    op.create_index("ix_login_failures_name", "login_failures", ["name"])
    op.create_index("ix_login_failures_client", "login_failures", ["client"])
    op.create_table(
        "lockouts",
        sa.Column("scope", sa.String(8), nullable=False, comment="name | client"),
        sa.Column("key", sa.String(USER), nullable=False),
        _time("until"),
        sa.PrimaryKeyConstraint("scope", "key", name="pk_lockouts"),
    )


def downgrade() -> None:
    op.drop_table("lockouts")
    op.drop_table("login_failures")
    op.drop_table("sessions")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")
