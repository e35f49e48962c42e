"""The alert queue and an alert's file, read from the store; identities masked on the way out.

An alert without a row in `alert_status` is `open`: the monitor writes alerts, the console
writes what people decided about them, and neither touches the other's rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, get_args

from sqlalchemy import Connection, Select, case, func, select
from sqlalchemy.sql.elements import ColumnElement

from console.evidence import pretty
from console.refs import ref as entity_ref
from console.refs import shown
from reports.tables import alert_orders, alert_status, alerts, decisions, incidents, verdicts

Status = Literal["open", "confirmed", "dismissed", "escalated"]
STATUSES: tuple[Status, ...] = get_args(Status)
PAGE_SIZE = 50
# An entity's other alerts, and the orders of one alert, shown at most this many each.
RELATED = 20
ORDERS_SHOWN = 100

_STATUS = func.coalesce(alert_status.c.status, "open").label("status")
DEFAULT_STATUS = "open"  # the queue opens on what waits for a verdict
ANY = "all"  # the status filter's value for every status
_SEVERITY_RANK = case(
    {"critical": 4, "high": 3, "medium": 2, "low": 1}, value=alerts.c.severity, else_=0
)
# the queue's order: the most money at risk first, then the most severe, then the newest
QUEUE_ORDER = (
    alerts.c.subsidy_at_risk.desc(),
    _SEVERITY_RANK.desc(),
    alerts.c.raised_at.desc(),
    alerts.c.alert_id,
)


@dataclass(frozen=True)
class Filters:
    risk: str | None = None
    severity: str | None = None
    detector: str | None = None
    status: str | None = None
    start: date | None = None
    end: date | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if self.risk:
            out.append(alerts.c.risk == self.risk)
        if self.severity:
            out.append(alerts.c.severity == self.severity)
        if self.detector:
            out.append(alerts.c.detector == self.detector)
        if self.status and self.status != ANY:
            out.append(_STATUS == self.status)
        if self.start:
            out.append(alerts.c.day >= self.start)
        if self.end:
            out.append(alerts.c.day <= self.end)
        return out


def _base(columns: list[Any]) -> Select[Any]:
    return select(*columns).select_from(
        alerts.outerjoin(alert_status, alert_status.c.alert_id == alerts.c.alert_id)
    )


def _row(row: Any) -> dict[str, Any]:
    out = dict(row)
    key = out.pop("entity_key")
    out["entity"] = shown(out["entity_type"], key)
    out["entity_ref"] = entity_ref(out["entity_type"], key)
    return out


def _summary_columns() -> list[Any]:
    return [
        alerts.c.alert_id,
        alerts.c.raised_at,
        alerts.c.detector,
        alerts.c.risk,
        alerts.c.severity,
        alerts.c.action,
        alerts.c.entity_type,
        alerts.c.entity_key,
        alerts.c.subsidy_at_risk,
        alerts.c.score,
        _STATUS,
    ]


@dataclass(frozen=True)
class QueuePage:
    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int


def queue(connection: Connection, filters: Filters, page: int = 1) -> QueuePage:
    """One page of alerts, the most money at risk first (then severity, then the newest), with
    the entity named as the console names it (`console.refs`)."""
    conditions = filters.conditions()
    total = connection.execute(_base([func.count()]).where(*conditions)).scalar_one()
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    rows = connection.execute(
        _base(_summary_columns())
        .where(*conditions)
        .order_by(*QUEUE_ORDER)
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).mappings()
    return QueuePage([_row(r) for r in rows], total, page, pages)


def detectors(connection: Connection) -> list[str]:
    return list(
        connection.execute(select(alerts.c.detector).distinct().order_by("detector")).scalars()
    )


@dataclass
class AlertFile:
    """Everything the alert page shows."""

    alert: dict[str, Any]
    evidence: str  # the JSON, indented, pseudonyms masked
    orders: list[dict[str, Any]]
    order_count: int
    entities: list[dict[str, Any]] = field(default_factory=list)
    sharing: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    incident: dict[str, Any] | None = None
    raw_evidence: str = ""  # as stored, for `console.evidence.figures`


def alert_file(connection: Connection, alert_id: str) -> AlertFile | None:
    found = (
        connection.execute(
            _base([*_summary_columns(), alerts.c.evidence]).where(alerts.c.alert_id == alert_id)
        )
        .mappings()
        .first()
    )
    if found is None:
        return None
    entity_type, entity_key = found["entity_type"], found["entity_key"]
    alert = _row({k: v for k, v in found.items() if k != "evidence"})
    order_ids = select(alert_orders.c.order_id).where(alert_orders.c.alert_id == alert_id)
    order_count = connection.execute(
        select(func.count()).select_from(order_ids.subquery())
    ).scalar_one()
    orders = [
        {
            **dict(r),
            "consumer": shown("consumer", r["consumer"] or ""),
            "consumer_ref": entity_ref("consumer", r["consumer"] or ""),
        }
        for r in connection.execute(
            select(
                alert_orders.c.order_id,
                decisions.c.decided_at,
                decisions.c.merchant_id,
                decisions.c.consumer,
                decisions.c.decision,
                decisions.c.claimed_subsidy,
                decisions.c.allowed_subsidy,
                decisions.c.reasons,
            )
            .select_from(
                alert_orders.outerjoin(decisions, decisions.c.order_id == alert_orders.c.order_id)
            )
            .where(alert_orders.c.alert_id == alert_id)
            .order_by(alert_orders.c.order_id)
            .limit(ORDERS_SHOWN)
        ).mappings()
    ]
    file = AlertFile(alert, pretty(found["evidence"]), orders, order_count)
    file.raw_evidence = found["evidence"]
    file.entities = _entities(connection, alert_id, entity_type, entity_key, orders)
    file.sharing = [
        _row(r)
        for r in connection.execute(
            _base(_summary_columns())
            .where(
                alerts.c.alert_id.in_(
                    select(alert_orders.c.alert_id).where(
                        alert_orders.c.order_id.in_(order_ids),
                        alert_orders.c.alert_id != alert_id,
                    )
                )
            )
            .order_by(alerts.c.raised_at.desc())
            .limit(RELATED)
        ).mappings()
    ]
    file.history = [
        dict(r)
        for r in connection.execute(
            select(verdicts).where(verdicts.c.alert_id == alert_id).order_by(verdicts.c.verdict_id)
        ).mappings()
    ]
    incident = (
        connection.execute(select(incidents).where(incidents.c.alert_id == alert_id))
        .mappings()
        .first()
    )
    file.incident = dict(incident) if incident is not None else None
    return file


def _entities(
    connection: Connection,
    alert_id: str,
    entity_type: str,
    entity_key: str,
    orders: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """The alert's entity, and the consumers and merchants of its orders, each with the other
    alerts raised on it (keys never leave this function unmasked)."""
    keys: dict[tuple[str, str], None] = {(entity_type, entity_key): None}
    raw = connection.execute(
        select(decisions.c.consumer, decisions.c.merchant_id)
        .where(
            decisions.c.order_id.in_(
                select(alert_orders.c.order_id).where(alert_orders.c.alert_id == alert_id)
            )
        )
        .limit(ORDERS_SHOWN)
    )
    for consumer, merchant in raw:
        keys.setdefault(("consumer", consumer), None)
        keys.setdefault(("merchant", merchant), None)
    out = []
    for kind, key in keys:
        others = [
            _row(r)
            for r in connection.execute(
                _base(_summary_columns())
                .where(
                    alerts.c.entity_type == kind,
                    alerts.c.entity_key == key,
                    alerts.c.alert_id != alert_id,
                )
                .order_by(alerts.c.raised_at.desc())
                .limit(RELATED)
            ).mappings()
        ]
        out.append(
            {"type": kind, "key": shown(kind, key), "ref": entity_ref(kind, key), "alerts": others}
        )
    return out


def incident_list(connection: Connection) -> list[dict[str, Any]]:
    """Escalated alerts, newest first: what the bureau is to look at."""
    rows = connection.execute(
        select(
            incidents.c.incident_id,
            incidents.c.filed_at,
            incidents.c.filed_by,
            incidents.c.comment,
            *_summary_columns(),
        )
        .select_from(
            incidents.join(alerts, alerts.c.alert_id == incidents.c.alert_id).outerjoin(
                alert_status, alert_status.c.alert_id == alerts.c.alert_id
            )
        )
        .order_by(incidents.c.incident_id.desc())
    ).mappings()
    return [_row(r) for r in rows]


def incident_alert(connection: Connection, incident_id: int) -> str | None:
    return connection.execute(
        select(incidents.c.alert_id).where(incidents.c.incident_id == incident_id)
    ).scalar_one_or_none()
