"""Verdicts: an alert confirmed, dismissed or escalated, and what follows from it.

One transaction records the verdict, the alert's new status, the audit row, an incident for
the bureau (escalation), the money it moves in the fund ledger (confirm: the orders' subsidy
forfeited; dismiss: released where nothing else holds it; `reports.fund_moves`) and one
`labels` message per order of the alert (confirm: `fraud`, dismiss: `legit`) in the outbox.
The messages go to Kafka after the commit; what cannot go (no broker configured, or the broker
is down) stays in the outbox, is said so on the page and goes with the next verdict or the
next start (a transactional outbox: a label is never lost, and never sent for a verdict that
did not commit).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, Literal, get_args

import orjson
from sqlalchemy import Connection, Engine, func, insert, select, update

from console import audit
from console.auth import User
from reports import fund_moves
from reports.tables import alert_orders, alert_status, alerts, incidents, labels_out, verdicts
from schemas.labels import LABEL_ADAPTER, RISKS

Action = Literal["confirm", "dismiss", "escalate"]
ACTIONS: tuple[Action, ...] = get_args(Action)
STATUS_AFTER = {"confirm": "confirmed", "dismiss": "dismissed", "escalate": "escalated"}
LABEL_OF = {"confirm": "fraud", "dismiss": "legit"}
OUTBOX, SENT = "outbox", "sent"
MAX_COMMENT = 4000


class VerdictError(ValueError):
    """A verdict that cannot be given; `status` is the HTTP status that says why."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


class CommentRequired(VerdictError):
    """A verdict that needs a comment came without one; `args[0]` is the words' key."""

    def __init__(self, key: str) -> None:
        super().__init__(key, 422)
        self.key = key


def comment_missing(action: str, severity: str, comment: str) -> str | None:
    """Why this verdict needs a comment it lacks (a key of console/words.py), or None.

    The bureau reads an escalation's comment as the case's first line, and dismissing a
    critical alert is the verdict most worth a second look: neither goes through blank.

    >>> comment_missing("escalate", "low", "  "), comment_missing("dismiss", "critical", "")
    ('comment_required_escalate', 'comment_required_critical')
    >>> comment_missing("dismiss", "high", ""), comment_missing("confirm", "critical", "")
    (None, None)
    """
    if comment.strip():
        return None
    if action == "escalate":
        return "comment_required_escalate"
    if action == "dismiss" and severity == "critical":
        return "comment_required_critical"
    return None


@dataclass(frozen=True)
class Given:
    verdict_id: int
    status: str
    labels: int
    incident_id: int | None
    moves: int = 0  # fund-ledger moves the verdict made (forfeits, releases)


def label_id(verdict_id: int, order_id: str) -> str:
    text = f"{verdict_id}\x1f{order_id}"
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def give(
    connection: Connection,
    user: User,
    alert_id: str,
    action: str,
    comment: str,
    *,
    timezone: tzinfo,
    remote: str | None = None,
    now: datetime | None = None,
) -> Given:
    """Record a verdict in the caller's transaction; raises VerdictError when it cannot be."""
    if action not in ACTIONS:
        raise VerdictError(f"the action is one of {', '.join(ACTIONS)}", 422)
    if len(comment) > MAX_COMMENT:
        raise VerdictError(f"a comment has at most {MAX_COMMENT} characters", 422)
    found = connection.execute(
        select(alerts.c.risk, alerts.c.severity, alert_status.c.status)
        .select_from(alerts.outerjoin(alert_status, alert_status.c.alert_id == alerts.c.alert_id))
        .where(alerts.c.alert_id == alert_id)
    ).first()
    if found is None:
        raise VerdictError("no such alert", 404)
    risk, before = found.risk, found.status or "open"
    # An open alert takes any verdict; an escalated one still takes the final word.
    if before not in ("open", "escalated") or (before == "escalated" and action == "escalate"):
        raise VerdictError(f"this alert is {before} already")
    missing = comment_missing(action, found.severity, comment)
    if missing is not None:
        raise CommentRequired(missing)
    now = now or datetime.now(UTC)
    after = STATUS_AFTER[action]
    if before == "open":
        # the primary key makes two analysts' simultaneous verdicts one winner and one refusal
        connection.execute(
            insert(alert_status).values(
                alert_id=alert_id, status=after, updated_at=now, updated_by=user.name
            )
        )
    else:
        changed = connection.execute(
            update(alert_status)
            .where(alert_status.c.alert_id == alert_id, alert_status.c.status == before)
            .values(status=after, updated_at=now, updated_by=user.name)
        ).rowcount
        if changed != 1:
            raise VerdictError("another verdict was given on this alert meanwhile")
    verdict_id = connection.execute(
        insert(verdicts)
        .values(alert_id=alert_id, action=action, analyst=user.name, at=now, comment=comment)
        .returning(verdicts.c.verdict_id)
    ).scalar_one()
    labels = 0
    # budget alerts are notifications, not accusations: nothing for the models to learn
    if action in LABEL_OF and risk != "budget":
        labels = _labels(connection, verdict_id, alert_id, action, risk, user, now, timezone)
    # the money follows the verdict, in the same transaction (reports.fund_moves)
    moves = fund_moves.on_verdict(
        connection, alert_id, action, user.name, verdict_id, comment, now, timezone
    )
    incident_id = None
    if action == "escalate":
        incident_id = connection.execute(
            insert(incidents)
            .values(
                alert_id=alert_id,
                verdict_id=verdict_id,
                filed_at=now,
                filed_by=user.name,
                comment=comment,
            )
            .returning(incidents.c.incident_id)
        ).scalar_one()
    audit.record(
        connection,
        user.name,
        "verdict",
        role=user.role,
        target=alert_id,
        detail={
            "action": action,
            "before": before,
            "after": after,
            "verdict_id": verdict_id,
            "labels": labels,
            "incident_id": incident_id,
            "comment": comment,
            "fund": moves,
        },
        remote=remote,
        at=now,
    )
    return Given(verdict_id, after, labels, incident_id, len(moves))


def _labels(
    connection: Connection,
    verdict_id: int,
    alert_id: str,
    action: str,
    risk: str,
    user: User,
    now: datetime,
    timezone: tzinfo,
) -> int:
    order_ids = connection.execute(
        select(alert_orders.c.order_id)
        .where(alert_orders.c.alert_id == alert_id)
        .order_by(alert_orders.c.order_id)
    ).scalars()
    rows = []
    for order_id in order_ids:
        message = {
            "schema_version": 1,
            "order_id": order_id,
            "label": LABEL_OF[action],
            "risk": risk if risk in RISKS else None,
            "labelled_at": now.astimezone(timezone).isoformat(timespec="seconds"),
            "analyst": user.name,
        }
        payload = orjson.dumps(message)
        LABEL_ADAPTER.validate_json(payload)  # the contract, before it is promised to anyone
        rows.append(
            {
                "label_id": label_id(verdict_id, order_id),
                "verdict_id": verdict_id,
                "order_id": order_id,
                "payload": payload.decode(),
                "status": OUTBOX,
                "sent_at": None,
            }
        )
    if rows:
        connection.execute(insert(labels_out), rows)
    return len(rows)


def outbox_size(connection: Connection) -> int:
    return connection.execute(
        select(func.count()).select_from(labels_out).where(labels_out.c.status == OUTBOX)
    ).scalar_one()


class LabelSender:
    """Sends the outbox's labels to Kafka (kafka-python), keyed by `order_id` as the contract says.

    Without a broker it sends nothing and the labels wait. One flush at a time: two would send
    the same label twice.
    """

    def __init__(
        self, engine: Engine, bootstrap: str | None, batch_bytes: int = 1, topic: str = "labels"
    ) -> None:
        self.engine = engine
        self.bootstrap = bootstrap
        self.batch_bytes = batch_bytes
        self.topic = topic
        self.last_error: str | None = None
        self._producer: Any = None
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return bool(self.bootstrap)

    def _connect(self) -> Any:
        if self._producer is None:
            from kafka import KafkaProducer

            self._producer = KafkaProducer(
                bootstrap_servers=self.bootstrap,
                batch_size=self.batch_bytes,
                linger_ms=0,
                acks="all",
                max_block_ms=5000,
                request_timeout_ms=5000,
            )
        return self._producer

    def flush(self) -> int:
        """Send what waits in the outbox; returns how many went (0 without a broker)."""
        if not self.configured:
            return 0
        with self._lock:
            with self.engine.connect() as connection:
                waiting = connection.execute(
                    select(labels_out.c.label_id, labels_out.c.order_id, labels_out.c.payload)
                    .where(labels_out.c.status == OUTBOX)
                    .order_by(labels_out.c.verdict_id, labels_out.c.order_id)
                ).all()
            if not waiting:
                return 0
            try:
                producer = self._connect()
                futures = [
                    producer.send(self.topic, value=row.payload.encode(), key=row.order_id.encode())
                    for row in waiting
                ]
                producer.flush(timeout=10)
                for future in futures:
                    future.get(timeout=10)
            except Exception as exc:  # any broker failure: they wait for the next flush
                self.last_error = type(exc).__name__
                self.close()
                return 0
            self.last_error = None
            with self.engine.begin() as connection:
                connection.execute(
                    update(labels_out)
                    .where(labels_out.c.label_id.in_([row.label_id for row in waiting]))
                    .values(status=SENT, sent_at=datetime.now(UTC))
                )
            return len(waiting)

    def close(self) -> None:
        if self._producer is not None:
            try:
                self._producer.close(timeout=5)
            finally:
                self._producer = None
