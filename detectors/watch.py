"""The watching half of the pipeline: behavioural detectors over decided events, by entity.

An order's decision needs only the deciding detectors (compliance, price, code, quota,
budget). The watching detectors (rings, farms, merchants, refund patterns) follow it: each
keeps its state under one kind of entity (an address, a device, a merchant...), so a runtime
may run them wherever that entity's state lives. A `Watch` is what they need of one event;
`owned` says which entity kinds the caller holds the state of (all of them in one process).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from detectors.alerts import Alert
from detectors.base import Detector
from detectors.context import ItemVerdict, LaterContext, LaterEvent, PaidContext
from detectors.farms import ip_prefix
from detectors.store import Store
from schemas.orders import OrderPaid
from schemas.rules import ProgrammeRules

# The kinds of entity the watching detectors keep state under: the partitioning keys.
ROUTES = ("consumer", "address", "device", "phone", "payment_account", "ip_prefix", "merchant")


class Decided(NamedTuple):
    """What the deciding half made of a paid order, as the online models read it."""

    kind: str  # approve | review | reject
    claim: Decimal
    allowed: Decimal
    reasons: tuple[str, ...]


@dataclass(slots=True)
class Watch:
    """One event for the watching detectors and the online models, after the deciding ones
    have seen it.

    For a later event, `order` is the order's state after it and `released` whether it gave
    the order's subsidy back; for a paid order, `decided` is its decision.
    """

    event: OrderPaid | LaterEvent
    order: dict[str, Any] | None = None
    released: bool = False
    raw: bytes = b""  # the event as it came, for a runtime that passes it on
    decided: Decided | None = None
    watched: bool = True  # False: for the online models only (a delivery)
    # entities a control allows (alert entity type, key): no behavioural alert is raised on
    # them (detectors/controls.py)
    allowed: tuple[tuple[str, str], ...] = ()
    rules: str | None = None  # the rules version it was decided under (None: the runtime's own)
    # what the deciding half computed of it already, in process (None: computed again): its
    # time in epoch seconds, and a payment's account age (`paid_context`)
    ts: float | None = None
    account_age: float | None = None


def paid_context(
    event: OrderPaid,
    rules: ProgrammeRules,
    offset: timedelta | None,
    ts: float,
    account_age: float | None = None,
) -> PaidContext:
    """The context an `order_paid` starts with, the same in both halves of the pipeline
    (`account_age`: the deciding half's, if known; a time zone's offset is looked up through
    pydantic's, so each `timestamp()` costs a microsecond)."""
    at = event.occurred_at
    if account_age is None:
        account_age = ts - event.consumer.account_created_at.timestamp()
    return PaidContext(
        event=event,
        rules=rules,
        programme=rules.programmes.get(event.programme),
        ts=ts,
        local=at if at.utcoffset() == offset else at.astimezone(rules.timezone),
        claim=event.subsidy_amount,
        order_id=event.order_id,
        consumer=event.consumer.id_hash,
        account_age=account_age,
    )


class Watchers:
    """Runs the watching detectors over `Watch`es, with their state in `store`."""

    def __init__(self, rules: ProgrammeRules, store: Store, detectors: list[Detector]) -> None:
        self.rules = rules
        self.store = store
        self.detectors = detectors
        self._on_paid = _hooks(detectors, "on_paid")
        self._on_later = _hooks(detectors, "on_later")
        self._offset = rules.timezone.utcoffset(None)
        self._ip_bits = rules.detectors.account_farm.ip_prefix_bits

    def routes(self, event: OrderPaid | LaterEvent) -> dict[str, str]:
        """Entity kind -> key, for every entity whose state this event's watch touches.

        >>> from detectors.examples import order
        >>> from schemas.rules import load_rules
        >>> from detectors.pipeline import Pipeline
        >>> from detectors.store import MemoryStore
        >>> sorted(Pipeline(load_rules(), MemoryStore()).watchers.routes(order("alice")))
        ['address', 'consumer', 'device', 'ip_prefix', 'merchant', 'payment_account', 'phone']
        """
        if not isinstance(event, OrderPaid):
            return {"consumer": event.consumer.id_hash}  # refund patterns are per person
        out = {
            "consumer": event.consumer.id_hash,
            "address": event.delivery.address_hash,
            "device": event.device_id,
            "phone": event.consumer.phone_hash,
            "payment_account": event.payment.account_hash,
            "merchant": event.merchant_id,
        }
        prefix = ip_prefix(event.ip, self._ip_bits)
        if prefix is not None:
            out["ip_prefix"] = prefix
        return out

    def watch(self, watch: Watch, owned: frozenset[str] | None = None) -> list[Alert]:
        """The alerts of one event, from the entities in `owned` (None: all of them)."""
        event = watch.event
        ts = watch.ts
        if ts is None:
            ts = event.occurred_at.timestamp()
        if isinstance(event, OrderPaid):
            if not self._on_paid:
                return []
            paid = paid_context(event, self.rules, self._offset, ts, watch.account_age)
            paid.items = [ItemVerdict(item) for item in event.items]
            paid.owned = owned
            for hook in self._on_paid:
                hook(paid, self.store)
            return allowed_out(paid.alerts, watch.allowed)
        assert watch.order is not None, "a later event is watched with its order's state"
        later = LaterContext(
            event=event, rules=self.rules, order=watch.order, ts=ts, released=watch.released
        )
        later.owned = owned
        for hook in self._on_later:
            hook(later, self.store)
        return allowed_out(later.alerts, watch.allowed)


def _hooks(detectors: list[Detector], name: str) -> list[Callable[[Any, Store], None]]:
    base = getattr(Detector, name)
    return [getattr(d, name) for d in detectors if getattr(type(d), name) is not base]


def allowed_out(alerts: list[Alert], allowed: tuple[tuple[str, str], ...]) -> list[Alert]:
    """The alerts but those on an entity a control allows."""
    if not allowed or not alerts:
        return alerts
    return [a for a in alerts if (a.entity_type, a.entity_key) not in allowed]
