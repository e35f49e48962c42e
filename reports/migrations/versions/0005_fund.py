"""Money follows the decision and the verdict: who moved an order's subsidy, and why.

Every fund-ledger entry now says who booked it (`riskmon` for the monitor's own, a console user
for a verdict's, `cli:<user>` for a supervisor's release) and why (the decision's reasons, the
later event, the verdict and its comment, the release's note). Entries booked before this
revision keep both empty: they are the monitor's, their reasons in `decisions`.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

KINDS = "grant | hold | reject | clawback"
MORE_KINDS = "grant | hold | reject | clawback | freeze | release | forfeit"


def upgrade() -> None:
    with op.batch_alter_table("fund_ledger") as batch:
        batch.add_column(
            sa.Column(
                "actor",
                sa.String(64),
                nullable=True,
                comment="who moved it (0005): riskmon, a user",
            )
        )
        batch.add_column(
            sa.Column(
                "reason",
                sa.Text(),
                nullable=True,
                comment="why (0005): reasons, a verdict, a note",
            )
        )
        batch.alter_column(
            "kind",
            existing_type=sa.String(8),
            existing_nullable=False,
            comment=MORE_KINDS,
            existing_comment=KINDS,
        )


def downgrade() -> None:
    with op.batch_alter_table("fund_ledger") as batch:
        batch.alter_column(
            "kind",
            existing_type=sa.String(8),
            existing_nullable=False,
            comment=KINDS,
            existing_comment=MORE_KINDS,
        )
        batch.drop_column("reason")
        batch.drop_column("actor")
