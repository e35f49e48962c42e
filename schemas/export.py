"""JSON Schema of every topic, generated from the models (the single source of the format)."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from schemas.catalog import CATALOG_ADAPTER
from schemas.labels import LABEL_ADAPTER
from schemas.orders import ORDER_ADAPTER
from schemas.outputs import ALERT_ADAPTER, DEAD_LETTER_ADAPTER, DECISION_ADAPTER

TOPICS: dict[str, TypeAdapter[Any]] = {
    "orders": ORDER_ADAPTER,
    "catalog": CATALOG_ADAPTER,
    "labels": LABEL_ADAPTER,
    "alerts": ALERT_ADAPTER,
    "decisions": DECISION_ADAPTER,
    "dead-letter": DEAD_LETTER_ADAPTER,
}


def topic_schemas() -> dict[str, dict[str, Any]]:
    """Topic name to its JSON Schema (draft 2020-12), as read from the wire (validation mode)."""
    out = {}
    for topic, adapter in TOPICS.items():
        schema = adapter.json_schema(mode="validation")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema.setdefault("title", topic)
        schema["$comment"] = f"riskmon wire contract v1, topic {topic!r}"
        out[topic] = schema
    return out
