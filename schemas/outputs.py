"""Topics `alerts`, `decisions` and `dead-letter`: what the monitor writes.

The models are the contract (JSON Schema export, tests validate every record against them); the
hot path serialises through `alert_json` / `decision_json`, which emit the same shape without
building a model per record.
"""

from __future__ import annotations

import base64
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, NamedTuple, get_args

import orjson
from pydantic import Field, TypeAdapter

from schemas.common import Ident, OutputModel, SchemaVersion, Timestamp
from schemas.identifiers import redact_raw_bytes, redact_raw_identifiers
from schemas.labels import Risk
from schemas.money import Money, money_text

Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[str, ...] = get_args(Severity)
Action = Literal["review", "hold", "block", "notify"]
DecisionKind = Literal["approve", "review", "reject"]
EntityType = Literal[
    "consumer",
    "qualification",
    "address",
    "pickup_point",
    "device",
    "phone",
    "payment_account",
    "ip_prefix",
    "merchant",
    "sku",
    "order",
    "budget_line",
]


class Entity(OutputModel):
    type: EntityType
    key: Annotated[str, Field(min_length=1, max_length=128)]


class Alert(OutputModel):
    schema_version: SchemaVersion
    alert_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    raised_at: Timestamp
    detector: Ident
    risk: Risk
    severity: Severity
    entity: Entity
    order_ids: list[Ident]
    subsidy_at_risk: Money
    action: Action
    score: Annotated[float, Field(ge=0, le=1)]
    evidence: dict[str, Any]


class Decision(OutputModel):
    schema_version: SchemaVersion
    order_id: Ident
    event_id: Ident
    decided_at: Timestamp
    decision: DecisionKind
    allowed_subsidy: Money
    reasons: list[Ident]
    # the rules version the order was decided under (an extension of contract v1.1)
    rules_version: Ident | None = None


class Authorization(OutputModel):
    """Topic `authorizations` (an extension of contract v1.1, keyed by `order_id`): a checkout's
    answer (`status` authorized: the API's answer, with `status`), then what became of its
    reservation (committed by the payment, released by a cancellation or a new checkout,
    expired by event time)."""

    schema_version: SchemaVersion
    authorization_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    order_id: Ident
    status: Literal["authorized", "committed", "released", "expired"]
    decision: DecisionKind | None = None
    allowed_subsidy: Annotated[str, Field(pattern=r"^\d+\.\d{2}$")] | None = None
    reasons: list[Ident] | None = None
    expires_at: Timestamp | None = None
    rules_version: Ident | None = None
    at: Timestamp | None = None


class DeadLetter(OutputModel):
    """An input that could not be accepted, with all it takes to replay it once fixed."""

    schema_version: SchemaVersion
    reason: str
    error: Annotated[str, Field(max_length=4000)]
    topic: str
    partition: int | None
    offset: int | None
    file: str | None = None
    line: int | None = None
    size: int
    raw_base64: str
    redacted: int = 0


ALERT_ADAPTER: TypeAdapter[Alert] = TypeAdapter(Alert)
DECISION_ADAPTER: TypeAdapter[Decision] = TypeAdapter(Decision)
DEAD_LETTER_ADAPTER: TypeAdapter[DeadLetter] = TypeAdapter(DeadLetter)
AUTHORIZATION_ADAPTER: TypeAdapter[Authorization] = TypeAdapter(Authorization)


def _money(amount: Decimal) -> orjson.Fragment:
    # orjson has no Decimal: a fragment writes the exact two-decimal text as a JSON number.
    return orjson.Fragment(money_text(amount).encode())


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _money(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(record: dict[str, Any]) -> bytes:
    """JSON bytes of an output record; `Decimal` becomes an exact JSON number."""
    return orjson.dumps(record, default=_default)


def dumps_line(record: dict[str, Any]) -> bytes:
    """The same, as one line of JSON Lines."""
    return orjson.dumps(record, default=_default, option=orjson.OPT_APPEND_NEWLINE)


def decision_record(
    *,
    order_id: str,
    event_id: str,
    decided_at: datetime,
    decision: str,
    allowed_subsidy: Decimal,
    reasons: list[str],
    rules_version: str | None = None,
) -> dict[str, Any]:
    record = {
        "schema_version": 1,
        "order_id": order_id,
        "event_id": event_id,
        "decided_at": decided_at,  # orjson writes RFC 3339 with the offset, faster than isoformat
        "decision": decision,
        "allowed_subsidy": _money(allowed_subsidy),
        "reasons": reasons,
    }
    if rules_version is not None:
        record["rules_version"] = rules_version
    return record


class Origin(NamedTuple):
    """Where an input message came from, for its dead-letter record (a tuple: one per event)."""

    topic: str
    partition: int | None = None
    offset: int | None = None
    file: str | None = None
    line: int | None = None


def dead_letter_record(*, reason: str, error: str, raw: bytes, origin: Origin) -> dict[str, Any]:
    """A dead letter keeps the raw bytes, to be replayed once fixed, but never a raw ID number or
    phone number in clear, in any disguise (`schemas.identifiers`): a malformed message is
    where one would slip through. The error names fields, never values; it is redacted too."""
    raw, redacted = redact_raw_bytes(raw)
    error = redact_raw_identifiers(error)[0]
    return {
        "schema_version": 1,
        "reason": reason,
        "error": error[:4000],
        "topic": origin.topic,
        "partition": origin.partition,
        "offset": origin.offset,
        "file": origin.file,
        "line": origin.line,
        "size": len(raw),
        "raw_base64": base64.b64encode(raw).decode("ascii"),
        "redacted": redacted,
    }
