"""Topic names, keys and default partition counts of the wire contract (docs/contract.md)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    key: str
    partitions: int
    direction: str  # "in" | "out"


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec("orders", "consumer.id_hash", 8, "in"),
    TopicSpec("catalog", "sku", 1, "in"),
    TopicSpec("labels", "order_id", 8, "in"),
    # one partition each: a control or a rules version is read, in order, by the one decide
    # sequence; compacted, the latest record per key in force (docs/contract.md)
    TopicSpec("controls", "kind:key", 1, "in"),
    TopicSpec("rules", "version", 1, "in"),
    TopicSpec("alerts", "entity.key", 8, "out"),
    TopicSpec("decisions", "order_id", 8, "out"),
    # checkout answers and what became of their reservations (committed, released, expired)
    TopicSpec("authorizations", "order_id", 8, "out"),
    TopicSpec("dead-letter", "none", 1, "out"),
)
