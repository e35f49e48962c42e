"""What the runtime's hooks become in the store: rows of each table, batched.

Pure: an event and its outcome in, tuples out, in the column order of `reports.tables` and
already in the form the database driver takes (`Encoding`): building them once, here, costs
half of what building dicts and converting them for the driver did, and the store is written
on every replay. The ids come from the events (order id, alert id, a hash of event, kind and
budget line for a fund-ledger entry), so a redelivered event yields the very rows already
stored, and inserting them again changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from schemas.money import ZERO, to_fen
from schemas.outputs import dumps
from schemas.rules import ANY_CATEGORY, ProgrammeRules

if TYPE_CHECKING:
    from detectors.alerts import Alert
    from detectors.context import LaterEvent
    from detectors.pipeline import Outcome
    from schemas.catalog import CatalogEntry
    from schemas.orders import OrderPaid

GRANT, HOLD, REJECT, CLAWBACK = "grant", "hold", "reject", "clawback"
# Moves after the decision (reports.fund_moves): a granted order held by an alert, a held one
# released, either forfeited by a confirmed verdict.
FREEZE, RELEASE, FORFEIT = "freeze", "release", "forfeit"
FUND_KINDS = (GRANT, HOLD, REJECT, CLAWBACK, FREEZE, RELEASE, FORFEIT)
MONITOR = "riskmon"  # who books the monitor's own entries

# The order of each table's columns in `reports.tables` (a test holds the two together).
COLUMNS: dict[str, tuple[str, ...]] = {
    "decisions": (
        "order_id",
        "event_id",
        "decided_at",
        "day",
        "programme",
        "merchant_id",
        "consumer",
        "decision",
        "order_amount",
        "paid_amount",
        "claimed_subsidy",
        "allowed_subsidy",
        "reasons",
    ),
    "sales_ledger": (
        "order_id",
        "line_no",
        "event_id",
        "sold_at",
        "day",
        "programme",
        "budget_line",
        "merchant_id",
        "consumer",
        "sku",
        "category",
        "energy_grade",
        "unit_price",
        "quantity",
        "amount",
    ),
    "fund_ledger": (
        "entry_id",
        "event_id",
        "order_id",
        "booked_at",
        "day",
        "programme",
        "budget_line",
        "kind",
        "amount",
        "actor",
        "reason",
    ),
    "alerts": (
        "alert_id",
        "event_id",
        "raised_at",
        "day",
        "detector",
        "risk",
        "severity",
        "action",
        "entity_type",
        "entity_key",
        "subsidy_at_risk",
        "score",
        "evidence",
    ),
    "alert_orders": ("alert_id", "order_id"),
}

Row = tuple[Any, ...]


def _same(value: Any) -> Any:
    return value


def _sqlite_time(value: datetime) -> str:
    # the text SQLAlchemy's SQLite DateTime writes and parses: naive UTC, microseconds always
    # written so that the texts sort as the times do
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


@dataclass(frozen=True, slots=True)
class Encoding:
    """How times, days and money reach the driver: psycopg takes them as they are; SQLite
    takes the text SQLAlchemy would have written for it."""

    time: Callable[[datetime], Any] = _same
    day: Callable[[date], Any] = _same
    # the exact text: SQLite's NUMERIC affinity makes it the REAL SQLAlchemy would bind
    money: Callable[[Decimal], Any] = _same

    @classmethod
    def for_dialect(cls, name: str) -> Encoding:
        if name == "sqlite":
            return cls(time=_sqlite_time, day=date.isoformat, money=str)
        return cls()


def entry_id(event_id: str, kind: str, budget_line: str | None) -> str:
    """The fund-ledger entry of one event, kind and budget line: stable across redeliveries.

    >>> entry_id("e-1", "grant", "digital") == entry_id("e-1", "grant", "digital")
    True
    >>> len(entry_id("e-1", "reject", None))
    32
    """
    text = "\x1f".join((event_id, kind, budget_line or ""))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@dataclass(slots=True)
class Clawback:
    """Money a cancellation or refund gave back, not yet spread over the order's budget lines:
    the writer does that inside its transaction, from the order's grants already stored."""

    event_id: str
    order_id: str
    booked_at: datetime
    day: date
    programme: str
    amount: Decimal
    why: str = ""  # the later event's type: order_cancelled, order_refunded


@dataclass(frozen=True, slots=True)
class AlertHold:
    """A hold or block alert's orders, frozen where granted (`reports.fund_moves.freeze`),
    inside the writer's transaction, once the batch's decisions are stored."""

    alert_id: str
    detector: str
    raised_at: datetime
    day: date
    order_ids: tuple[str, ...]


@dataclass(slots=True)
class Batch:
    """Rows for one transaction, table by table (tuples in `COLUMNS` order, encoded)."""

    decisions: list[Row] = field(default_factory=list)
    sales_ledger: list[Row] = field(default_factory=list)
    fund_ledger: list[Row] = field(default_factory=list)
    alerts: list[Row] = field(default_factory=list)
    alert_orders: list[Row] = field(default_factory=list)
    clawbacks: list[Clawback] = field(default_factory=list)
    holds: list[AlertHold] = field(default_factory=list)

    def __len__(self) -> int:
        return (
            len(self.decisions)
            + len(self.sales_ledger)
            + len(self.fund_ledger)
            + len(self.alerts)
            + len(self.alert_orders)
            + len(self.clawbacks)
            + len(self.holds)
        )

    def tables(self) -> list[tuple[str, list[Row]]]:
        """(table, rows) in the order they are written: a referenced table first."""
        return [
            ("decisions", self.decisions),
            ("sales_ledger", self.sales_ledger),
            ("fund_ledger", self.fund_ledger),
            ("alerts", self.alerts),
            ("alert_orders", self.alert_orders),
        ]

    def extend(self, other: Batch) -> None:
        self.decisions += other.decisions
        self.sales_ledger += other.sales_ledger
        self.fund_ledger += other.fund_ledger
        self.alerts += other.alerts
        self.alert_orders += other.alert_orders
        self.clawbacks += other.clawbacks
        self.holds += other.holds


class RowBuilder:
    """Turns hooks into rows; knows the rules (budget line of a category, the calendar)."""

    def __init__(self, rules: ProgrammeRules, encoding: Encoding | None = None) -> None:
        self.encoding = encoding or Encoding()
        self.timezone = rules.timezone
        self._offset = rules.timezone.utcoffset(None)
        self._lines: dict[tuple[str, str], str] = {}
        for pname, programme in rules.programmes.items():
            for lname, line in programme.budget_lines.items():
                for category in line.categories:
                    self._lines[(pname, category)] = lname
        # the catalog decides a product's energy grade when it has one
        self._grades: dict[str, int] = {}

    def day(self, at: datetime) -> date:
        """The programme's calendar day of a time (events mostly carry its offset already)."""
        return at.date() if at.utcoffset() == self._offset else at.astimezone(self.timezone).date()

    def budget_line(self, programme: str, category: str) -> str | None:
        line = self._lines.get((programme, category))
        return line if line is not None else self._lines.get((programme, ANY_CATEGORY))

    def catalog(self, entry: CatalogEntry) -> None:
        if entry.energy_grade is not None:
            self._grades[entry.sku] = entry.energy_grade
        else:
            self._grades.pop(entry.sku, None)

    def decided(self, event: OrderPaid, outcome: Outcome, batch: Batch) -> None:
        enc = self.encoding
        money = enc.money
        at = enc.time(event.occurred_at)
        day = enc.day(self.day(event.occurred_at))
        order_id = event.order_id
        event_id = event.event_id
        programme = event.programme
        merchant = event.merchant_id
        consumer = event.consumer.id_hash
        kind = outcome.kind or "approve"
        decision = outcome.decision or {}
        why = " ".join(decision.get("reasons", ()))
        batch.decisions.append(
            (
                order_id,
                event_id,
                at,
                day,
                programme,
                merchant,
                consumer,
                kind,
                money(event.order_amount),
                money(event.payment.paid_amount),
                money(outcome.claim),
                money(outcome.allowed),
                why,
            )
        )
        if outcome.claim > 0:
            grades = self._grades
            sales = batch.sales_ledger
            for number, item in enumerate(event.items, start=1):
                sales.append(
                    (
                        order_id,
                        number,
                        event_id,
                        at,
                        day,
                        programme,
                        self.budget_line(programme, item.category),
                        merchant,
                        consumer,
                        item.sku,
                        item.category,
                        grades.get(item.sku, item.energy_grade),
                        money(item.unit_price),
                        item.quantity,
                        money(item.unit_price * item.quantity),
                    )
                )
        # a review holds what it allows: the money is frozen, not yet paid, pending the review
        granted = GRANT if kind == "approve" else HOLD
        fund = batch.fund_ledger
        for line, amount in outcome.lines.items():
            if amount > 0:
                fund.append(
                    (
                        entry_id(event_id, granted, line),
                        event_id,
                        order_id,
                        at,
                        day,
                        programme,
                        line,
                        granted,
                        money(amount),
                        MONITOR,
                        why or None,
                    )
                )
        refused = outcome.claim - outcome.allowed
        if refused > 0:
            fund.append(
                (
                    entry_id(event_id, REJECT, None),
                    event_id,
                    order_id,
                    at,
                    day,
                    programme,
                    None,
                    REJECT,
                    money(refused),
                    MONITOR,
                    why or None,
                )
            )

    def later(self, event: LaterEvent, outcome: Outcome, batch: Batch) -> None:
        if outcome.clawback <= 0:
            return
        at = event.occurred_at
        batch.clawbacks.append(
            Clawback(
                event_id=event.event_id,
                order_id=event.order_id,
                booked_at=at,
                day=self.day(at),
                programme=event.programme,
                amount=outcome.clawback,
                why=event.event_type,
            )
        )

    def clawback_rows(self, clawback: Clawback, lines: dict[str, Decimal] | None) -> list[Row]:
        """A claw-back's fund-ledger rows, spread over the order's granted (or held) lines.

        An order the store never saw decided (the store was started after it) keeps its
        claw-back whole, on no budget line, rather than losing it.
        """
        enc = self.encoding
        at = enc.time(clawback.booked_at)
        day = enc.day(clawback.day)
        shares: dict[str | None, Decimal] = {None: clawback.amount}
        if lines:
            shares = {line: amount for line, amount in spread(clawback.amount, lines).items()}
        return [
            (
                entry_id(clawback.event_id, CLAWBACK, line),
                clawback.event_id,
                clawback.order_id,
                at,
                day,
                clawback.programme,
                line,
                CLAWBACK,
                enc.money(amount),
                MONITOR,
                clawback.why or None,
            )
            for line, amount in shares.items()
        ]

    def alert(self, alert: Alert, batch: Batch) -> None:
        enc = self.encoding
        alert_id = alert.alert_id
        batch.alerts.append(
            (
                alert_id,
                alert.event_id,
                enc.time(alert.raised_at),
                enc.day(self.day(alert.raised_at)),
                alert.detector,
                alert.risk,
                alert.severity,
                alert.action,
                alert.entity_type,
                alert.entity_key,
                enc.money(alert.subsidy_at_risk),
                round(alert.score, 4),
                dumps(alert.evidence).decode(),
            )
        )
        # a ring alert names each of its orders once, but a list may repeat one: keep the set
        named = tuple(dict.fromkeys(alert.order_ids))
        for order_id in named:
            batch.alert_orders.append((alert_id, order_id))
        # a budget alert is a notification: it freezes nobody's money
        if alert.action in ("hold", "block") and alert.risk != "budget" and named:
            batch.holds.append(
                AlertHold(
                    alert_id, alert.detector, alert.raised_at, self.day(alert.raised_at), named
                )
            )


def spread(clawback: Decimal, lines: dict[str, Decimal]) -> dict[str, Decimal]:
    """A claw-back shared over the order's budget lines in proportion to what each granted,
    each share rounded half up to the fen: exactly what `detectors.budget` gives back, so the
    fund ledger and the budget's own spend agree to the fen.

    >>> spread(Decimal("10.00"), {"digital": Decimal("500.00"), "appliances": Decimal("1000.00")})
    {'digital': Decimal('3.33'), 'appliances': Decimal('6.67')}
    """
    granted = sum(lines.values(), ZERO)
    return {
        name: clawback if granted == 0 else to_fen(clawback * amount / granted)
        for name, amount in lines.items()
    }


__all__ = [
    "COLUMNS",
    "AlertHold",
    "FORFEIT",
    "FREEZE",
    "FUND_KINDS",
    "MONITOR",
    "RELEASE",
    "Batch",
    "Clawback",
    "Encoding",
    "RowBuilder",
    "entry_id",
    "spread",
]
