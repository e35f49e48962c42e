"""Moving an order's subsidy after its decision: one fund-ledger entry per budget line a move
touches, with who, when and why, written in the caller's transaction.

- a hold or block alert naming a granted (or released) order freezes it (`freeze`, by the
  monitor, written with the alert by `reports.writer`);
- an analyst's dismissal releases a held order the alert names, when nothing else holds it: no
  other open or escalated alert names it, and no control held its decision (a control's hold
  is a supervisor's to release);
- an analyst's confirmation forfeits the money of every order the alert names, held or not;
- a supervisor releases a held order by hand (`riskmon holds release`), with a reason.

A budget alert is a notification, not an accusation: its verdicts move nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import Connection, insert, select

from reports.frames import fen, yuan
from reports.fund_states import CLAIMABLE, HELD, Entry, OrderMoney, money_by_order
from reports.rows import FORFEIT, FREEZE, MONITOR, RELEASE, AlertHold, entry_id
from reports.tables import alert_orders, alert_status, alerts, decisions, fund_ledger

HOLDING_ACTIONS = ("hold", "block")  # an alert with one of these freezes what it names
OPEN = ("open", "escalated")
_CHUNK = 500


class FundError(ValueError):
    """A move that cannot be made (no such order, not held); the message says why."""


def order_money(connection: Connection, order_ids: Iterable[str]) -> dict[str, OrderMoney]:
    """The money of the given orders, as the ledger holds it now."""
    return money_by_order(fund_entries(connection, order_ids))


def fund_entries(connection: Connection, order_ids: Iterable[str]) -> list[Entry]:
    """Every fund-ledger entry of the given orders, money in fen."""
    ids = sorted(set(order_ids))
    f = fund_ledger.c
    entries: list[Entry] = []
    for start in range(0, len(ids), _CHUNK):
        query = select(fund_ledger).where(f.order_id.in_(ids[start : start + _CHUNK]))
        for row in connection.execute(query):
            entries.append(
                Entry(
                    order_id=row.order_id,
                    booked_at=row.booked_at,
                    day=row.day,
                    programme=row.programme,
                    budget_line=row.budget_line,
                    kind=row.kind,
                    amount=fen(row.amount),
                    actor=row.actor,
                    reason=row.reason,
                    entry_id=row.entry_id,
                )
            )
    return entries


def _rows(
    money: OrderMoney, kind: str, event_id: str, at: datetime, day: date, actor: str, why: str
) -> list[dict[str, Any]]:
    return [
        {
            "entry_id": entry_id(f"{event_id}/{money.order_id}", kind, line),
            "event_id": event_id,
            "order_id": money.order_id,
            "booked_at": at,
            "day": day,
            "programme": money.programme,
            "budget_line": line,
            "kind": kind,
            "amount": yuan(amount),
            "actor": actor[:64],
            "reason": why,
        }
        for line, amount in sorted(money.lines.items(), key=lambda x: x[0] or "")
        if amount > 0
    ]


def _book(
    connection: Connection,
    money: OrderMoney,
    kind: str,
    event_id: str,
    at: datetime,
    tz: tzinfo,
    actor: str,
    why: str,
) -> dict[str, Any] | None:
    """Book one move of an order; what was moved, for the audit trail (None: nothing held)."""
    rows = _rows(money, kind, event_id, at, at.astimezone(tz).date(), actor, why)
    if not rows:
        return None
    connection.execute(insert(fund_ledger), rows)
    before = money.state
    money.state = {FREEZE: HELD, RELEASE: "released", FORFEIT: "forfeited"}[kind]
    money.since, money.by, money.why = at, actor, why
    return {
        "order_id": money.order_id,
        "move": kind,
        "from": before,
        "amount": str(yuan(money.net)),
    }


def freeze(connection: Connection, holds: list[AlertHold], decided: Iterable[str] = ()) -> int:
    """Freeze what the hold alerts name where it was granted at the alert's time; `decided`
    (the orders of the batch being written) also meets the stored hold alerts naming them, so
    an alert written before its orders' decisions (another stage, another batch) still holds
    them. Each (alert, order) is judged as of the alert's event time, never by what happened
    later, so batching, redelivery and the two runtimes book the same entries."""
    pairs: dict[tuple[str, str], AlertHold] = {}
    for hold in holds:
        for order_id in hold.order_ids:
            pairs[(hold.alert_id, order_id)] = hold
    for hold in _stored_holds(connection, decided):
        pairs.setdefault((hold.alert_id, hold.order_ids[0]), hold)
    if not pairs:
        return 0
    entries: dict[str, list[Entry]] = {}
    for entry in fund_entries(connection, {order_id for _, order_id in pairs}):
        entries.setdefault(entry.order_id, []).append(entry)
    booked = 0
    for (alert_id, order_id), hold in sorted(
        pairs.items(), key=lambda kv: (kv[1].raised_at, kv[0])
    ):
        known = entries.get(order_id, [])
        order = money_by_order(e for e in known if e.booked_at <= hold.raised_at).get(order_id)
        if order is None or order.state not in CLAIMABLE:
            continue
        why = f"alert {alert_id} ({hold.detector})"
        rows = _rows(order, FREEZE, f"alert:{alert_id}", hold.raised_at, hold.day, MONITOR, why)
        _insert_new(connection, rows)
        booked += len(rows)
        known.extend(
            Entry(
                order_id,
                hold.raised_at,
                hold.day,
                order.programme,
                r["budget_line"],
                FREEZE,
                fen(r["amount"]),
                MONITOR,
                why,
                r["entry_id"],
            )
            for r in rows
        )
    return booked


def _stored_holds(connection: Connection, order_ids: Iterable[str]) -> list[AlertHold]:
    """Stored hold and block alerts (not budget ones) naming these orders, one per order."""
    ids = sorted(set(order_ids))
    found = []
    o, a = alert_orders.c, alerts.c
    for start in range(0, len(ids), _CHUNK):
        query = (
            select(a.alert_id, a.detector, a.raised_at, a.day, o.order_id)
            .join(alerts, a.alert_id == o.alert_id)
            .where(
                o.order_id.in_(ids[start : start + _CHUNK]),
                a.action.in_(HOLDING_ACTIONS),
                a.risk != "budget",
            )
        )
        for row in connection.execute(query):
            found.append(
                AlertHold(row.alert_id, row.detector, row.raised_at, row.day, (row.order_id,))
            )
    return found


def _insert_new(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert entries, skipping any already stored (the same id: the same move)."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        connection.execute(postgresql.insert(fund_ledger).on_conflict_do_nothing(), rows)
    else:
        from sqlalchemy.dialects import sqlite

        connection.execute(sqlite.insert(fund_ledger).on_conflict_do_nothing(), rows)


def on_verdict(
    connection: Connection,
    alert_id: str,
    action: str,
    actor: str,
    verdict_id: int,
    comment: str,
    at: datetime,
    tz: tzinfo,
) -> list[dict[str, Any]]:
    """The money a verdict moves (confirm: forfeit; dismiss: release what nothing else holds)."""
    found = connection.execute(
        select(alerts.c.risk, alerts.c.detector).where(alerts.c.alert_id == alert_id)
    ).first()
    if found is None or found.risk == "budget" or action not in ("confirm", "dismiss"):
        return []
    order_ids = list(
        connection.execute(
            select(alert_orders.c.order_id).where(alert_orders.c.alert_id == alert_id)
        ).scalars()
    )
    money = order_money(connection, order_ids)
    event_id = f"verdict:{verdict_id}"
    why = f"{action} of alert {alert_id} ({found.detector})" + (f": {comment}" if comment else "")
    moves = []
    if action == "confirm":
        for order_id in order_ids:
            order = money.get(order_id)
            if order is None or order.state not in (*CLAIMABLE, HELD):
                continue
            move = _book(connection, order, FORFEIT, event_id, at, tz, actor, why)
            if move is not None:
                moves.append(move)
        return moves
    held = [o for o in order_ids if o in money and money[o].state == HELD]
    still = _still_held(connection, held, alert_id)
    for order_id in held:
        if order_id in still:
            continue
        move = _book(connection, money[order_id], RELEASE, event_id, at, tz, actor, why)
        if move is not None:
            moves.append(move)
    return moves


def _still_held(connection: Connection, order_ids: list[str], alert_id: str) -> set[str]:
    """Of these orders, those something other than this alert holds: another open alert
    (not a budget one) naming them, or a control named in their decision's reasons."""
    held: set[str] = set()
    o, a, s = alert_orders.c, alerts.c, alert_status.c
    for start in range(0, len(order_ids), _CHUNK):
        chunk = order_ids[start : start + _CHUNK]
        others = connection.execute(
            select(o.order_id, s.status)
            .select_from(
                alert_orders.join(alerts, a.alert_id == o.alert_id).outerjoin(
                    alert_status, s.alert_id == o.alert_id
                )
            )
            .where(o.order_id.in_(chunk), o.alert_id != alert_id, a.risk != "budget")
        )
        held |= {order_id for order_id, status in others if (status or "open") in OPEN}
        reasons = connection.execute(
            select(decisions.c.order_id, decisions.c.reasons).where(decisions.c.order_id.in_(chunk))
        )
        held |= {order_id for order_id, text in reasons if "control:" in (text or "")}
    return held


def release(
    connection: Connection, order_id: str, actor: str, reason: str, at: datetime, tz: tzinfo
) -> dict[str, Any]:
    """A supervisor's release of a held order; raises FundError when it is not held."""
    if not reason.strip():
        raise FundError("a release needs a reason")
    order = order_money(connection, [order_id]).get(order_id)
    if order is None:
        raise FundError(f"{order_id}: no money of this order in the fund ledger")
    if order.state != HELD:
        raise FundError(f"{order_id}: not held (its money is {order.state or 'refused'})")
    event_id = f"release:{at.isoformat()}"
    move = _book(connection, order, RELEASE, event_id, at, tz, actor, reason.strip())
    if move is None:
        raise FundError(f"{order_id}: nothing left to release")
    return move


def aged(money: Iterable[OrderMoney], now: datetime, older_than: timedelta) -> list[OrderMoney]:
    """Held orders held for longer than `older_than` at `now`, the oldest first."""
    found = [
        m
        for m in money
        if m.state == HELD and m.since is not None and now - m.since > older_than and m.net > 0
    ]
    return sorted(found, key=lambda m: (m.since, m.order_id))
