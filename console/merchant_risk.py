"""A merchant's risk record, for its page: the alerts on it and on its orders by risk, the
cases confirmed, its refund rate beside its peers', the mark-up of its prices over the
catalog's reference prices."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, or_, select

from console.queue import PAGE_SIZE, _base, _row, _summary_columns
from reports.rows import CLAWBACK
from reports.tables import alert_orders, alert_status, alerts, decisions, fund_ledger, sales_ledger

MARKUP_LIMIT = Decimal("0.10")  # the programme's price rule: at most 10 % above the reference


@dataclass
class RiskRecord:
    orders: int = 0
    allowed: Decimal = Decimal("0.00")
    refunded: int = 0
    peer_refund_rate: float | None = None
    alerts_by_risk: dict[str, int] = field(default_factory=dict)
    confirmed: int = 0
    lines_priced: int = 0
    mean_markup: float | None = None
    above_limit: int = 0
    alerts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def refund_rate(self) -> float | None:
        return self.refunded / self.orders if self.orders else None


def _refunded_orders(connection: Connection, merchant_id: str | None) -> int:
    """Orders with money given back (a cancellation or refund): the one read of the fund
    ledger's kinds here, to follow when its states change."""
    query = select(func.count(func.distinct(fund_ledger.c.order_id))).where(
        fund_ledger.c.kind == CLAWBACK
    )
    if merchant_id is not None:
        query = query.where(
            fund_ledger.c.order_id.in_(
                select(decisions.c.order_id).where(decisions.c.merchant_id == merchant_id)
            )
        )
    return int(connection.execute(query).scalar_one())


def risk_record(
    connection: Connection, merchant_id: str, reference_prices: dict[str, Decimal]
) -> RiskRecord:
    record = RiskRecord()
    orders, allowed = connection.execute(
        select(func.count(), func.sum(decisions.c.allowed_subsidy)).where(
            decisions.c.merchant_id == merchant_id
        )
    ).one()
    record.orders, record.allowed = int(orders), Decimal(allowed or 0)
    record.refunded = _refunded_orders(connection, merchant_id)
    all_orders = connection.execute(select(func.count()).select_from(decisions)).scalar_one()
    if all_orders:
        record.peer_refund_rate = _refunded_orders(connection, None) / all_orders
    its_orders = select(decisions.c.order_id).where(decisions.c.merchant_id == merchant_id)
    about = or_(
        (alerts.c.entity_type == "merchant") & (alerts.c.entity_key == merchant_id),
        alerts.c.alert_id.in_(
            select(alert_orders.c.alert_id).where(alert_orders.c.order_id.in_(its_orders))
        ),
    )
    for risk, n in connection.execute(
        select(alerts.c.risk, func.count()).where(about).group_by(alerts.c.risk)
    ):
        record.alerts_by_risk[str(risk)] = int(n)
    record.confirmed = int(
        connection.execute(
            select(func.count())
            .select_from(alerts.join(alert_status, alert_status.c.alert_id == alerts.c.alert_id))
            .where(about, alert_status.c.status == "confirmed")
        ).scalar_one()
    )
    record.alerts = [
        _row(r)
        for r in connection.execute(
            _base(_summary_columns())
            .where(about)
            .order_by(alerts.c.raised_at.desc())
            .limit(PAGE_SIZE)
        ).mappings()
    ]
    if reference_prices:
        markups = []
        for sku, price in connection.execute(
            select(sales_ledger.c.sku, sales_ledger.c.unit_price).where(
                sales_ledger.c.merchant_id == merchant_id
            )
        ):
            reference = reference_prices.get(sku)
            if reference:
                markups.append(Decimal(price) / reference - 1)
        if markups:
            record.lines_priced = len(markups)
            record.mean_markup = float(sum(markups) / len(markups))
            record.above_limit = sum(1 for m in markups if m > MARKUP_LIMIT)
    return record
