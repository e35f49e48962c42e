"""Who may do what: users with a role, argon2 password hashes, API tokens kept as hashes.

Passwords are hashed with argon2id (RFC 9106 parameters of `argon2-cffi`) and must be hard to
guess (`console.passwords`); an API token is 32 random bytes, so a single SHA-256 of it is
enough to keep it from being usable if the store leaks, and cheap enough to check in the store
on every decision request: a revoked or expired token is refused from the next request on.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, bindparam, insert, select, update

from reports.tables import api_tokens, users

Role = Literal["analyst", "supervisor", "bureau"]
ROLES: tuple[Role, ...] = get_args(Role)
# A name goes into the labels message's `analyst` field and the audit trail: a short handle.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MIN_PASSWORD = 12

_HASHER = PasswordHasher()
# Checked when the name is unknown, so a wrong name costs what a wrong password does.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


class AuthError(ValueError):
    """A user or token that cannot be made as asked; the message says why."""


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    lang: str = "zh"  # the console's language for them (console/words.py)


def check_name(name: str) -> str:
    """A user or token name: letters, digits, `.`, `_`, `-`, at most 64.

    >>> check_name("analyst-07")
    'analyst-07'
    >>> check_name("a b")
    Traceback (most recent call last):
    ...
    console.auth.AuthError: a name is 1-64 letters, digits, '.', '_', '-', a letter or digit first
    """
    if not NAME.fullmatch(name):
        raise AuthError("a name is 1-64 letters, digits, '.', '_', '-', a letter or digit first")
    return name


def check_role(role: str) -> Role:
    for known in ROLES:
        if role == known:
            return known
    raise AuthError(f"the role is one of {', '.join(ROLES)}, not {role!r}")


def check_password(password: str, name: str = "") -> str:
    """`password` if it may be used: long enough and not guessable (`console.passwords`)."""
    from console.passwords import weakness

    if len(password) < MIN_PASSWORD:
        raise AuthError(f"a password has at least {MIN_PASSWORD} characters")
    found = weakness(password, name)
    if found is not None:
        raise AuthError(f"the password is too easy to guess: {found}")
    return password


def hash_password(password: str, name: str = "") -> str:
    return _HASHER.hash(check_password(password, name))


def add_user(connection: Connection, name: str, role: str, password: str, lang: str = "zh") -> User:
    user = User(check_name(name), check_role(role), "en" if lang == "en" else "zh")
    found = connection.execute(select(users.c.name).where(users.c.name == name)).first()
    if found is not None:
        raise AuthError(f"a user named {name!r} exists already")
    connection.execute(
        insert(users).values(
            name=user.name,
            role=user.role,
            password_hash=hash_password(password, user.name),
            created_at=datetime.now(UTC),
            active=True,
            lang=user.lang,
        )
    )
    return user


def load_user(connection: Connection, name: str) -> User | None:
    """An active user by name (None: unknown or disabled)."""
    row = connection.execute(
        select(users.c.name, users.c.role, users.c.lang).where(users.c.name == name, users.c.active)
    ).first()
    if row is None or row.role not in ROLES:
        return None
    return User(row.name, check_role(row.role), row.lang)


def disable_user(connection: Connection, name: str, now: datetime) -> int:
    """Disable a user at once: no login, and every session of theirs ended; returns how many
    sessions were live."""
    from console import sessions

    done = connection.execute(
        update(users).where(users.c.name == name, users.c.active).values(active=False)
    )
    if done.rowcount == 0:
        known = connection.execute(select(users.c.name).where(users.c.name == name)).first()
        raise AuthError(
            f"no user named {name!r}" if known is None else f"{name!r} is disabled already"
        )
    return sessions.end_all(connection, now, "disabled", name)


def authenticate(connection: Connection, name: str, password: str) -> User | None:
    """The user if the password is theirs; None otherwise, after the same work either way."""
    row = connection.execute(
        select(users.c.name, users.c.role, users.c.lang, users.c.password_hash).where(
            users.c.name == name, users.c.active
        )
    ).first()
    stored = row.password_hash if row is not None else _DUMMY_HASH
    try:
        _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or row.role not in ROLES:
        return None
    return User(row.name, check_role(row.role), row.lang)


# ---- API tokens -----------------------------------------------------------------------------

TOKEN_PREFIX = "rmk"  # noqa: S105 - a prefix that makes a leaked token easy to search for


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_token(connection: Connection, name: str, expires_at: datetime | None = None) -> str:
    """A new API token for `name`; the whole token is shown this once and never stored."""
    check_name(name)
    now = datetime.now(UTC)
    if expires_at is not None and expires_at <= now:
        raise AuthError("a token's expiry is in the future")
    token_id = secrets.token_hex(8)
    token = f"{TOKEN_PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
    connection.execute(
        insert(api_tokens).values(
            token_id=token_id,
            name=name,
            token_hash=token_hash(token),
            created_at=now,
            revoked_at=None,
            expires_at=expires_at,
        )
    )
    return token


def token_id_of(token: str) -> str | None:
    """The public part of a token (None: not one of ours).

    >>> token_id_of("rmk_0123456789abcdef_secret"), token_id_of("nope")
    ('0123456789abcdef', None)
    """
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or len(parts[1]) > 32:
        return None
    return parts[1]


# Built once: the decision API runs it on every request, and building the statement costs more
# than running it (about 90 µs a check on SQLite instead of 250).
_LIVE_TOKEN = select(api_tokens.c.token_hash, api_tokens.c.name).where(
    api_tokens.c.token_id == bindparam("token_id"),
    api_tokens.c.revoked_at.is_(None),
    api_tokens.c.expires_at.is_(None)
    | (api_tokens.c.expires_at > bindparam("now", type_=api_tokens.c.expires_at.type)),
)


def token_user(connection: Connection, token: str, now: datetime) -> str | None:
    """The name a live token (not revoked, not expired) was issued to; None otherwise."""
    token_id = token_id_of(token)
    if token_id is None:
        return None
    row = connection.execute(_LIVE_TOKEN, {"token_id": token_id, "now": now}).first()
    if row is None or not hmac.compare_digest(row.token_hash, token_hash(token)):
        return None
    name: str = row.name
    return name


def revoke_token(connection: Connection, token_or_id: str, now: datetime) -> str:
    """Revoke a token, given whole or by its public part; returns the name it was for."""
    token_id = token_id_of(token_or_id) or token_or_id
    row = connection.execute(
        select(api_tokens.c.name, api_tokens.c.revoked_at).where(
            api_tokens.c.token_id == token_id[:32]
        )
    ).first()
    if row is None:
        raise AuthError(f"no token with the id {token_id[:32]!r} (see `riskmon token list`)")
    if row.revoked_at is not None:
        raise AuthError(f"the token {token_id!r} is revoked already")
    connection.execute(
        update(api_tokens).where(api_tokens.c.token_id == token_id).values(revoked_at=now)
    )
    name: str = row.name
    return name


def list_tokens(connection: Connection) -> list[dict[str, Any]]:
    """Every token's public part, owner, and times (never a hash), newest first."""
    rows = connection.execute(
        select(
            api_tokens.c.token_id,
            api_tokens.c.name,
            api_tokens.c.created_at,
            api_tokens.c.expires_at,
            api_tokens.c.revoked_at,
        ).order_by(api_tokens.c.created_at.desc())
    ).mappings()
    return [dict(row) for row in rows]
