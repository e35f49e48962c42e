"""The bureau's side: deliveries, complaints and enquiries, the merchant register, control
records waiting for the `controls` topic, retention runs.

The audit trail stays append-only, with one exception a retention run needs: a DELETE of rows
older than the `audit_before` of a retention run that is `applying` in the same transaction.
Nothing inside the retention period can be deleted, and every deletion has its run recorded.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

ID = 128
USER = 64
REFUSAL = "the audit trail is append-only"
PAST_RETENTION = (
    "EXISTS (SELECT 1 FROM retention_runs WHERE state = 'applying' "
    "AND audit_before IS NOT NULL AND OLD.at < audit_before)"
)


def _time(name: str, *, nullable: bool = False, comment: str | None = None) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, comment=comment)


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column(
            "delivery_id", sa.String(32), nullable=False, comment="blake2b of what it carries"
        ),
        sa.Column(
            "destination", sa.String(64), nullable=False, comment="a name from the bureau config"
        ),
        sa.Column("package", sa.String(16), nullable=False, comment="daily | incident"),
        sa.Column("subject", sa.String(ID), nullable=False, comment="the day, or the alert id"),
        sa.Column(
            "version", sa.String(32), nullable=False, comment="'1' for a day; a case's digest"
        ),
        _time("created_at"),
        _time("due_at", comment="when it should have arrived by"),
        sa.Column("state", sa.String(12), nullable=False, comment="pending | delivered"),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _time("next_attempt_at", nullable=True, comment="null once delivered"),
        _time("last_attempt_at", nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True, comment="the last failure, in words"),
        _time("delivered_at", nullable=True),
        sa.Column(
            "receipt", sa.Text(), nullable=True, comment="the receiver's answer (acknowledgement)"
        ),
        sa.Column("body_sha256", sa.String(64), nullable=True, comment="of what was delivered"),
        sa.Column("payload", sa.Text(), nullable=True, comment="an incident's masked file, JSON"),
        sa.PrimaryKeyConstraint("delivery_id", name="pk_deliveries"),
    )
    op.create_index(
        "ix_deliveries_state_next_attempt_at", "deliveries", ["state", "next_attempt_at"]
    )
    op.create_index(
        "ix_deliveries_destination_package_subject",
        "deliveries",
        ["destination", "package", "subject"],
    )
    op.create_table(
        "complaints",
        sa.Column("complaint_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False, comment="complaint | enquiry"),
        sa.Column("party", sa.String(16), nullable=False, comment="consumer | merchant"),
        sa.Column(
            "channel", sa.String(16), nullable=False, comment="phone | web | app | letter | visit"
        ),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("identity_masked", sa.String(64), nullable=False, comment="e.g. 138****5678"),
        sa.Column(
            "identity_hash", sa.String(64), nullable=True, comment="keyed pseudonym, if a key"
        ),
        sa.Column("merchant_id", sa.String(ID), nullable=True),
        sa.Column(
            "summary", sa.Text(), nullable=False, comment="raw identifiers redacted at entry"
        ),
        sa.Column(
            "status", sa.String(16), nullable=False, comment="open | assigned | answered | closed"
        ),
        sa.Column("assignee", sa.String(USER), nullable=True),
        _time("created_at"),
        sa.Column("created_by", sa.String(USER), nullable=False),
        _time("answer_due_at"),
        _time("first_answer_at", nullable=True),
        _time("escalated_at", nullable=True, comment="its deadline passed"),
        _time("closed_at", nullable=True),
        _time("anonymised_at", nullable=True, comment="retention"),
        sa.PrimaryKeyConstraint("complaint_id", name="pk_complaints"),
    )
    op.create_index("ix_complaints_status", "complaints", ["status"])
    op.create_index("ix_complaints_created_at", "complaints", ["created_at"])
    op.create_table(
        "complaint_links",
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("link_type", sa.String(8), nullable=False, comment="order | alert"),
        sa.Column("ref", sa.String(ID), nullable=False),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaints.complaint_id"],
            name="fk_complaint_links_complaint_id_complaints",
        ),
        sa.PrimaryKeyConstraint("complaint_id", "link_type", "ref", name="pk_complaint_links"),
    )
    op.create_table(
        "complaint_events",
        sa.Column("event_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        _time("at"),
        sa.Column("actor", sa.String(USER), nullable=False),
        sa.Column(
            "action", sa.String(16), nullable=False, comment="register | assign | answer | ..."
        ),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaints.complaint_id"],
            name="fk_complaint_events_complaint_id_complaints",
        ),
        sa.PrimaryKeyConstraint("event_id", name="pk_complaint_events"),
    )
    op.create_index("ix_complaint_events_complaint_id", "complaint_events", ["complaint_id"])
    op.create_table(
        "merchants",
        sa.Column("merchant_id", sa.String(ID), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column(
            "licence_no", sa.String(32), nullable=False, comment="unified social credit code"
        ),
        sa.Column("categories", sa.Text(), nullable=False, comment="space-separated"),
        sa.Column(
            "status",
            sa.String(16),
            nullable=False,
            comment="applied | vetted | active | suspended | exited | rejected",
        ),
        sa.Column("licence_checked", sa.Boolean(), nullable=False),
        sa.Column("categories_checked", sa.Boolean(), nullable=False),
        sa.Column("training_done", sa.Boolean(), nullable=False),
        _time("applied_at"),
        sa.Column("applied_by", sa.String(USER), nullable=False),
        sa.Column("vetted_by", sa.String(USER), nullable=True),
        sa.Column("approved_by", sa.String(USER), nullable=True),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("merchant_id", name="pk_merchants"),
    )
    op.create_index("ix_merchants_status", "merchants", ["status"])
    op.create_table(
        "merchant_history",
        sa.Column("history_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("merchant_id", sa.String(ID), nullable=False),
        _time("at"),
        sa.Column("actor", sa.String(USER), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.merchant_id"],
            name="fk_merchant_history_merchant_id_merchants",
        ),
        sa.PrimaryKeyConstraint("history_id", name="pk_merchant_history"),
    )
    op.create_index("ix_merchant_history_merchant_id", "merchant_history", ["merchant_id"])
    op.create_table(
        "controls_out",
        sa.Column("control_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("key", sa.String(ID), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False, comment="the control record, JSON"),
        sa.Column("status", sa.String(8), nullable=False, comment="outbox | sent"),
        _time("created_at"),
        _time("sent_at", nullable=True),
        sa.PrimaryKeyConstraint("control_id", name="pk_controls_out"),
    )
    op.create_index("ix_controls_out_status", "controls_out", ["status"])
    op.create_table(
        "retention_runs",
        sa.Column("run_id", sa.Integer(), autoincrement=True, nullable=False),
        _time("at"),
        sa.Column("actor", sa.String(USER), nullable=False),
        sa.Column("state", sa.String(12), nullable=False, comment="applying | done"),
        _time("audit_before", nullable=True),
        sa.Column("detail", sa.Text(), nullable=False, comment="JSON: cut-offs and counts"),
        sa.PrimaryKeyConstraint("run_id", name="pk_retention_runs"),
    )
    _audit_deletable_past_retention()


def _audit_deletable_past_retention() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql "
            f"AS $$ BEGIN IF TG_OP = 'DELETE' AND {PAST_RETENTION} THEN RETURN OLD; END IF; "
            f"RAISE EXCEPTION '{REFUSAL}'; END $$"
        )
        return
    op.execute("DROP TRIGGER audit_no_delete")
    op.execute(
        f"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit WHEN NOT {PAST_RETENTION} "
        f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql "
            f"AS $$ BEGIN RAISE EXCEPTION '{REFUSAL}'; END $$"
        )
    else:
        op.execute("DROP TRIGGER audit_no_delete")
        op.execute(
            "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit "
            f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
        )
    for table in (
        "retention_runs",
        "controls_out",
        "merchant_history",
        "merchants",
        "complaint_events",
        "complaint_links",
        "complaints",
        "deliveries",
    ):
        op.drop_table(table)
