"""The bureau's side of the store (migration 0004): deliveries to the bureau, complaints and
enquiries, the merchant register, control records for the platform, retention runs.

They hold what riskmon sent and what people did, not the monitor's output: a backup carries
them (`BUREAU_TABLES`), the monitor never writes them. Identities in them are pseudonyms or
masked forms, never raw: a complaint's phone or ID number is turned into both at entry.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from reports.tables import ID, USER, UtcDateTime, metadata

# One row per (destination, package, subject, version): its id is what the receiver dedupes on.
deliveries = Table(
    "deliveries",
    metadata,
    Column("delivery_id", String(32), primary_key=True, comment="blake2b of what it carries"),
    Column("destination", String(64), nullable=False, comment="a name from the bureau config"),
    Column("package", String(16), nullable=False, comment="daily | incident"),
    Column("subject", String(ID), nullable=False, comment="the day, or the alert id"),
    Column("version", String(32), nullable=False, comment="'1' for a day; a case's digest"),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("due_at", UtcDateTime(), nullable=False, comment="when it should have arrived by"),
    Column("state", String(12), nullable=False, comment="pending | delivered"),
    Column("attempts", Integer(), nullable=False),
    Column("next_attempt_at", UtcDateTime(), nullable=True, comment="null once delivered"),
    Column("last_attempt_at", UtcDateTime(), nullable=True),
    Column("last_error", Text(), nullable=True, comment="the last failure, in words"),
    Column("delivered_at", UtcDateTime(), nullable=True),
    Column("receipt", Text(), nullable=True, comment="the receiver's answer (acknowledgement)"),
    Column("body_sha256", String(64), nullable=True, comment="of what was delivered"),
    Column("payload", Text(), nullable=True, comment="an incident's masked file, JSON"),
)
Index(None, deliveries.c.state, deliveries.c.next_attempt_at)
Index(None, deliveries.c.destination, deliveries.c.package, deliveries.c.subject)

complaints = Table(
    "complaints",
    metadata,
    Column("complaint_id", Integer(), primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False, comment="complaint | enquiry"),
    Column("party", String(16), nullable=False, comment="consumer | merchant"),
    Column("channel", String(16), nullable=False, comment="phone | web | app | letter | visit"),
    Column("category", String(32), nullable=False),
    Column("identity_masked", String(64), nullable=False, comment="e.g. 138****5678"),
    Column("identity_hash", String(64), nullable=True, comment="keyed pseudonym, if a key"),
    Column("merchant_id", String(ID), nullable=True),
    Column("summary", Text(), nullable=False, comment="raw identifiers redacted at entry"),
    Column("status", String(16), nullable=False, comment="open | assigned | answered | closed"),
    Column("assignee", String(USER), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("created_by", String(USER), nullable=False),
    Column("answer_due_at", UtcDateTime(), nullable=False),
    Column("first_answer_at", UtcDateTime(), nullable=True),
    Column("escalated_at", UtcDateTime(), nullable=True, comment="its deadline passed"),
    Column("closed_at", UtcDateTime(), nullable=True),
    Column("anonymised_at", UtcDateTime(), nullable=True, comment="retention"),
)
Index(None, complaints.c.status)
Index(None, complaints.c.created_at)

complaint_links = Table(
    "complaint_links",
    metadata,
    Column(
        "complaint_id",
        Integer(),
        ForeignKey(complaints.c.complaint_id),
        primary_key=True,
    ),
    Column("link_type", String(8), primary_key=True, comment="order | alert"),
    Column("ref", String(ID), primary_key=True),
)

complaint_events = Table(
    "complaint_events",
    metadata,
    Column("event_id", Integer(), primary_key=True, autoincrement=True),
    Column("complaint_id", Integer(), ForeignKey(complaints.c.complaint_id), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("actor", String(USER), nullable=False),
    Column("action", String(16), nullable=False, comment="register | assign | answer | ..."),
    Column("note", Text(), nullable=False),
)
Index(None, complaint_events.c.complaint_id)

merchants = Table(
    "merchants",
    metadata,
    Column("merchant_id", String(ID), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("licence_no", String(32), nullable=False, comment="unified social credit code"),
    Column("categories", Text(), nullable=False, comment="space-separated"),
    Column(
        "status",
        String(16),
        nullable=False,
        comment="applied | vetted | active | suspended | exited | rejected",
    ),
    Column("licence_checked", Boolean(), nullable=False),
    Column("categories_checked", Boolean(), nullable=False),
    Column("training_done", Boolean(), nullable=False),
    Column("applied_at", UtcDateTime(), nullable=False),
    Column("applied_by", String(USER), nullable=False),
    Column("vetted_by", String(USER), nullable=True),
    Column("approved_by", String(USER), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
)
Index(None, merchants.c.status)

merchant_history = Table(
    "merchant_history",
    metadata,
    Column("history_id", Integer(), primary_key=True, autoincrement=True),
    Column("merchant_id", String(ID), ForeignKey(merchants.c.merchant_id), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("actor", String(USER), nullable=False),
    Column("from_status", String(16), nullable=True),
    Column("to_status", String(16), nullable=False),
    Column("reason", Text(), nullable=False),
)
Index(None, merchant_history.c.merchant_id)

# Control records (events.md, topic `controls`) waiting to go, as labels_out does for labels.
controls_out = Table(
    "controls_out",
    metadata,
    Column("control_id", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("key", String(ID), nullable=False),
    Column("payload", Text(), nullable=False, comment="the control record, JSON"),
    Column("status", String(8), nullable=False, comment="outbox | sent"),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("sent_at", UtcDateTime(), nullable=True),
)
Index(None, controls_out.c.status)

# A retention run. While one is `applying`, the audit trail's trigger lets that transaction
# delete audit rows older than its `audit_before`, and nothing else (migration 0004).
retention_runs = Table(
    "retention_runs",
    metadata,
    Column("run_id", Integer(), primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("actor", String(USER), nullable=False),
    Column("state", String(12), nullable=False, comment="applying | done"),
    Column("audit_before", UtcDateTime(), nullable=True),
    Column("detail", Text(), nullable=False, comment="JSON: cut-offs and counts"),
)

# In the order a restore fills them (a referenced table first).
BUREAU_TABLES: tuple[Table, ...] = (
    deliveries,
    complaints,
    complaint_links,
    complaint_events,
    merchants,
    merchant_history,
    controls_out,
    retention_runs,
)
