"""Controls: the platform's levers on the decisions (contract v1.1, topic `controls`).

A control names an entity (a consumer, device, payment account, address, phone, merchant, SKU or
qualification code), a programme or a budget line, and an action: `block` (the subsidy is
refused: reject, nothing allowed), `hold` (decided `review`: the subsidy frozen until a
verdict), `pause` (a programme or budget line grants nothing more: the emergency stop),
`allow` (an entity known to be honest: the behavioural detectors and the models raise no alert
on it; it never lifts a programme rule) and `lift` (ends the control in force for the key).

Each key keeps its controls as a timeline: the one in force at an order's event time is the
latest whose `effective_from` is at or before it (a `lift` then means none), unless it has
expired. So a control applies to every order at or after its `effective_from` decided once it
has been read, in both runtimes, and a replay given the controls shows what they would have
done. A decision a control changes names it in its reasons as `control:<control_id>`.

Budget lines are keyed `programme/line`, as the budget's own state is.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import NamedTuple, Protocol

from detectors.base import Detector
from detectors.context import PaidContext
from detectors.store import Store
from schemas.orders import OrderPaid

# the alert entity type a control kind stands for, where they differ
ENTITY_TYPES = {"payment": "payment_account"}


class ControlRecord(Protocol):
    """What the decide stage needs of a control (schemas/controls.py `Control`)."""

    control_id: str
    kind: str
    key: str
    action: str
    effective_from: datetime
    expires_at: datetime | None


class Entry(NamedTuple):
    """One control of a key's timeline, as saved (a list in the state's JSON)."""

    effective: float
    arrival: int
    control_id: str
    action: str
    expires: float | None


class InForce(NamedTuple):
    control_id: str
    action: str


def add(store: Store, control: ControlRecord) -> bool:
    """Put a control on its key's timeline; False if it is there already (a redelivery)."""
    table = store.table("controls")
    key = f"{control.kind}:{control.key}"
    entries = [Entry(*raw) for raw in table.get(key, [])]
    if any(e.control_id == control.control_id for e in entries):
        return False
    expires = control.expires_at.timestamp() if control.expires_at is not None else None
    entries.append(
        Entry(
            control.effective_from.timestamp(),
            len(entries),
            control.control_id,
            control.action,
            expires,
        )
    )
    entries.sort()
    table[key] = [list(e) for e in entries]
    return True


def in_force(store: Store, kind: str, key: str, ts: float) -> InForce | None:
    """The control in force for `kind:key` at event time `ts`, if any."""
    raw = store.table("controls").get(f"{kind}:{key}")
    if not raw:
        return None
    found: Entry | None = None
    for values in raw:
        entry = Entry(*values)
        if entry.effective > ts:
            break
        found = entry
    if found is None or found.action == "lift":
        return None
    if found.expires is not None and ts >= found.expires:
        return None
    return InForce(found.control_id, found.action)


def entities(event: OrderPaid) -> Iterator[tuple[str, str]]:
    """The (control kind, key) pairs an order can be controlled by, budget lines aside."""
    yield "programme", event.programme
    yield "merchant", event.merchant_id
    yield "consumer", event.consumer.id_hash
    yield "device", event.device_id
    yield "payment", event.payment.account_hash
    yield "address", event.delivery.address_hash
    yield "phone", event.consumer.phone_hash
    if event.qualification is not None:
        yield "qualification_code", event.qualification.code
    for item in event.items:
        yield "sku", item.sku


class Controls(Detector):
    """The controls in force for a paid order, applied before any quota, code or budget is
    taken, so a refused order consumes none of them.

    >>> from detectors.examples import order, run
    >>> run(order("alice"))  # no control: nothing to say
    []
    """

    name = "controls"
    risk = "compliance"
    entities = ("consumer", "device", "payment_account", "address", "phone", "merchant", "sku")

    def on_paid(self, ctx: PaidContext, store: Store) -> None:
        if not store.table("controls"):
            return  # none ever read: the common case costs one look-up
        ts = ctx.ts
        event = ctx.event
        for kind, key in entities(event):
            found = in_force(store, kind, key, ts)
            if found is None:
                continue
            action = found.action
            if action == "allow":
                ctx.allowed_entities.append((ENTITY_TYPES.get(kind, kind), key))
                continue
            _reason(ctx, found)
            if action in ("block", "pause"):
                ctx.refused = True
                ctx.blocked = True
            elif action == "hold":
                ctx.hold = True
        if ctx.programme is None:
            return
        for verdict in ctx.items:  # a paused budget line grants nothing more
            if verdict.line_name is None:
                continue
            found = in_force(store, "budget_line", f"{event.programme}/{verdict.line_name}", ts)
            if found is not None and found.action == "pause":
                verdict.problems.append("budget_line_paused")
                verdict.granted_units = 0
                _reason(ctx, found)
        if ctx.order_line is not None:
            found = in_force(store, "budget_line", f"{event.programme}/{ctx.order_line}", ts)
            if found is not None and found.action == "pause":
                ctx.order_granted = False
                _reason(ctx, found)


def _reason(ctx: PaidContext, found: InForce) -> None:
    reason = f"control:{found.control_id}"
    if reason not in ctx.reasons:
        ctx.reasons.append(reason)


def allowed_at(
    store: Store, consumer: str, merchant: str, ts: float
) -> tuple[tuple[str, str], ...]:
    """The entities of a later event (its consumer, its merchant) a control allows at `ts`."""
    if not store.table("controls"):
        return ()
    out = []
    for kind, key in (("consumer", consumer), ("merchant", merchant)):
        found = in_force(store, kind, key, ts)
        if found is not None and found.action == "allow":
            out.append((kind, key))
    return tuple(out)
