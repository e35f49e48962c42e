"""JSON Schema of every topic, generated from the models (the single source of the format)."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from schemas.catalog import CATALOG_ADAPTER
from schemas.controls import CONTROL_ADAPTER
from schemas.labels import LABEL_ADAPTER
from schemas.orders import CHECKOUT_ADAPTER, ORDER_ADAPTER
from schemas.outputs import (
    ALERT_ADAPTER,
    AUTHORIZATION_ADAPTER,
    DEAD_LETTER_ADAPTER,
    DECISION_ADAPTER,
)
from schemas.publications import PUBLICATION_ADAPTER

TOPICS: dict[str, TypeAdapter[Any]] = {
    "orders": ORDER_ADAPTER,
    "catalog": CATALOG_ADAPTER,
    "labels": LABEL_ADAPTER,
    "controls": CONTROL_ADAPTER,
    "rules": PUBLICATION_ADAPTER,
    "alerts": ALERT_ADAPTER,
    "decisions": DECISION_ADAPTER,
    "authorizations": AUTHORIZATION_ADAPTER,
    "dead-letter": DEAD_LETTER_ADAPTER,
}
REQUESTS: dict[str, TypeAdapter[Any]] = {"order-checkout": CHECKOUT_ADAPTER}
"""What is not a topic's message but a request to the monitor's API (contract v1.1)."""
_SINCE = {
    "controls": "v1.1",
    "order-checkout": "v1.1",
    "rules": "v1.1 (riskmon's extension)",
    "authorizations": "v1.1 (riskmon's extension)",
}


def topic_schemas() -> dict[str, dict[str, Any]]:
    """Topic (or request) name to its JSON Schema (draft 2020-12), as read from the wire.

    What the schema cannot say is in the descriptions: every event time must lie in the
    accepted window (schemas.times), and every text is screened for control characters and raw
    identifiers (schemas.screening); a key given twice in one object is refused.
    """
    out = {}
    for name, adapter in (*TOPICS.items(), *REQUESTS.items()):
        schema = adapter.json_schema(mode="validation")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema.setdefault("title", name)
        what = "the authorization API's request" if name in REQUESTS else "topic"
        schema["$comment"] = f"riskmon wire contract {_SINCE.get(name, 'v1')}, {what} {name!r}"
        out[name] = schema
    return out
