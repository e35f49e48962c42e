"""Cases pushed to the bureau (事件报告): escalated incidents and alerts of the configured
severities (default `critical`), each as a masked file that changes as the case moves.

A case's version is a digest of what the bureau follows (its status, the verdicts given, the
incident filed, the money recovered): a new version is a new delivery, so the bureau hears of
each verdict and each recovery, and of nothing twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from reports.masking import mask_key, mask_pseudonyms
from reports.rows import CLAWBACK
from reports.tables import (
    alert_orders,
    alert_status,
    alerts,
    decisions,
    fund_ledger,
    incidents,
    verdicts,
)
from schemas.pseudonyms import mask_hash

ORDERS_IN_FILE = 200


@dataclass(frozen=True)
class CaseMark:
    alert_id: str
    status: str
    verdicts: int
    incident_id: int | None
    recovered: Decimal

    @property
    def version(self) -> str:
        text = f"{self.status}|{self.verdicts}|{self.incident_id}|{self.recovered:.2f}"
        return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _recovered_by_alert(connection: Connection, alert_ids: list[str]) -> dict[str, Decimal]:
    """Money given back to the programme on each alert's orders (claw-backs), in yuan.

    The one place this module reads the fund ledger's kinds: when the ledger's states change
    (granted / held / released / forfeited / clawed back), this is what follows them.
    """
    out: dict[str, Decimal] = {}
    for start in range(0, len(alert_ids), 500):
        chunk = alert_ids[start : start + 500]
        rows = connection.execute(
            select(alert_orders.c.alert_id, func.sum(fund_ledger.c.amount))
            .select_from(
                alert_orders.join(fund_ledger, fund_ledger.c.order_id == alert_orders.c.order_id)
            )
            .where(alert_orders.c.alert_id.in_(chunk), fund_ledger.c.kind == CLAWBACK)
            .group_by(alert_orders.c.alert_id)
        )
        out.update({a: Decimal(s or 0) for a, s in rows})
    return out


def marks(
    connection: Connection, severities: tuple[str, ...], since: date | None
) -> list[CaseMark]:
    """Every case to push: escalated ones, and alerts of `severities` raised from `since` on."""
    condition: ColumnElement[bool] = alerts.c.alert_id.in_(select(incidents.c.alert_id))
    if severities:
        severe: ColumnElement[bool] = alerts.c.severity.in_(severities)
        if since is not None:
            severe = severe & (alerts.c.day >= since)
        condition = or_(condition, severe)
    counted = (
        select(verdicts.c.alert_id, func.count().label("n"))
        .group_by(verdicts.c.alert_id)
        .subquery()
    )
    rows = connection.execute(
        select(
            alerts.c.alert_id,
            func.coalesce(alert_status.c.status, "open"),
            func.coalesce(counted.c.n, 0),
            incidents.c.incident_id,
        )
        .select_from(
            alerts.outerjoin(alert_status, alert_status.c.alert_id == alerts.c.alert_id)
            .outerjoin(counted, counted.c.alert_id == alerts.c.alert_id)
            .outerjoin(incidents, incidents.c.alert_id == alerts.c.alert_id)
        )
        .where(condition)
        .order_by(alerts.c.raised_at, alerts.c.alert_id)
    ).all()
    recovered = _recovered_by_alert(connection, [r[0] for r in rows])
    return [
        CaseMark(a, str(s), int(n), i, recovered.get(a, Decimal("0.00"))) for a, s, n, i in rows
    ]


def _money(value: Any) -> str | None:
    return None if value is None else f"{Decimal(value):.2f}"


def case_file(connection: Connection, mark: CaseMark, timezone: Any) -> dict[str, Any]:
    """The masked file of one case: what the bureau reads; no whole pseudonym in it."""
    alert = connection.execute(select(alerts).where(alerts.c.alert_id == mark.alert_id)).one()
    orders = connection.execute(
        select(
            alert_orders.c.order_id,
            decisions.c.merchant_id,
            decisions.c.consumer,
            decisions.c.decision,
            decisions.c.claimed_subsidy,
            decisions.c.allowed_subsidy,
        )
        .select_from(
            alert_orders.outerjoin(decisions, decisions.c.order_id == alert_orders.c.order_id)
        )
        .where(alert_orders.c.alert_id == mark.alert_id)
        .order_by(alert_orders.c.order_id)
    ).all()
    history = connection.execute(
        select(verdicts.c.action, verdicts.c.analyst, verdicts.c.at, verdicts.c.comment)
        .where(verdicts.c.alert_id == mark.alert_id)
        .order_by(verdicts.c.verdict_id)
    ).all()
    incident = None
    if mark.incident_id is not None:
        found = connection.execute(
            select(incidents).where(incidents.c.incident_id == mark.incident_id)
        ).one()
        incident = {
            "incident_id": found.incident_id,
            "filed_at": found.filed_at.astimezone(timezone).isoformat(timespec="seconds"),
            "filed_by": found.filed_by,
            "comment": mask_pseudonyms(found.comment),
        }
    return {
        "schema_version": 1,
        "alert_id": alert.alert_id,
        "raised_at": alert.raised_at.astimezone(timezone).isoformat(timespec="seconds"),
        "detector": alert.detector,
        "risk": alert.risk,
        "severity": alert.severity,
        "action": alert.action,
        "entity": {"type": alert.entity_type, "key": mask_key(alert.entity_type, alert.entity_key)},
        "subsidy_at_risk": _money(alert.subsidy_at_risk),
        "evidence": orjson.loads(mask_pseudonyms(alert.evidence)),
        "status": mark.status,
        "incident": incident,
        "verdicts": [
            {
                "action": v.action,
                "by": v.analyst,
                "at": v.at.astimezone(timezone).isoformat(timespec="seconds"),
                "comment": mask_pseudonyms(v.comment),
            }
            for v in history
        ],
        "recovered": _money(mark.recovered),
        "order_count": len(orders),
        "orders": [
            {
                "order_id": o.order_id,
                "merchant_id": o.merchant_id,
                "consumer": mask_hash(o.consumer) if o.consumer else None,
                "decision": o.decision,
                "claimed_subsidy": _money(o.claimed_subsidy),
                "allowed_subsidy": _money(o.allowed_subsidy),
            }
            for o in orders[:ORDERS_IN_FILE]
        ],
    }
