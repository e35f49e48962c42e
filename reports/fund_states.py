"""Where each order's subsidy stands, read from its fund-ledger entries (pure: entries in).

An order's money is in one state at a time:

- `granted`: the decision approved it (the consumer had the discount at checkout);
- `held`: frozen, not claimable: the decision was a review (a deciding detector, a control),
  or a hold or block alert named the order after it was granted (`freeze`);
- `released`: held, then let go by a dismissal or a supervisor (`release`): claimable again;
- `forfeited`: an analyst confirmed an alert naming it (`forfeit`): never claimable;
- `clawed_back`: a cancellation or refund gave all of it back.

What the order holds (`net`) is its grants and holds less its claw-backs, per budget line, in
fen; a move (freeze, release, forfeit) changes the state, never the amount: its entry books the
amount it moved for the record. So every total read here is a sum of the monitor's own entries,
exact to the fen, whatever moves happened in between.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from reports.rows import CLAWBACK, FORFEIT, FREEZE, GRANT, HOLD, REJECT, RELEASE

GRANTED, HELD, RELEASED, FORFEITED, CLAWED_BACK = (
    "granted",
    "held",
    "released",
    "forfeited",
    "clawed_back",
)
STATES = (GRANTED, HELD, RELEASED, FORFEITED, CLAWED_BACK)
CLAIMABLE = (GRANTED, RELEASED)
# Within one instant: money in before it is moved, moved before it comes back.
KIND_RANK = {GRANT: 0, HOLD: 1, REJECT: 2, FREEZE: 3, RELEASE: 4, FORFEIT: 5, CLAWBACK: 6}
_STATE_AFTER = {FREEZE: HELD, RELEASE: RELEASED, FORFEIT: FORFEITED}
_MOVES_FROM = {
    FREEZE: (GRANTED, RELEASED),
    RELEASE: (HELD,),
    FORFEIT: (GRANTED, RELEASED, HELD),
}


@dataclass(frozen=True, slots=True)
class Entry:
    """One fund-ledger entry, money in fen."""

    order_id: str
    booked_at: datetime
    day: date
    programme: str
    budget_line: str | None
    kind: str
    amount: int
    actor: str | None = None
    reason: str | None = None
    entry_id: str = ""

    def key(self) -> tuple[datetime, int, str]:
        return (self.booked_at, KIND_RANK.get(self.kind, 9), self.entry_id)


@dataclass(slots=True)
class OrderMoney:
    """One order's subsidy as its entries left it."""

    order_id: str
    programme: str
    state: str | None = None  # None: nothing granted or held (a rejection only)
    lines: dict[str | None, int] = field(default_factory=dict)
    refused: int = 0
    since: datetime | None = None  # when it entered its state
    since_day: date | None = None
    by: str | None = None  # who moved it there
    why: str | None = None  # and why

    @property
    def net(self) -> int:
        return sum(self.lines.values())

    @property
    def claimable(self) -> int:
        return self.net if self.state in CLAIMABLE else 0

    @property
    def held(self) -> int:
        return self.net if self.state == HELD else 0

    def apply(self, entry: Entry) -> None:
        kind = entry.kind
        if kind == REJECT:
            self.refused += entry.amount
            return
        if kind in (GRANT, HOLD):
            self.lines[entry.budget_line] = self.lines.get(entry.budget_line, 0) + entry.amount
            if self.state is None:  # the decision; a second decision entry keeps the first's
                self._enter(GRANTED if kind == GRANT else HELD, entry)
            return
        if kind == CLAWBACK:
            self.lines[entry.budget_line] = self.lines.get(entry.budget_line, 0) - entry.amount
            if self.net <= 0 and self.state is not None:
                self._enter(CLAWED_BACK, entry)
            return
        after = _STATE_AFTER.get(kind)
        # a move applies only from the states it moves out of: a freeze booked (at the alert's
        # time) for an order whose earlier cancellation was written after it moves nothing
        if after is not None and self.state in _MOVES_FROM[kind]:
            self._enter(after, entry)

    def _enter(self, state: str, entry: Entry) -> None:
        self.state = state
        self.since = entry.booked_at
        self.since_day = entry.day
        self.by = entry.actor
        self.why = entry.reason


def money_by_order(entries: Iterable[Entry], until: date | None = None) -> dict[str, OrderMoney]:
    """Each order's money after its entries (those of days up to `until`), in booking order."""
    ordered = sorted((e for e in entries if until is None or e.day <= until), key=lambda e: e.key())
    found: dict[str, OrderMoney] = {}
    for entry in ordered:
        money = found.get(entry.order_id)
        if money is None:
            money = found[entry.order_id] = OrderMoney(entry.order_id, entry.programme)
        money.apply(entry)
    return found


def entries_of(frame: Any) -> list[Entry]:
    """Entries of a `reports.frames.read_fund` frame (money already in fen)."""
    out = []
    for row in frame.itertuples(index=False):
        line = row.budget_line
        out.append(
            Entry(
                order_id=row.order_id,
                booked_at=row.booked_at,
                day=row.day,
                programme=row.programme,
                budget_line=None if line is None or line != line else str(line),
                kind=row.kind,
                amount=int(row.amount),
                actor=None if row.actor is None or row.actor != row.actor else str(row.actor),
                reason=None if row.reason is None or row.reason != row.reason else str(row.reason),
                entry_id=row.entry_id,
            )
        )
    return out


def totals(money: Iterable[OrderMoney]) -> dict[str, int]:
    """Fen in each state (net of claw-backs); `clawed_back` orders hold nothing."""
    out = dict.fromkeys(STATES, 0)
    for order in money:
        if order.state is not None:
            out[order.state] += order.net
    return out
