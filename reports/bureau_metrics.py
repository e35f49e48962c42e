"""The delivery metrics `riskmon bureau serve` serves, on a registry it is given.

The gauges are read from the store at each pass, not kept in the process: a restart, or a
second instance, reports the same thing. Labels are destination names from the configuration
and package kinds: never a URL, a day or an id.
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy import Connection, func, select

from reports.bureau_tables import deliveries

PENDING = "pending"


class DeliveryMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.attempts = Counter(
            "riskmon_bureau_delivery_attempts_total",
            "Delivery attempts to the bureau, by destination, package and outcome",
            ["destination", "package", "outcome"],
            registry=registry,
        )
        self.failing = Gauge(
            "riskmon_bureau_delivery_failing",
            "Deliveries whose last attempt failed and that are waiting for a retry",
            ["destination"],
            registry=registry,
        )
        self.overdue = Gauge(
            "riskmon_bureau_delivery_overdue",
            "Deliveries past the time they were due by and not delivered",
            ["destination"],
            registry=registry,
        )
        self.oldest = Gauge(
            "riskmon_bureau_delivery_oldest_overdue_seconds",
            "How long the oldest overdue delivery has been overdue (0: none)",
            ["destination"],
            registry=registry,
        )
        self.last_pass = Gauge(
            "riskmon_bureau_last_pass_timestamp_seconds",
            "When the delivery service last looked at what is due (Unix time)",
            registry=registry,
        )

    def names(self) -> set[str]:
        """Every series name these metrics can expose (`_total` included)."""
        return {
            family.name + ("_total" if family.type == "counter" else "")
            for family in self.registry.collect()
        }

    def attempted(self, destination: str, package: str, outcome: str) -> None:
        self.attempts.labels(destination, package, outcome).inc()

    def observe(self, connection: Connection, now: datetime, destinations: list[str]) -> None:
        d = deliveries.c
        for name in destinations:
            failing = connection.execute(
                select(func.count()).where(
                    d.destination == name, d.state == PENDING, d.attempts > 0
                )
            ).scalar_one()
            overdue, oldest = connection.execute(
                select(func.count(), func.min(d.due_at)).where(
                    d.destination == name, d.state == PENDING, d.due_at < now
                )
            ).one()
            self.failing.labels(name).set(failing)
            self.overdue.labels(name).set(overdue)
            self.oldest.labels(name).set((now - oldest).total_seconds() if oldest else 0)
        self.last_pass.set(now.timestamp())
