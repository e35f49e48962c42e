"""An entity's file: a device, an address, a payment account, a consumer or a merchant, with its
orders and its alerts over time.

The store keeps an order's consumer and merchant, not its device, address or payment account:
for those, the orders are the ones their alerts name. A pseudonymous entity is asked for by its
pseudonym's first 8 hex digits (what the console shows, `console.refs`); the rare prefix shared
by two pseudonyms lists both, and the page says so.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.sql.elements import ColumnElement

from console.queue import QUEUE_ORDER, _base, _row, _summary_columns
from console.refs import is_prefix, shown
from console.refs import ref as entity_ref
from reports.tables import alert_orders, alerts, decisions

SHOWN = 200  # alerts, and orders, listed at most


@dataclass
class EntityFile:
    kind: str
    ref: str
    keys: int  # how many stored entities the reference matched
    alerts: list[dict[str, Any]] = field(default_factory=list)
    alert_count: int = 0
    orders: list[dict[str, Any]] = field(default_factory=list)
    order_count: int = 0
    orders_from_alerts: bool = False  # the orders are those its alerts name
    days: list[dict[str, Any]] = field(default_factory=list)  # orders and alerts per day


def _matching(column: Any, ref: str) -> ColumnElement[bool]:
    if is_prefix(ref):
        # a pseudonym's prefix: 64 hex digits that start with it
        return column.like(f"{ref}%") & (func.length(column) == 64)  # type: ignore[no-any-return]
    return column == ref  # type: ignore[no-any-return]


def entity_file(connection: Connection, kind: str, ref: str) -> EntityFile | None:
    """The entity's file; None when the store holds nothing on it."""
    on_entity = (alerts.c.entity_type == kind) & _matching(alerts.c.entity_key, ref)
    own_orders: ColumnElement[bool] | None = None
    if kind == "consumer":
        own_orders = _matching(decisions.c.consumer, ref)
    elif kind == "merchant":
        own_orders = _matching(decisions.c.merchant_id, ref)
    keys = set(connection.execute(select(alerts.c.entity_key).where(on_entity)).scalars())
    if kind == "consumer" and own_orders is not None:
        keys |= set(
            connection.execute(select(decisions.c.consumer).where(own_orders).distinct()).scalars()
        )
    if not keys:
        return None
    file = EntityFile(kind, ref, len(keys))
    file.alert_count = connection.execute(
        select(func.count()).select_from(alerts).where(on_entity)
    ).scalar_one()
    file.alerts = [
        _row(r)
        for r in connection.execute(
            _base(_summary_columns()).where(on_entity).order_by(*QUEUE_ORDER).limit(SHOWN)
        ).mappings()
    ]
    if own_orders is None:
        file.orders_from_alerts = True
        order_ids = (
            select(alert_orders.c.order_id)
            .join(alerts, alerts.c.alert_id == alert_orders.c.alert_id)
            .where(on_entity)
        )
        own_orders = decisions.c.order_id.in_(order_ids)
    file.order_count = connection.execute(
        select(func.count()).select_from(decisions).where(own_orders)
    ).scalar_one()
    file.orders = [
        {
            **dict(r),
            "consumer": shown("consumer", r["consumer"]),
            "consumer_ref": entity_ref("consumer", r["consumer"]),
        }
        for r in connection.execute(
            select(
                decisions.c.order_id,
                decisions.c.decided_at,
                decisions.c.merchant_id,
                decisions.c.consumer,
                decisions.c.decision,
                decisions.c.claimed_subsidy,
                decisions.c.allowed_subsidy,
                decisions.c.reasons,
            )
            .where(own_orders)
            .order_by(decisions.c.decided_at.desc(), decisions.c.order_id)
            .limit(SHOWN)
        ).mappings()
    ]
    file.days = _days(connection, own_orders, on_entity)
    return file


def _days(
    connection: Connection, orders: ColumnElement[bool], on_entity: ColumnElement[bool]
) -> list[dict[str, Any]]:
    """Orders and alerts per calendar day, oldest first: the entity over time."""
    by_orders: Counter[date] = Counter(
        dict(
            connection.execute(
                select(decisions.c.day, func.count()).where(orders).group_by(decisions.c.day)
            ).all()
        )
    )
    by_alerts: Counter[date] = Counter(
        dict(
            connection.execute(
                select(alerts.c.day, func.count()).where(on_entity).group_by(alerts.c.day)
            ).all()
        )
    )
    return [
        {"day": day, "orders": by_orders[day], "alerts": by_alerts[day]}
        for day in sorted(set(by_orders) | set(by_alerts))
    ]
