"""The analyst console: users, API tokens, alert status, verdicts, labels, incidents, audit.

The audit trail is append-only: a trigger refuses UPDATE and DELETE on it (and TRUNCATE on
PostgreSQL), whoever asks, so not even a bug in the console can rewrite what staff did.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

ID = 128
USER = 64
REFUSAL = "the audit trail is append-only"


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_index("ix_alerts_entity_type_entity_key", "alerts", ["entity_type", "entity_key"])
    op.create_table(
        "users",
        sa.Column("name", sa.String(USER), nullable=False),
        sa.Column("role", sa.String(16), nullable=False, comment="analyst | supervisor | bureau"),
        sa.Column("password_hash", sa.String(256), nullable=False, comment="argon2id, PHC string"),
        _time("created_at"),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_users"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("token_id", sa.String(32), nullable=False, comment="the token's public part"),
        sa.Column("name", sa.String(USER), nullable=False),
        sa.Column(
            "token_hash", sa.String(64), nullable=False, comment="SHA-256 of the whole token"
        ),
        _time("created_at"),
        _time("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("token_id", name="pk_api_tokens"),
    )
    op.create_table(
        "alert_status",
        sa.Column("alert_id", sa.String(32), nullable=False),
        sa.Column(
            "status",
            sa.String(16),
            nullable=False,
            comment="confirmed | dismissed | escalated",
        ),
        _time("updated_at"),
        sa.Column("updated_by", sa.String(USER), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.alert_id"], name="fk_alert_status_alert_id_alerts"
        ),
        sa.PrimaryKeyConstraint("alert_id", name="pk_alert_status"),
    )
    op.create_index("ix_alert_status_status", "alert_status", ["status"])
    op.create_table(
        "verdicts",
        sa.Column("verdict_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.String(32), nullable=False),
        sa.Column("action", sa.String(16), nullable=False, comment="confirm | dismiss | escalate"),
        sa.Column("analyst", sa.String(USER), nullable=False),
        _time("at"),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.alert_id"], name="fk_verdicts_alert_id_alerts"
        ),
        sa.PrimaryKeyConstraint("verdict_id", name="pk_verdicts"),
    )
    op.create_index("ix_verdicts_alert_id", "verdicts", ["alert_id"])
    op.create_table(
        "labels_out",
        sa.Column(
            "label_id", sa.String(32), nullable=False, comment="blake2b of verdict and order"
        ),
        sa.Column("verdict_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.String(ID), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False, comment="the labels message, JSON"),
        sa.Column("status", sa.String(8), nullable=False, comment="outbox | sent"),
        _time("sent_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["verdict_id"], ["verdicts.verdict_id"], name="fk_labels_out_verdict_id_verdicts"
        ),
        sa.PrimaryKeyConstraint("label_id", name="pk_labels_out"),
    )
    op.create_index("ix_labels_out_status", "labels_out", ["status"])
    op.create_index("ix_labels_out_verdict_id", "labels_out", ["verdict_id"])
    op.create_table(
        "incidents",
        sa.Column("incident_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.String(32), nullable=False),
        sa.Column("verdict_id", sa.Integer(), nullable=False),
        _time("filed_at"),
        sa.Column("filed_by", sa.String(USER), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.alert_id"], name="fk_incidents_alert_id_alerts"
        ),
        sa.ForeignKeyConstraint(
            ["verdict_id"], ["verdicts.verdict_id"], name="fk_incidents_verdict_id_verdicts"
        ),
        sa.PrimaryKeyConstraint("incident_id", name="pk_incidents"),
        sa.UniqueConstraint("alert_id", name="uq_incidents_alert_id"),
    )
    op.create_table(
        "audit",
        sa.Column("audit_id", sa.Integer(), autoincrement=True, nullable=False),
        _time("at"),
        sa.Column("actor", sa.String(USER), nullable=False),
        sa.Column("role", sa.String(16), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(ID), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False, comment="JSON"),
        sa.Column("remote", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("audit_id", name="pk_audit"),
    )
    op.create_index("ix_audit_at", "audit", ["at"])
    _append_only()


def _append_only() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{REFUSAL}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit "
            "FOR EACH ROW EXECUTE FUNCTION audit_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_no_{verb.lower()} BEFORE {verb} ON audit "
            f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_no_truncate ON audit")
        op.execute("DROP TRIGGER audit_no_change ON audit")
        op.execute("DROP FUNCTION audit_append_only()")
    else:
        op.execute("DROP TRIGGER audit_no_update")
        op.execute("DROP TRIGGER audit_no_delete")
    for table in (
        "audit",
        "incidents",
        "labels_out",
        "verdicts",
        "alert_status",
        "api_tokens",
        "users",
    ):
        op.drop_table(table)
    op.drop_index("ix_alerts_entity_type_entity_key", "alerts")
