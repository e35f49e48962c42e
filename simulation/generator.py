"""`riskmon simulate`: a labelled synthetic data set with honest traffic, honest look-alikes and
every risk pattern, deterministic for a seed (event time only; the clock is never read)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

from schemas.outputs import dumps
from schemas.rules import ProgrammeRules, load_rules
from simulation.book import Book
from simulation.catalog import Catalog
from simulation.honest import Clock, Honest
from simulation.labels import analyst_labels
from simulation.patterns import Patterns
from simulation.population import People
from simulation.unnamed import Unnamed

CST = timezone(timedelta(hours=8))
# share of honest orders per cohort; the rest of the orders are `regular`
COHORTS = {
    "logistics": 0.16,
    "repeat_local": 0.04,
    "family": 0.03,
    "office": 0.02,
    "pickup_station": 0.02,
    "rebuy_after_cancel": 0.01,
    "mixed_basket": 0.02,
    "no_subsidy": 0.01,
    "late_payment": 0.004,
    "at_limits": 0.01,
    "newcomers": 0.01,
}
EVENTS_PER_ORDER = 1.95  # a payment, a delivery, now and then a cancellation or refund
BAD_LINES = (
    b'{"schema_version": 1, "event_id": "bad-',
    b'{"schema_version": 1, "event_type": "order_paid"}',
    b"not json at all",
    b'{"schema_version": 2, "event_id": "e-v2", "event_type": "order_paid"}',
    b'{"schema_version": 1, "event_id": "e-x", "event_type": "order_shipped", "order_id": "X"}',
)


@dataclass
class GenerateSummary:
    out_dir: Path
    events: int = 0
    orders: int = 0
    positives: int = 0
    catalog: int = 0
    duplicates: int = 0
    bad_lines: int = 0
    full_price: int = 0
    labels: int = 0
    patterns: dict[str, int] = field(default_factory=dict)
    cohorts: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        return (
            f"wrote {self.events:,} event lines ({self.orders:,} orders, {self.positives:,} in "
            f"{len(self.patterns)} risk patterns, {self.duplicates:,} redelivered, "
            f"{self.bad_lines} malformed, {self.full_price:,} at full price once their budget "
            f"line was spent) and {self.catalog:,} catalog records"
            + (f" and {self.labels:,} analyst labels" if self.labels else "")
            + f" to {self.out_dir}"
        )


def generate(
    seed: int,
    days: int,
    out_dir: Path,
    *,
    events_per_day: int = 3400,
    start: date = date(2026, 7, 1),
    rules_path: Path | None = None,
    bad_lines: int = 0,
    unnamed: bool = False,
    labels: bool = False,
    label_sample: float | None = None,
    catalog_seed: int | None = None,
    catalog_start: date | None = None,
) -> GenerateSummary:
    """A labelled set of `days` from `start`. With `catalog_seed` (and `catalog_start`), the
    catalog is the one that seed and start give, whatever `seed` and `start` are: successive
    periods of one run (the demo's chunks) then share one registry, SKU for SKU."""
    rules: ProgrammeRules = load_rules(rules_path)
    rng = random.Random(seed)
    begin = datetime.combine(start, time(0, 0), tzinfo=CST)
    registered_from = begin
    book = Book(seed, rng, rules)
    people = People(seed, rng)
    merchants = [f"M{n:04d}" for n in range(1, 51)]
    fraud_merchants = [f"M{n:04d}" for n in range(901, 911)]
    if catalog_seed is None:
        catalog = Catalog(rng, begin, days, merchants)
    else:
        registered_from = datetime.combine(catalog_start or start, time(0, 0), tzinfo=CST)
        catalog = Catalog(random.Random(catalog_seed), registered_from, days, merchants)
        catalog.rng = rng  # the picks and prices of this period's orders
    clock = Clock(rng, begin, days)
    honest = Honest(book, people, catalog, clock, merchants)
    patterns = Patterns(book, people, catalog, clock, merchants, fraud_merchants)

    summary = GenerateSummary(out_dir)
    makers_of = dict(patterns.all())
    if unnamed:  # after the named ones, so that without them the same seed gives the same bytes
        makers_of.update(Unnamed(book, people, catalog, clock, merchants).all())
    for make, per_month in makers_of.values():
        count = max(1, round(per_month * days / 30))
        for _ in range(count):
            make()
    target = round(events_per_day * days / EVENTS_PER_ORDER)
    made = {name: 0 for name in (*COHORTS, "regular")}
    makers = {name: getattr(honest, name) for name in COHORTS}
    for name, share in COHORTS.items():
        while made[name] < max(1, round(share * target)):
            # a look-alike cut short by the end of a short period still counts as a try
            made[name] += max(1, makers[name]())
    while len(book.truth) < target:
        made["regular"] += honest.regular()

    summary.full_price = book.respect_budgets()
    events = book.events
    redelivered = [e for e in events if rng.random() < 0.005]
    for emitted, _, event in redelivered:
        book.emit(emitted, event, emitted + timedelta(seconds=rng.randint(1, 7200)))
    events.sort(key=lambda e: (e[0], e[1]))
    lines = [dumps(event) for _, _, event in events]
    for n in range(bad_lines):
        lines.insert(rng.randrange(len(lines) + 1), BAD_LINES[n % len(BAD_LINES)])

    out_dir.mkdir(parents=True, exist_ok=True)
    _write(out_dir / "events.jsonl", lines)
    registered = registered_from - timedelta(days=10)
    _write(out_dir / "catalog.jsonl", [dumps(r) for r in catalog.records(registered)])
    _write(out_dir / "truth.jsonl", [dumps(t) for t in book.truth.values()])
    if labels:
        verdicts = analyst_labels(seed, book, label_sample)
        _write(out_dir / "labels.jsonl", [dumps(v) for v in verdicts])
        summary.labels = len(verdicts)

    summary.events = len(lines)
    summary.orders = len(book.truth)
    summary.catalog = len(catalog.skus)
    summary.duplicates = len(redelivered)
    summary.bad_lines = bad_lines
    for t in book.truth.values():
        if t["label"] == "fraud":
            summary.positives += 1
            summary.patterns[t["pattern"]] = summary.patterns.get(t["pattern"], 0) + 1
        summary.cohorts[t["cohort"]] = summary.cohorts.get(t["cohort"], 0) + 1
    return summary


def _write(path: Path, lines: list[bytes]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("wb") as handle:
        for line in lines:
            handle.write(line)
            handle.write(b"\n")
    tmp.replace(path)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
