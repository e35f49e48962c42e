"""The store's tables: decisions, alerts, the sales ledger and the subsidy-fund ledger; and the
analyst console's own (users, API tokens, alert status, verdicts, labels, incidents, audit).

Every table is keyed by an id the events fix (order id, alert id, a hash of the event id), so
that writing the same event twice inserts nothing the second time. Money is `Numeric(14, 2)`
(the wire contract's 14 digits); identities are pseudonyms, never raw identifiers.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator

# Constraint names fixed here, not by each dialect, so migrations can name what they alter.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    }
)


MONEY = Numeric(14, 2, asdecimal=True)


class UtcDateTime(TypeDecorator[datetime]):
    """An aware timestamp, kept in UTC: SQLite has no time zones, PostgreSQL a `timestamptz`.

    Both give back an aware UTC datetime, so a backup taken from one restores into the other.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a stored time needs its offset (got a naive datetime)")
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


ID = 128  # schemas.common.Ident

decisions = Table(
    "decisions",
    metadata,
    Column("order_id", String(ID), primary_key=True),
    Column("event_id", String(ID), nullable=False),
    Column("decided_at", UtcDateTime(), nullable=False),
    Column("day", Date(), nullable=False, comment="the programme's calendar day"),
    Column("programme", String(64), nullable=False),
    Column("merchant_id", String(ID), nullable=False),
    Column("consumer", String(64), nullable=False, comment="consumer.id_hash (a pseudonym)"),
    Column("decision", String(8), nullable=False),
    Column("order_amount", MONEY, nullable=False),
    Column("paid_amount", MONEY, nullable=False),
    Column("claimed_subsidy", MONEY, nullable=False),
    Column("allowed_subsidy", MONEY, nullable=False),
    Column("reasons", Text(), nullable=False, comment="space-separated rule and detector names"),
)
Index(None, decisions.c.day)

sales_ledger = Table(
    "sales_ledger",
    metadata,
    Column("order_id", String(ID), primary_key=True),
    Column("line_no", SmallInteger(), primary_key=True),
    Column("event_id", String(ID), nullable=False),
    Column("sold_at", UtcDateTime(), nullable=False),
    Column("day", Date(), nullable=False),
    Column("programme", String(64), nullable=False),
    Column("budget_line", String(64), nullable=True, comment="null: in no line of the programme"),
    Column("merchant_id", String(ID), nullable=False),
    Column("consumer", String(64), nullable=False),
    Column("sku", String(ID), nullable=False),
    Column("category", String(64), nullable=False),
    Column("energy_grade", SmallInteger(), nullable=True),
    Column("unit_price", MONEY, nullable=False),
    Column("quantity", SmallInteger(), nullable=False),
    Column("amount", MONEY, nullable=False),
)
Index(None, sales_ledger.c.day)

fund_ledger = Table(
    "fund_ledger",
    metadata,
    Column("entry_id", String(32), primary_key=True, comment="blake2b of event, kind, line"),
    Column("event_id", String(ID), nullable=False),
    Column("order_id", String(ID), nullable=False),
    Column("booked_at", UtcDateTime(), nullable=False),
    Column("day", Date(), nullable=False),
    Column("programme", String(64), nullable=False),
    Column("budget_line", String(64), nullable=True, comment="null: a rejection of the order"),
    Column(
        "kind",
        String(8),
        nullable=False,
        comment="grant | hold | reject | clawback | freeze | release | forfeit",
    ),
    Column("amount", MONEY, nullable=False, comment="positive; the kind says which way"),
    Column("actor", String(64), nullable=True, comment="who moved it (0005): riskmon, a user"),
    Column("reason", Text(), nullable=True, comment="why (0005): reasons, a verdict, a note"),
)
Index(None, fund_ledger.c.day)
Index(None, fund_ledger.c.order_id)

alerts = Table(
    "alerts",
    metadata,
    Column("alert_id", String(32), primary_key=True),
    Column("event_id", String(ID), nullable=False),
    Column("raised_at", UtcDateTime(), nullable=False),
    Column("day", Date(), nullable=False),
    Column("detector", String(64), nullable=False),
    Column("risk", String(16), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("action", String(8), nullable=False),
    Column("entity_type", String(32), nullable=False),
    Column("entity_key", String(ID), nullable=False),
    Column("subsidy_at_risk", MONEY, nullable=False),
    Column("score", Float(), nullable=False),
    Column("evidence", Text(), nullable=False, comment="JSON"),
)
Index(None, alerts.c.day)
Index(None, alerts.c.entity_type, alerts.c.entity_key)  # an entity's other alerts (console)

alert_orders = Table(
    "alert_orders",
    metadata,
    Column("alert_id", String(32), ForeignKey(alerts.c.alert_id), primary_key=True),
    Column("order_id", String(ID), primary_key=True),
)
Index(None, alert_orders.c.order_id)

# In the order a restore fills them (a referenced table first).
TABLES: tuple[Table, ...] = (decisions, sales_ledger, fund_ledger, alerts, alert_orders)


# The analyst console's tables (migration 0002). They hold people's actions, not the monitor's
# output, so `TABLES` (what a backup carries and a restore replaces) leaves them out: the audit
# trail in particular refuses the DELETE a restore begins with.
USER = 64

users = Table(
    "users",
    metadata,
    Column("name", String(USER), primary_key=True),
    Column("role", String(16), nullable=False, comment="analyst | supervisor | bureau"),
    Column("password_hash", String(256), nullable=False, comment="argon2id, PHC string"),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("active", Boolean(), nullable=False),
    Column(
        "lang",
        String(2),
        nullable=False,
        server_default="zh",
        comment="zh | en: the console's language for this user",
    ),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_id", String(32), primary_key=True, comment="the token's public part"),
    Column("name", String(USER), nullable=False),
    Column("token_hash", String(64), nullable=False, comment="SHA-256 of the whole token"),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime(), nullable=True),
    Column("expires_at", UtcDateTime(), nullable=True, comment="null: never (0003)"),
)

alert_status = Table(
    "alert_status",
    metadata,
    Column("alert_id", String(32), ForeignKey(alerts.c.alert_id), primary_key=True),
    Column("status", String(16), nullable=False, comment="confirmed | dismissed | escalated"),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("updated_by", String(USER), nullable=False),
)
Index(None, alert_status.c.status)

verdicts = Table(
    "verdicts",
    metadata,
    Column("verdict_id", Integer(), primary_key=True, autoincrement=True),
    Column("alert_id", String(32), ForeignKey(alerts.c.alert_id), nullable=False),
    Column("action", String(16), nullable=False, comment="confirm | dismiss | escalate"),
    Column("analyst", String(USER), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("comment", Text(), nullable=False),
)
Index(None, verdicts.c.alert_id)

labels_out = Table(
    "labels_out",
    metadata,
    Column("label_id", String(32), primary_key=True, comment="blake2b of verdict and order"),
    Column("verdict_id", Integer(), ForeignKey(verdicts.c.verdict_id), nullable=False),
    Column("order_id", String(ID), nullable=False),
    Column("payload", Text(), nullable=False, comment="the labels message, JSON"),
    Column("status", String(8), nullable=False, comment="outbox | sent"),
    Column("sent_at", UtcDateTime(), nullable=True),
)
Index(None, labels_out.c.status)
Index(None, labels_out.c.verdict_id)

incidents = Table(
    "incidents",
    metadata,
    Column("incident_id", Integer(), primary_key=True, autoincrement=True),
    Column("alert_id", String(32), ForeignKey(alerts.c.alert_id), nullable=False, unique=True),
    Column("verdict_id", Integer(), ForeignKey(verdicts.c.verdict_id), nullable=False),
    Column("filed_at", UtcDateTime(), nullable=False),
    Column("filed_by", String(USER), nullable=False),
    Column("comment", Text(), nullable=False),
)

# Append-only: nothing in the code updates or deletes it, and a trigger refuses it (0002).
audit = Table(
    "audit",
    metadata,
    Column("audit_id", Integer(), primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("actor", String(USER), nullable=False),
    Column("role", String(16), nullable=True),
    Column("action", String(32), nullable=False),
    Column("target", String(ID), nullable=True),
    Column("detail", Text(), nullable=False, comment="JSON"),
    Column("remote", String(64), nullable=True),
)
Index(None, audit.c.at)

CONSOLE_TABLES: tuple[Table, ...] = (
    users,
    api_tokens,
    alert_status,
    verdicts,
    labels_out,
    incidents,
    audit,
)


# Migration 0003: the server side of console sessions, and login throttling. A session's cookie
# holds a random id; the store keeps only its SHA-256, so a leaked store opens no session.
sessions = Table(
    "sessions",
    metadata,
    Column("session_hash", String(64), primary_key=True, comment="SHA-256 of the cookie's id"),
    Column("name", String(USER), ForeignKey(users.c.name), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("seen_at", UtcDateTime(), nullable=False, comment="last request (idle limit)"),
    Column("expires_at", UtcDateTime(), nullable=False, comment="absolute limit"),
    Column("ended_at", UtcDateTime(), nullable=True),
    Column("ended_why", String(16), nullable=True, comment="logout | disabled"),
    Column("remote", String(64), nullable=True),
)
Index(None, sessions.c.name)
Index(None, sessions.c.expires_at)

# Failed logins of the last window, per name and per client; pruned as they age out.
login_failures = Table(
    "login_failures",
    metadata,
    Column("failure_id", Integer(), primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("name", String(USER), nullable=False),
    Column("client", String(64), nullable=False, comment="IPv4 address or IPv6 /64"),
)
Index(None, login_failures.c.at)
Index(None, login_failures.c.name)
Index(None, login_failures.c.client)

lockouts = Table(
    "lockouts",
    metadata,
    Column("scope", String(8), primary_key=True, comment="name | client"),
    Column("key", String(USER), primary_key=True),
    Column("until", UtcDateTime(), nullable=False),
)

# The bureau's tables (migration 0004) live in their own module, on this metadata.
from reports import bureau_tables as _bureau_tables  # noqa: E402, F401
from reports import control_tables as _control_tables  # noqa: E402, F401
