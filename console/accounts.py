"""Managing console users after they exist: the list, enabling a disabled user, a new
password, removal, and each user's language. Adding and disabling are in console/auth.py.

The caller records each change in the audit trail (the `riskmon user` commands and the
supervisors' `/users` page both do).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from console import sessions as live
from console.auth import AuthError, hash_password
from console.words import lang_of
from reports.tables import audit, sessions, users


def list_users(connection: Connection) -> list[dict[str, Any]]:
    """Every user (never a password hash) with their last login, by name."""
    last_login = (
        select(audit.c.actor, func.max(audit.c.at).label("last_login"))
        .where(audit.c.action == "login")
        .group_by(audit.c.actor)
        .subquery()
    )
    rows = connection.execute(
        select(
            users.c.name,
            users.c.role,
            users.c.created_at,
            users.c.active,
            users.c.lang,
            last_login.c.last_login,
        )
        .select_from(users.outerjoin(last_login, last_login.c.actor == users.c.name))
        .order_by(users.c.name)
    ).mappings()
    return [dict(row) for row in rows]


def _known(connection: Connection, name: str) -> Any:
    row = connection.execute(select(users.c.active).where(users.c.name == name)).first()
    if row is None:
        raise AuthError(f"no user named {name!r}")
    return row


def enable_user(connection: Connection, name: str) -> None:
    if _known(connection, name).active:
        raise AuthError(f"{name!r} is active already")
    connection.execute(update(users).where(users.c.name == name).values(active=True))


def reset_password(connection: Connection, name: str, password: str, now: datetime) -> int:
    """A new password for `name` (checked as any password is); their open sessions end, so
    whoever held the old one is out at once. Returns how many sessions were live."""
    _known(connection, name)
    connection.execute(
        update(users)
        .where(users.c.name == name)
        .values(password_hash=hash_password(password, name))
    )
    return live.end_all(connection, now, "password_reset", name)


def remove_user(connection: Connection, name: str) -> None:
    """Remove a user and their sessions' rows; what they did stays in the audit trail."""
    _known(connection, name)
    connection.execute(delete(sessions).where(sessions.c.name == name))
    connection.execute(delete(users).where(users.c.name == name))


def set_language(connection: Connection, name: str, lang: str) -> str:
    chosen = lang_of(lang)
    connection.execute(update(users).where(users.c.name == name).values(lang=chosen))
    return chosen
