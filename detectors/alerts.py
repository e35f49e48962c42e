"""What a detector raises: an alert, with its stable id."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from schemas.money import money_text
from schemas.outputs import Action, Severity


def alert_id(detector: str, entity_type: str, entity_key: str, event_id: str) -> str:
    """A pure function of detector, entity and triggering event: a redelivery yields the same id.

    >>> alert_id("address_ring", "address", "ab" * 32, "e-1") == alert_id(
    ...     "address_ring", "address", "ab" * 32, "e-1")
    True
    """
    text = "\x1f".join((detector, entity_type, entity_key, event_id))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@dataclass(slots=True)
class Alert:
    detector: str
    risk: str
    severity: Severity
    action: Action
    entity_type: str
    entity_key: str
    order_ids: list[str]
    raised_at: datetime
    event_id: str
    subsidy_at_risk: Decimal = Decimal(0)
    score: float = 1.0
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def alert_id(self) -> str:
        return alert_id(self.detector, self.entity_type, self.entity_key, self.event_id)

    def record(self) -> dict[str, Any]:
        """The `alerts` topic record (money as exact text, see `schemas.outputs.dumps`)."""
        return {
            "schema_version": 1,
            "alert_id": self.alert_id,
            "raised_at": self.raised_at,
            "detector": self.detector,
            "risk": self.risk,
            "severity": self.severity,
            "entity": {"type": self.entity_type, "key": self.entity_key},
            "order_ids": self.order_ids,
            "subsidy_at_risk": Decimal(money_text(self.subsidy_at_risk)),
            "action": self.action,
            "score": round(self.score, 4),
            "evidence": self.evidence,
        }
