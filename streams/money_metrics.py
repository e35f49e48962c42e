"""Metrics of money: exact `Decimal` totals, turned into floats only when scraped."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from decimal import Decimal

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from schemas.money import ZERO


class MoneyCounter:
    """A counter of yuan kept as exact `Decimal` totals, a float only when scraped: a month of
    float additions drifts off the fen that the replay summary and the ledgers show."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: tuple[str, ...],
        registry: CollectorRegistry,
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = labelnames
        self._totals: dict[tuple[str, ...], Decimal] = {}
        self._lock = threading.Lock()  # the hooks add while the /metrics thread reads
        registry.register(self)

    def inc(self, labels: tuple[str, ...], amount: Decimal) -> None:
        with self._lock:
            self._totals[labels] = self._totals.get(labels, ZERO) + amount

    def totals(self) -> dict[tuple[str, ...], Decimal]:
        """label values -> the exact total so far."""
        with self._lock:
            return dict(self._totals)

    def describe(self) -> list[Metric]:
        return [CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)]

    def collect(self) -> list[Metric]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        with self._lock:
            totals = list(self._totals.items())
        for labels, total in totals:
            family.add_metric(labels, float(total))
        return [family]


class BudgetGauges:
    """Each budget line's budget, used amount and used ratio, kept as exact `Decimal` and
    turned into riskmon_budget_yuan, riskmon_budget_used_yuan and riskmon_budget_used_ratio
    when scraped: a decision only stores a number, however often it changes a line."""

    LABELS = ("programme", "budget_line")

    def __init__(self, registry: CollectorRegistry) -> None:
        self._budget: dict[tuple[str, str], Decimal] = {}
        self._used: dict[tuple[str, str], Decimal] = {}
        registry.register(self)

    def set_budget(self, programme: str, budget_line: str, budget: Decimal) -> None:
        self._budget[(programme, budget_line)] = budget
        self._used.setdefault((programme, budget_line), ZERO)

    def set_used(self, programme: str, budget_line: str, used: Decimal) -> None:
        self._used[(programme, budget_line)] = used

    def used_of(self, programme: str, budget_line: str) -> Decimal:
        return self._used.get((programme, budget_line), ZERO)

    def used(self) -> dict[tuple[str, str], Decimal]:
        return dict(self._used)

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def collect(self) -> Iterable[Metric]:
        # one item assignment per update, read here as a copy: no lock needed under the GIL
        budgets, used = dict(self._budget), dict(self._used)
        families = self._families()
        for key, budget in budgets.items():
            spent = used.get(key, ZERO)
            families[0].add_metric(key, float(budget))
            families[1].add_metric(key, float(spent))
            families[2].add_metric(key, float(spent / budget))
        return families

    def _families(self) -> list[GaugeMetricFamily]:
        return [
            GaugeMetricFamily(
                "riskmon_budget_yuan", "Budget of each line, in yuan", labels=self.LABELS
            ),
            GaugeMetricFamily(
                "riskmon_budget_used_yuan",
                "Budget used (approved and held, less what was given back), in yuan",
                labels=self.LABELS,
            ),
            GaugeMetricFamily(
                "riskmon_budget_used_ratio",
                "Budget used as a fraction of the line's budget",
                labels=self.LABELS,
            ),
        ]
