"""Deliveries to the bureau: what is due, each attempt, its receipt or failure, retries.

`Deliverer.tick()` does everything due at the clock's time and returns: it plans the daily
package of every programme day whose time has come (each day D is due at `schedule.at` on
D + 1, in the rules' time zone) for every destination that takes it, and a push for every case
that is new or has moved; then it attempts every delivery whose time has come, oldest first.
A day not delivered yet (the service was down, the receiver refused) stays pending and is
retried with back-off until it arrives: missed days catch up by themselves. There is no sleep
here: `riskmon bureau serve` calls `tick` and waits until `next_wake`; tests move the clock.

Each attempt is recorded in one transaction with its audit row (`delivery` or
`delivery_failed`), so the store and the audit trail never disagree. Each pass also escalates
the complaints whose first answer is late (`console.complaints.escalate_overdue`), so that
happens on time even when no one opens the console.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from console import audit
from console.complaints import escalate_overdue
from reports.bureau_cases import case_file, marks
from reports.bureau_config import BureauConfig, Destination
from reports.bureau_destinations import DeliveryFailed, Parcel, send
from reports.bureau_metrics import DeliveryMetrics
from reports.bureau_package import Package, build_package, check_items
from reports.bureau_tables import deliveries
from schemas.rules import ProgrammeRules

log = logging.getLogger("riskmon.bureau")
ACTOR = "bureau-serve"
PENDING, DELIVERED = "pending", "delivered"
DAILY, INCIDENT = "daily", "incident"
ERROR_CHARS = 500
RECEIPT_CHARS = 4096


def delivery_id(destination: str, package: str, subject: str, version: str) -> str:
    """Stable for what a delivery carries: the receiver's dedupe key.

    >>> delivery_id("bureau", "daily", "2026-07-01", "1") == delivery_id(
    ...     "bureau", "daily", "2026-07-01", "1")
    True
    """
    text = "\x1f".join((destination, package, subject, version))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@dataclass
class TickResult:
    planned: int = 0
    delivered: list[str] = field(default_factory=list)  # delivery ids
    failed: list[str] = field(default_factory=list)


@dataclass
class Deliverer:
    engine: Engine
    rules: ProgrammeRules
    config: BureauConfig
    clock: Callable[[], datetime]
    metrics: DeliveryMetrics | None = None

    def __post_init__(self) -> None:
        check_items(self.config.schedule.items)

    # ---- the schedule ----------------------------------------------------------------------

    @property
    def first_day(self) -> date:
        configured = self.config.schedule.first_day
        if configured is not None:
            return configured
        return min(
            p.start.astimezone(self.rules.timezone).date() for p in self.rules.programmes.values()
        )

    def due_at(self, day: date) -> datetime:
        """When the package of programme day `day` is due."""
        return datetime.combine(
            day + timedelta(days=1), self.config.schedule.at, self.rules.timezone
        )

    def days_due(self, now: datetime) -> list[date]:
        """Every programme day from the first whose package is due by `now`."""
        local = now.astimezone(self.rules.timezone)
        last = local.date() - timedelta(days=1 if local.time() >= self.config.schedule.at else 2)
        first = self.first_day
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]

    # ---- one pass ------------------------------------------------------------------------------

    def tick(self) -> TickResult:
        now = self.clock()
        result = TickResult()
        try:
            with self.engine.begin() as connection:
                # complaints whose first answer is late are escalated even when no one looks
                escalate_overdue(connection, now)
                result.planned += self._plan_days(connection, now)
                if self.config.incidents.push:
                    result.planned += self._plan_cases(connection, now)
        except IntegrityError:
            # another instance planned the same deliveries meanwhile (one is meant to run, but
            # two do no harm: the ids are the same, and the receiver dedupes on them)
            result.planned = 0
        packages: dict[date, Package] = {}
        # A destination that failed in this pass is not tried again in it: what else waits for
        # it moves to the same retry time (no package built for nothing, no hammering).
        down: dict[str, datetime] = {}
        for row in self._due(now):
            if row.destination in down:
                self._defer(row.delivery_id, down[row.destination])
            elif self._attempt(row, now, packages):
                result.delivered.append(row.delivery_id)
            else:
                result.failed.append(row.delivery_id)
                down[row.destination] = now + self.config.delivery.backoff(row.attempts + 1)
        if self.metrics is not None:
            with self.engine.connect() as connection:
                self.metrics.observe(connection, now, [d.name for d in self.config.destinations])
        return result

    def next_wake(self) -> datetime:
        """When `tick` next has something to do (at most `poll_seconds` away: new cases)."""
        now = self.clock()
        wake = now + timedelta(seconds=self.config.delivery.poll_seconds)
        with self.engine.connect() as connection:
            retry = connection.execute(
                select(func.min(deliveries.c.next_attempt_at)).where(deliveries.c.state == PENDING)
            ).scalar_one()
        if retry is not None:
            wake = min(wake, max(retry, now))
        upcoming = self.due_at(now.astimezone(self.rules.timezone).date() - timedelta(days=1))
        if upcoming > now:
            wake = min(wake, upcoming)
        return wake

    def resend(self, day: date, actor: str, only: str | None = None) -> list[str]:
        """Plan the package of `day` again, as a new version, for every destination that takes
        the daily package (or `only` that one): a day corrected after it went (a worker's
        backlog booked late) reaches the bureau again. Delivered at the next pass."""
        now = self.clock()
        takers = [d for d in self.config.destinations if d.daily and only in (None, d.name)]
        if not takers:
            raise KeyError(only or "no destination takes the daily package")
        planned = []
        with self.engine.begin() as connection:
            for destination in takers:
                versions = connection.execute(
                    select(deliveries.c.version).where(
                        deliveries.c.destination == destination.name,
                        deliveries.c.package == DAILY,
                        deliveries.c.subject == str(day),
                    )
                ).scalars()
                version = str(max((int(v) for v in versions), default=0) + 1)
                row = self._row(destination, DAILY, str(day), version, now, now, None)
                connection.execute(insert(deliveries).values(**row))
                audit.record(
                    connection,
                    actor,
                    "delivery_resend",
                    target=row["delivery_id"],
                    detail={"destination": destination.name, "day": str(day), "version": version},
                    at=now,
                )
                planned.append(row["delivery_id"])
        return planned

    # ---- planning ------------------------------------------------------------------------------

    def _plan_days(self, connection: Connection, now: datetime) -> int:
        takers = [d for d in self.config.destinations if d.daily]
        days = self.days_due(now)
        if not takers or not days:
            return 0
        planned = 0
        for destination in takers:
            known = set(
                connection.execute(
                    select(deliveries.c.subject).where(
                        deliveries.c.destination == destination.name,
                        deliveries.c.package == DAILY,
                    )
                ).scalars()
            )
            rows = [
                self._row(destination, DAILY, str(day), "1", now, self.due_at(day), None)
                for day in days
                if str(day) not in known
            ]
            if rows:
                connection.execute(insert(deliveries), rows)
                planned += len(rows)
        return planned

    def _plan_cases(self, connection: Connection, now: datetime) -> int:
        takers = [d for d in self.config.destinations if d.incidents]
        if not takers:
            return 0
        found = marks(connection, self.config.incidents.severities, self.first_day)
        within = timedelta(minutes=self.config.incidents.within_minutes)
        planned = 0
        files: dict[str, bytes] = {}
        for destination in takers:
            known = {
                (subject, version)
                for subject, version in connection.execute(
                    select(deliveries.c.subject, deliveries.c.version).where(
                        deliveries.c.destination == destination.name,
                        deliveries.c.package == INCIDENT,
                    )
                )
            }
            rows = []
            for mark in found:
                if (mark.alert_id, mark.version) in known:
                    continue
                key = f"{mark.alert_id}/{mark.version}"
                if key not in files:
                    file = case_file(connection, mark, self.rules.timezone)
                    files[key] = orjson.dumps(file, option=orjson.OPT_SORT_KEYS)
                rows.append(
                    self._row(
                        destination,
                        INCIDENT,
                        mark.alert_id,
                        mark.version,
                        now,
                        now + within,
                        files[key].decode(),
                    )
                )
            if rows:
                connection.execute(insert(deliveries), rows)
                planned += len(rows)
        return planned

    @staticmethod
    def _row(
        destination: Destination,
        package: str,
        subject: str,
        version: str,
        now: datetime,
        due: datetime,
        payload: str | None,
    ) -> dict[str, Any]:
        return {
            "delivery_id": delivery_id(destination.name, package, subject, version),
            "destination": destination.name,
            "package": package,
            "subject": subject,
            "version": version,
            "created_at": now,
            "due_at": due,
            "state": PENDING,
            "attempts": 0,
            # a day's package goes at its time, not before; a case at once
            "next_attempt_at": max(due, now) if package == DAILY else now,
            "last_attempt_at": None,
            "last_error": None,
            "delivered_at": None,
            "receipt": None,
            "body_sha256": None,
            "payload": payload,
        }

    # ---- attempts ------------------------------------------------------------------------------

    def _due(self, now: datetime) -> list[Any]:
        names = {d.name for d in self.config.destinations}
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(deliveries)
                .where(deliveries.c.state == PENDING, deliveries.c.next_attempt_at <= now)
                .order_by(deliveries.c.due_at, deliveries.c.delivery_id)
            ).all()
        # a destination taken out of the configuration keeps its rows, untried
        return [r for r in rows if r.destination in names]

    def _parcel(self, row: Any, now: datetime, packages: dict[date, Package]) -> Parcel:
        if row.package == INCIDENT:
            body = str(row.payload).encode()
            return Parcel(
                row.delivery_id,
                INCIDENT,
                row.subject,
                row.version,
                body,
                "application/json",
                [(f"{row.subject}.json", body)],
            )
        day = date.fromisoformat(row.subject)
        if day not in packages:
            schedule = self.config.schedule
            packages[day] = build_package(
                self.engine, self.rules, day, schedule.items, schedule.lang, now
            )
        package = packages[day]
        return Parcel(
            row.delivery_id,
            DAILY,
            row.subject,
            row.version,
            package.zip_bytes(),
            "application/zip",
            package.all_files(),
        )

    def _attempt(self, row: Any, now: datetime, packages: dict[date, Package]) -> bool:
        destination = self.config.destination(row.destination)
        attempts = row.attempts + 1
        body_sha = None
        try:
            parcel = self._parcel(row, now, packages)
            body_sha = hashlib.sha256(parcel.body).hexdigest()
            receipt = send(destination, parcel, now, self.config.delivery.timeout_seconds)
        except DeliveryFailed as exc:
            self._failed(row, now, attempts, str(exc))
            return False
        except Exception as exc:  # a report that cannot be built: recorded, retried, alerted
            log.exception("building the %s package %s failed", row.package, row.subject)
            self._failed(row, now, attempts, f"{type(exc).__name__} while building the package")
            return False
        with self.engine.begin() as connection:
            connection.execute(
                update(deliveries)
                .where(deliveries.c.delivery_id == row.delivery_id)
                .values(
                    state=DELIVERED,
                    attempts=attempts,
                    next_attempt_at=None,
                    last_attempt_at=now,
                    delivered_at=now,
                    receipt=receipt[:RECEIPT_CHARS],
                    body_sha256=body_sha,
                    last_error=None,
                )
            )
            audit.record(
                connection,
                ACTOR,
                "delivery",
                target=row.delivery_id,
                detail=self._detail(row, attempts, receipt=receipt[:ERROR_CHARS], sha=body_sha),
                at=now,
            )
        if self.metrics is not None:
            self.metrics.attempted(row.destination, row.package, "delivered")
        return True

    def _defer(self, delivery: str, until: datetime) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                update(deliveries)
                .where(deliveries.c.delivery_id == delivery)
                .values(next_attempt_at=until)
            )

    def _failed(self, row: Any, now: datetime, attempts: int, error: str) -> None:
        retry = now + self.config.delivery.backoff(attempts)
        with self.engine.begin() as connection:
            connection.execute(
                update(deliveries)
                .where(deliveries.c.delivery_id == row.delivery_id)
                .values(
                    attempts=attempts,
                    last_attempt_at=now,
                    next_attempt_at=retry,
                    last_error=error[:ERROR_CHARS],
                )
            )
            audit.record(
                connection,
                ACTOR,
                "delivery_failed",
                target=row.delivery_id,
                detail=self._detail(row, attempts, error=error[:ERROR_CHARS], retry=retry),
                at=now,
            )
        if self.metrics is not None:
            self.metrics.attempted(row.destination, row.package, "failed")
        log.warning(
            "delivery %s (%s %s to %s) failed, attempt %d: %s; next at %s",
            row.delivery_id,
            row.package,
            row.subject,
            row.destination,
            attempts,
            error,
            retry.isoformat(),
        )

    @staticmethod
    def _detail(row: Any, attempts: int, **more: Any) -> dict[str, Any]:
        detail = {
            "destination": row.destination,
            "package": row.package,
            "subject": row.subject,
            "version": row.version,
            "attempt": attempts,
        }
        for key, value in more.items():
            detail[key] = value.isoformat() if isinstance(value, datetime) else value
        return detail


def listing(
    connection: Connection, *, state: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Deliveries, newest due first (`riskmon bureau deliveries`)."""
    columns = [c for c in deliveries.c if c.name != "payload"]
    query = select(*columns).order_by(deliveries.c.due_at.desc(), deliveries.c.destination)
    if state is not None:
        query = query.where(deliveries.c.state == state)
    return [dict(r) for r in connection.execute(query.limit(limit)).mappings()]
