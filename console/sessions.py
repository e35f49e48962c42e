"""Console sessions kept in the store: each one revocable, with an absolute and an idle limit.

The browser's cookie (signed by Starlette's `SessionMiddleware`) carries a random session id;
the store keeps its SHA-256 with the user, the time it began, the time it was last used and the
time it ends whatever happens (`expires_at`, never moved). A request is served only while the
row says the session is live: not ended (logout, the user disabled; a restore deletes them), before
`expires_at`, and used within the idle limit. So a cookie saved before a logout opens nothing,
and a cookie forged with the signing key still names no session.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, select, update

from console.auth import ROLES, User, check_role
from reports.tables import sessions, users

ENDED_WHY = ("logout", "disabled")  # a restore deletes every session
# how long an ended or expired session's row is kept (what a supervisor may want to look up)
KEEP_ENDED = timedelta(days=30)


@dataclass(frozen=True)
class Limits:
    """How long a session lasts: `absolute` from the login, `idle` since its last request."""

    absolute: timedelta = timedelta(hours=8)  # a working day, then log in again
    idle: timedelta = timedelta(minutes=30)

    def __post_init__(self) -> None:
        if not timedelta(0) < self.idle <= self.absolute:
            raise ValueError("a session's idle limit is above 0 and at most its absolute limit")

    @property
    def touch_every(self) -> timedelta:
        # `seen_at` is written at most this often: the idle limit is kept to within it, and a
        # page view does not always write to the store
        return min(timedelta(minutes=1), self.idle / 10)


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def begin(
    connection: Connection, user: User, now: datetime, limits: Limits, remote: str | None
) -> str:
    """A new session for `user`; returns the id that goes into the cookie (never stored)."""
    session_id = secrets.token_urlsafe(32)
    connection.execute(
        insert(sessions).values(
            session_hash=_hash(session_id),
            name=user.name,
            created_at=now,
            seen_at=now,
            expires_at=now + limits.absolute,
            ended_at=None,
            ended_why=None,
            remote=remote,
        )
    )
    # the rows of sessions long over go as new ones come: the table stays small
    connection.execute(delete(sessions).where(sessions.c.expires_at < now - KEEP_ENDED))
    return session_id


def live_user(
    connection: Connection, session_id: str, now: datetime, limits: Limits
) -> User | None:
    """The active user of a live session (None: unknown, ended, expired, idle, or disabled);
    marks the session used."""
    key = _hash(session_id)
    row = connection.execute(
        select(users.c.name, users.c.role, users.c.lang, sessions.c.seen_at)
        .join(users, users.c.name == sessions.c.name)
        .where(
            sessions.c.session_hash == key,
            sessions.c.ended_at.is_(None),
            sessions.c.expires_at > now,
            sessions.c.seen_at > now - limits.idle,
            users.c.active,
        )
    ).first()
    if row is None or row.role not in ROLES:
        return None
    if now - row.seen_at >= limits.touch_every:
        connection.execute(
            update(sessions).where(sessions.c.session_hash == key).values(seen_at=now)
        )
    return User(row.name, check_role(row.role), row.lang)


def end(connection: Connection, session_id: str, now: datetime, why: str = "logout") -> None:
    """End one session (logout)."""
    connection.execute(
        update(sessions)
        .where(sessions.c.session_hash == _hash(session_id), sessions.c.ended_at.is_(None))
        .values(ended_at=now, ended_why=why)
    )


def end_all(connection: Connection, now: datetime, why: str, name: str | None = None) -> int:
    """End every live session (of `name` if given); returns how many were live."""
    query = update(sessions).where(sessions.c.ended_at.is_(None), sessions.c.expires_at > now)
    if name is not None:
        query = query.where(sessions.c.name == name)
    return connection.execute(query.values(ended_at=now, ended_why=why)).rowcount
