"""The first schema: decisions, the sales and fund ledgers, alerts and their orders.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

ID = 128


def _money(name: str, *, comment: str | None = None) -> sa.Column[object]:
    return sa.Column(name, sa.Numeric(14, 2), nullable=False, comment=comment)


def _time(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("order_id", sa.String(ID), nullable=False),
        sa.Column("event_id", sa.String(ID), nullable=False),
        _time("decided_at"),
        sa.Column("day", sa.Date(), nullable=False, comment="the programme's calendar day"),
        sa.Column("programme", sa.String(64), nullable=False),
        sa.Column("merchant_id", sa.String(ID), nullable=False),
        sa.Column(
            "consumer", sa.String(64), nullable=False, comment="consumer.id_hash (a pseudonym)"
        ),
        sa.Column("decision", sa.String(8), nullable=False),
        _money("order_amount"),
        _money("paid_amount"),
        _money("claimed_subsidy"),
        _money("allowed_subsidy"),
        sa.Column(
            "reasons", sa.Text(), nullable=False, comment="space-separated rule and detector names"
        ),
        sa.PrimaryKeyConstraint("order_id", name="pk_decisions"),
    )
    op.create_index("ix_decisions_day", "decisions", ["day"])

    op.create_table(
        "sales_ledger",
        sa.Column("order_id", sa.String(ID), nullable=False),
        sa.Column("line_no", sa.SmallInteger(), nullable=False),
        sa.Column("event_id", sa.String(ID), nullable=False),
        _time("sold_at"),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("programme", sa.String(64), nullable=False),
        sa.Column(
            "budget_line", sa.String(64), nullable=True, comment="null: in no line of the programme"
        ),
        sa.Column("merchant_id", sa.String(ID), nullable=False),
        sa.Column("consumer", sa.String(64), nullable=False),
        sa.Column("sku", sa.String(ID), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("energy_grade", sa.SmallInteger(), nullable=True),
        _money("unit_price"),
        sa.Column("quantity", sa.SmallInteger(), nullable=False),
        _money("amount"),
        sa.PrimaryKeyConstraint("order_id", "line_no", name="pk_sales_ledger"),
    )
    op.create_index("ix_sales_ledger_day", "sales_ledger", ["day"])

    op.create_table(
        "fund_ledger",
        sa.Column(
            "entry_id", sa.String(32), nullable=False, comment="blake2b of event, kind, line"
        ),
        sa.Column("event_id", sa.String(ID), nullable=False),
        sa.Column("order_id", sa.String(ID), nullable=False),
        _time("booked_at"),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("programme", sa.String(64), nullable=False),
        sa.Column(
            "budget_line", sa.String(64), nullable=True, comment="null: a rejection of the order"
        ),
        sa.Column("kind", sa.String(8), nullable=False, comment="grant | hold | reject | clawback"),
        _money("amount", comment="positive; the kind says which way"),
        sa.PrimaryKeyConstraint("entry_id", name="pk_fund_ledger"),
    )
    op.create_index("ix_fund_ledger_day", "fund_ledger", ["day"])
    op.create_index("ix_fund_ledger_order_id", "fund_ledger", ["order_id"])

    op.create_table(
        "alerts",
        sa.Column("alert_id", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(ID), nullable=False),
        _time("raised_at"),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("detector", sa.String(64), nullable=False),
        sa.Column("risk", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("entity_type", sa.String(32), nullable=False),
        sa.Column("entity_key", sa.String(ID), nullable=False),
        _money("subsidy_at_risk"),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False, comment="JSON"),
        sa.PrimaryKeyConstraint("alert_id", name="pk_alerts"),
    )
    op.create_index("ix_alerts_day", "alerts", ["day"])

    op.create_table(
        "alert_orders",
        sa.Column("alert_id", sa.String(32), nullable=False),
        sa.Column("order_id", sa.String(ID), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.alert_id"], name="fk_alert_orders_alert_id_alerts"
        ),
        sa.PrimaryKeyConstraint("alert_id", "order_id", name="pk_alert_orders"),
    )
    op.create_index("ix_alert_orders_order_id", "alert_orders", ["order_id"])


def downgrade() -> None:
    for table in ("alert_orders", "alerts", "fund_ledger", "sales_ledger", "decisions"):
        op.drop_table(table)
