"""What a runtime tells the rest of the product as it goes: metrics, the store, the console.

The replay engine and the streaming workers call the same hooks with the same objects, so a
metrics exporter or a ledger writer is written once and works behind either runtime.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from schemas.orders import OrderPaid

if TYPE_CHECKING:
    from collections.abc import Mapping

    from detectors.alerts import Alert
    from detectors.context import LaterEvent
    from detectors.pipeline import Outcome
    from schemas.catalog import CatalogEntry


class Observer(Protocol):
    def on_consumed(self, topic: str, event_type: str) -> None:
        """A message was read from `topic` (`event_type` is "invalid" when it did not decode)."""

    def on_catalog(self, entry: CatalogEntry) -> None:
        """A catalog record was accepted."""

    def on_decided(self, event: OrderPaid, outcome: Outcome) -> None:
        """An `order_paid` was decided: `outcome.decision`, `.kind`, `.claim`, `.allowed`, and
        `.lines` (what it charged to each budget line of `event.programme`)."""

    def on_later(self, event: LaterEvent, outcome: Outcome) -> None:
        """A cancellation, refund or delivery was applied: `outcome.clawback` is what it gave
        back to the budget (the order's own lines, in proportion to what each granted)."""

    def on_alert(self, alert: Alert) -> None:
        """An alert was raised (by a deciding or a watching detector)."""

    def on_dead_letter(self, record: dict[str, Any]) -> None:
        """A message went to the dead letters (`record["reason"]`)."""

    def on_learning_quality(self, figures: Mapping[str, float]) -> None:
        """The learning stage's figures (`Learner.quality()`), now and then and at the end."""

    def close(self) -> None:
        """The run is over: flush what is buffered."""


class NullObserver:
    """Every hook, doing nothing: subclass it and override what you need."""

    def on_consumed(self, topic: str, event_type: str) -> None:
        pass

    def on_catalog(self, entry: CatalogEntry) -> None:
        pass

    def on_decided(self, event: OrderPaid, outcome: Outcome) -> None:
        pass

    def on_later(self, event: LaterEvent, outcome: Outcome) -> None:
        pass

    def on_alert(self, alert: Alert) -> None:
        pass

    def on_dead_letter(self, record: dict[str, Any]) -> None:
        pass

    def on_learning_quality(self, figures: Mapping[str, float]) -> None:
        pass

    def close(self) -> None:
        pass


def notify_outcome(
    observers: Sequence[Observer], event: OrderPaid | LaterEvent, outcome: Outcome
) -> None:
    """An event's decision and later-event effects, as every runtime reports them: a payment's
    decision, then each waiting later event it released, in order."""
    for observer in observers:
        if isinstance(event, OrderPaid):
            if outcome.decision is not None:
                observer.on_decided(event, outcome)
            for later, applied in outcome.applied:
                if applied.status == "processed":
                    observer.on_later(later, applied)
        else:
            observer.on_later(event, outcome)


class Fanout(NullObserver):
    """Several observers as one: each hook goes to every one of them, in order."""

    def __init__(self, observers: Sequence[Observer] = ()) -> None:
        self.observers = list(observers)

    def __bool__(self) -> bool:
        return bool(self.observers)

    def on_consumed(self, topic: str, event_type: str) -> None:
        for observer in self.observers:
            observer.on_consumed(topic, event_type)

    def on_catalog(self, entry: CatalogEntry) -> None:
        for observer in self.observers:
            observer.on_catalog(entry)

    def on_decided(self, event: OrderPaid, outcome: Outcome) -> None:
        for observer in self.observers:
            observer.on_decided(event, outcome)

    def on_later(self, event: LaterEvent, outcome: Outcome) -> None:
        for observer in self.observers:
            observer.on_later(event, outcome)

    def on_alert(self, alert: Alert) -> None:
        for observer in self.observers:
            observer.on_alert(alert)

    def on_dead_letter(self, record: dict[str, Any]) -> None:
        for observer in self.observers:
            observer.on_dead_letter(record)

    def on_learning_quality(self, figures: Mapping[str, float]) -> None:
        for observer in self.observers:
            observer.on_learning_quality(figures)

    def close(self) -> None:
        for observer in self.observers:
            observer.close()


class Deferred(NullObserver):
    """The hooks of a batch, held until the batch is done (`release`) or dropped (`drop`).

    A stage that has to apply a batch again (after rolling back one message's failure) would
    otherwise count what it applied before the failure twice.
    """

    def __init__(self, target: Observer) -> None:
        self.target = target
        self.calls: list[tuple[Callable[..., None], tuple[Any, ...]]] = []

    def on_consumed(self, topic: str, event_type: str) -> None:
        self.calls.append((self.target.on_consumed, (topic, event_type)))

    def on_catalog(self, entry: CatalogEntry) -> None:
        self.calls.append((self.target.on_catalog, (entry,)))

    def on_decided(self, event: OrderPaid, outcome: Outcome) -> None:
        self.calls.append((self.target.on_decided, (event, outcome)))

    def on_later(self, event: LaterEvent, outcome: Outcome) -> None:
        self.calls.append((self.target.on_later, (event, outcome)))

    def on_alert(self, alert: Alert) -> None:
        self.calls.append((self.target.on_alert, (alert,)))

    def on_dead_letter(self, record: dict[str, Any]) -> None:
        self.calls.append((self.target.on_dead_letter, (record,)))

    def on_learning_quality(self, figures: Mapping[str, float]) -> None:
        self.calls.append((self.target.on_learning_quality, (figures,)))

    def release(self) -> None:
        calls, self.calls = self.calls, []
        for hook, args in calls:
            hook(*args)

    def drop(self) -> None:
        self.calls = []
