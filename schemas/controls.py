"""Topic `controls` (contract v1.1): the platform's levers, changed while the monitor runs.

Keyed by `kind:key` and compacted: the latest record per key is the control in force. What the
contract leaves to us, decided here so that a record is whole or refused (never half-applied):
- the key of a `consumer`, `payment`, `address` or `phone` control is a pseudonym (64 lowercase
  hex), the same one the orders carry; the other kinds name an identifier in clear;
- `pause` is for `programme` and `budget_line` only, and those two take nothing else but `lift`
  (an emergency stop, and its end); `block`, `hold` and `allow` are for the entity kinds;
- `expires_at`, when given, is after `effective_from`; `effective_from` may be before
  `issued_at` (a control that reaches back applies to the orders decided after it is read);
- a reason is required: a control is an act someone answers for.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self, get_args

from pydantic import StringConstraints, TypeAdapter, model_validator

from schemas.common import PROSE, Ident, SchemaVersion, Timestamp
from schemas.screening import ScreenedMessage

ControlKind = Literal[
    "consumer",
    "device",
    "payment",
    "address",
    "phone",
    "merchant",
    "sku",
    "qualification_code",
    "programme",
    "budget_line",
]
ControlAction = Literal["block", "hold", "pause", "allow", "lift"]
CONTROL_KINDS: tuple[str, ...] = get_args(ControlKind)
CONTROL_ACTIONS: tuple[str, ...] = get_args(ControlAction)
HASHED_KINDS = frozenset({"consumer", "payment", "address", "phone"})
"""Kinds whose key is a pseudonym: `consumer.id_hash`, `payment.account_hash`,
`delivery.address_hash`, `consumer.phone_hash`."""
SCOPE_KINDS = frozenset({"programme", "budget_line"})
_SCOPE_ACTIONS = frozenset({"pause", "lift"})
_ENTITY_ACTIONS = frozenset({"block", "hold", "allow", "lift"})
ACTIONS_BY_KIND: dict[str, frozenset[str]] = {
    kind: _SCOPE_ACTIONS if kind in SCOPE_KINDS else _ENTITY_ACTIONS for kind in CONTROL_KINDS
}
_PSEUDONYM = re.compile(r"[0-9a-f]{64}")

Reason = Annotated[str, StringConstraints(min_length=1, max_length=1000), PROSE]


class Control(ScreenedMessage):
    """One control record; `topic_key` is its Kafka key."""

    schema_version: SchemaVersion
    control_id: Ident
    kind: ControlKind
    key: Ident
    action: ControlAction
    reason: Reason
    author: Ident
    issued_at: Timestamp
    effective_from: Timestamp
    expires_at: Timestamp | None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.kind in HASHED_KINDS and not _PSEUDONYM.fullmatch(self.key):
            raise ValueError(
                f"key: a {self.kind} control's key is a pseudonym (64 lowercase hex characters)"
            )
        if self.action not in ACTIONS_BY_KIND[self.kind]:
            allowed = ", ".join(sorted(ACTIONS_BY_KIND[self.kind]))
            raise ValueError(
                f"action: {self.action} does not apply to a {self.kind} control ({allowed} do)"
            )
        if self.expires_at is not None and self.expires_at <= self.effective_from:
            raise ValueError("expires_at: must be after effective_from")
        return self

    @property
    def topic_key(self) -> str:
        return f"{self.kind}:{self.key}"


CONTROL_ADAPTER: TypeAdapter[Control] = TypeAdapter(Control)

__all__ = [
    "ACTIONS_BY_KIND",
    "CONTROL_ACTIONS",
    "CONTROL_ADAPTER",
    "CONTROL_KINDS",
    "HASHED_KINDS",
    "SCOPE_KINDS",
    "Control",
    "ControlAction",
    "ControlKind",
]
