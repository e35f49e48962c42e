"""The side inputs (catalog, labels, rules, controls): each record checked once by the worker
holding its partition; a bad one goes to the dead letters, a good one to the observers and,
for what the decide stage applies in sequence with the orders, on to its log.

No Faust here: the worker's agents hand each batch over as `Message`s and deliver the box.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from replay.observers import Observer
from schemas.decode import (
    DecodeError,
    decode_catalog,
    decode_control,
    decode_label,
    decode_publication,
)
from schemas.outputs import dead_letter_record, dumps
from streams.messages import DECIDE_TOPIC, Message, headers_of
from streams.outbox import Outbox

Decode = Callable[[bytes, int], Any]


class SideInputs:
    """Checks the side inputs' records and forwards those the decide stage applies.

    `catalog`: the store's product rows (every worker reads the catalog itself for its
    decisions: streams/catalog.py). `labels`: forwarded only with learning, whose models learn
    them in sequence with the orders. `rules` and `controls`: forwarded, applied to the orders
    decided after them (detectors/versions.py, detectors/controls.py).
    """

    def __init__(
        self, observers: Observer, box: Outbox, max_bytes: int, *, forward_labels: bool
    ) -> None:
        self.observers = observers
        self.box = box
        self.max_bytes = max_bytes
        self.forward_labels = forward_labels

    def catalog(self, messages: list[Message]) -> None:
        for message in messages:
            entry = self._checked(message, decode_catalog)
            if entry is not None:
                self.observers.on_consumed(message.topic, "catalog")
                self.observers.on_catalog(entry)

    def labels(self, messages: list[Message]) -> None:
        self._forward(messages, "label", decode_label, forward=self.forward_labels)

    def rules(self, messages: list[Message]) -> None:
        self._forward(messages, "rules", decode_publication)

    def controls(self, messages: list[Message]) -> None:
        self._forward(messages, "control", decode_control)

    def _forward(
        self, messages: list[Message], kind: str, decode: Decode, *, forward: bool = True
    ) -> None:
        for message in messages:
            if self._checked(message, decode) is None:
                continue
            self.observers.on_consumed(message.topic, kind)
            if forward:
                headers = headers_of(kind)
                self.box.add(DECIDE_TOPIC, message.key, message.value, headers=headers)

    def _checked(self, message: Message, decode: Decode) -> Any | None:
        """The record decoded, or None once it is in the dead letters."""
        try:
            return decode(message.value, self.max_bytes)
        except DecodeError as exc:
            self.observers.on_consumed(message.topic, "invalid")
            record = dead_letter_record(
                reason=exc.reason, error=exc.message, raw=message.value, origin=message.origin
            )
            self.box.add("dead-letter", None, dumps(record))
            self.observers.on_dead_letter(record)
            return None
