"""What the detectors of one event share: the event, its event-time keys, the running verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from detectors.alerts import Alert
from schemas.money import ZERO
from schemas.orders import Item, OrderCancelled, OrderDelivered, OrderPaid, OrderRefunded
from schemas.outputs import Action, Severity
from schemas.rules import BudgetLine, Programme, ProgrammeRules

HOUR = 3600.0
DAY = 86400.0
LaterEvent = OrderCancelled | OrderRefunded | OrderDelivered


def period_key(local: datetime, period: str) -> str:
    """The quota period an event falls in, on the programme's calendar (event time only).

    >>> from datetime import timedelta, timezone
    >>> t = datetime(2026, 7, 5, 23, 30, tzinfo=timezone(timedelta(hours=8)))  # a Sunday
    >>> period_key(t, "week"), period_key(t, "day")
    ('2026-W27', '2026-07-05')
    """
    if period == "day":
        return local.date().isoformat()
    if period == "week":
        year, week, _ = local.isocalendar()  # ISO weeks start on Monday 00:00, as the rules say
        return f"{year}-W{week:02d}"
    return "all"


@dataclass(slots=True)
class ItemVerdict:
    """One order line: whether its units may earn subsidy, and how much per unit."""

    item: Item
    line_name: str | None = None
    line: BudgetLine | None = None
    unit_subsidy: Decimal = ZERO
    problems: list[str] = field(default_factory=list)
    inflated: bool = False
    granted_units: int = 0

    @property
    def compliant(self) -> bool:
        return self.line is not None and not self.problems


class _RaisesAlerts:
    """`ctx.alert(...)`: an alert raised by the context's event, with the event's time and id.

    `owned` is the entity kinds whose state the runtime holds here (None: all); a watching
    detector tracks an entity only where `owns(kind)`.
    """

    __slots__ = ()
    event: OrderPaid | LaterEvent
    owned: frozenset[str] | None

    def owns(self, kind: str) -> bool:
        return self.owned is None or kind in self.owned

    def raise_alert(self, alert: Alert) -> None:
        raise NotImplementedError

    def alert(
        self,
        detector: str,
        risk: str,
        severity: Severity,
        action: Action,
        entity: tuple[str, str],
        order_ids: list[str],
        *,
        at_risk: Decimal = ZERO,
        score: float = 1.0,
        evidence: dict[str, Any] | None = None,
    ) -> None:
        self.raise_alert(
            Alert(
                detector=detector,
                risk=risk,
                severity=severity,
                action=action,
                entity_type=entity[0],
                entity_key=entity[1],
                order_ids=order_ids,
                raised_at=self.event.occurred_at,
                event_id=self.event.event_id,
                subsidy_at_risk=at_risk,
                score=score,
                evidence=evidence or {},
            )
        )


@dataclass(slots=True)
class PaidContext(_RaisesAlerts):
    """An `order_paid` event on its way through the detectors."""

    event: OrderPaid
    rules: ProgrammeRules
    programme: Programme | None
    ts: float
    local: datetime
    claim: Decimal
    order_id: str
    consumer: str
    account_age: float  # seconds from the account's creation to this order
    items: list[ItemVerdict] = field(default_factory=list)
    consumer_problems: list[str] = field(default_factory=list)
    # order-basis programmes: the order's own subsidy and budget line
    order_subsidy: Decimal = ZERO
    order_line: str | None = None
    order_granted: bool = False
    compliant_amount: Decimal = ZERO
    blocked: bool = False
    refused: bool = False  # a control refuses the order outright (reject, whatever it claims)
    # entities a control allows (alert entity type, key): no behavioural alert on them
    allowed_entities: list[tuple[str, str]] = field(default_factory=list)
    budget_cut: Decimal = ZERO
    reasons: list[str] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    hold: bool = False
    allowed: Decimal = ZERO
    lines: dict[str, Decimal] = field(default_factory=dict)
    settled: bool = False
    authorized: Decimal | None = None  # the most its checkout allowed (detectors/reservations.py)
    # what the quota check would take, committed once the decision is final
    quota_taking: dict[str, int] = field(default_factory=dict)
    # the record kept in the `orders` table for the order's later events
    order_state: dict[str, Any] = field(default_factory=dict)
    owned: frozenset[str] | None = None

    def rule_amount(self) -> Decimal:
        """What the rules grant now, before the budget and before the claim caps it."""
        total = ZERO
        for amount in self.per_line().values():
            total += amount
        return total

    def per_line(self) -> dict[str, Decimal]:
        """What the rules grant now, per budget line."""
        if self.blocked or self.consumer_problems or self.programme is None:
            return {}
        if self.order_line is not None:
            return {self.order_line: self.order_subsidy} if self.order_granted else {}
        out: dict[str, Decimal] = {}
        for v in self.items:
            if v.granted_units and v.line_name is not None:
                out[v.line_name] = out.get(v.line_name, ZERO) + v.unit_subsidy * v.granted_units
        return out

    def settle(self) -> None:
        """Fix what the order may keep: the rules' amount, capped by the claim, per budget line.

        The platform granted the claim at payment, so nothing above it is ever allowed (nor
        above what its checkout was authorized); below it, the lines are charged in the order
        of the items.
        """
        remaining = self.claim
        if self.authorized is not None and self.authorized < remaining:
            remaining = self.authorized
        lines = {}
        allowed = ZERO
        for name, amount in self.per_line().items():
            take = amount if amount < remaining else remaining
            if take > 0:
                lines[name] = take
                remaining -= take
                allowed += take
        self.lines = lines
        self.allowed = allowed
        self.settled = True

    def raise_alert(self, alert: Alert) -> None:
        self.alerts.append(alert)
        if alert.detector not in self.reasons:
            self.reasons.append(alert.detector)
        if alert.action in ("hold", "review") and self.order_id in alert.order_ids:
            self.hold = True


@dataclass(slots=True)
class LaterContext(_RaisesAlerts):
    """A cancellation, refund or delivery applied to an order already decided."""

    event: LaterEvent
    rules: ProgrammeRules
    order: dict[str, Any]
    ts: float
    released: bool = False
    clawback: Decimal = ZERO
    alerts: list[Alert] = field(default_factory=list)
    owned: frozenset[str] | None = None

    def raise_alert(self, alert: Alert) -> None:
        self.alerts.append(alert)


class Timed(Protocol):
    """A windowed state entry: a named tuple whose `ts` is its event's time."""

    @property
    def ts(self) -> float: ...


Entry = TypeVar("Entry", bound=Timed)


def window(entries: list[Entry], now: float, span: float) -> list[Entry]:
    """Entries (oldest first) no older than `span` seconds before `now`.

    Entries arrive roughly in event-time order, so the scan stops at the first one in range.
    """
    cutoff = now - span
    for i, entry in enumerate(entries):
        if entry.ts >= cutoff:
            return entries if i == 0 else entries[i:]
    return []
