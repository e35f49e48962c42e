"""Login throttling kept in the store: per name and per client, surviving a restart.

Five wrong passwords for one name within 15 minutes lock that name for 15 minutes (a guesser
of one account); twenty failures from one client within 15 minutes lock that client for 15
minutes, whatever names it tries (a guesser of many accounts). A client is its IPv4 address,
or the /64 network of its IPv6 address (what one host is usually given). A locked attempt
checks no password and counts no further failure. A successful login clears its name's
failures, not its client's.

The failure table holds the current window only: each failure deletes those older than the
window, and at most `MAX_ROWS` are kept whatever the rate (the oldest go first; a lock-out
already taken is a row of its own and stays).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import Connection, delete, func, insert, select

from reports.tables import lockouts, login_failures

Scope = Literal["name", "client"]
MAX_ROWS = 10_000


@dataclass(frozen=True)
class Policy:
    per_name: int = 5
    per_client: int = 20
    window: timedelta = timedelta(minutes=15)
    lock_for: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class Lock:
    scope: Scope
    until: datetime


def client_key(address: str | None) -> str:
    """The key a client's failures are counted under.

    >>> client_key("113.88.10.21"), client_key("2001:db8:1:2:aaaa::1"), client_key(None)
    ('113.88.10.21', '2001:db8:1:2::/64', 'unknown')
    """
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else ip)


def locked(connection: Connection, name: str, client: str, now: datetime) -> Lock | None:
    """The lock-out in force on this name or client, the later-ending one if both."""
    rows = connection.execute(
        select(lockouts.c.scope, lockouts.c.until).where(
            (
                ((lockouts.c.scope == "name") & (lockouts.c.key == name[:64]))
                | ((lockouts.c.scope == "client") & (lockouts.c.key == client))
            ),
            lockouts.c.until > now,
        )
    ).all()
    if not rows:
        return None
    row = max(rows, key=lambda r: r.until)
    scope: Scope = "name" if row.scope == "name" else "client"
    return Lock(scope, row.until)


def failed(
    connection: Connection, name: str, client: str, now: datetime, policy: Policy
) -> Lock | None:
    """Count one failure; the lock-out it starts, if it reaches a limit."""
    since = now - policy.window
    connection.execute(delete(login_failures).where(login_failures.c.at <= since))
    connection.execute(delete(lockouts).where(lockouts.c.until <= now))
    connection.execute(insert(login_failures).values(at=now, name=name[:64], client=client))
    newest = connection.execute(select(func.max(login_failures.c.failure_id))).scalar_one()
    connection.execute(
        delete(login_failures).where(login_failures.c.failure_id <= newest - MAX_ROWS)
    )
    lock = None
    for scope, column, key, limit in (
        ("name", login_failures.c.name, name[:64], policy.per_name),
        ("client", login_failures.c.client, client, policy.per_client),
    ):
        count = connection.execute(
            select(func.count()).where(column == key, login_failures.c.at > since)
        ).scalar_one()
        if count >= limit:
            until = now + policy.lock_for
            connection.execute(
                delete(lockouts).where(lockouts.c.scope == scope, lockouts.c.key == key)
            )
            connection.execute(insert(lockouts).values(scope=scope, key=key, until=until))
            lock = Lock("name" if scope == "name" else "client", until)
    return lock


def succeeded(connection: Connection, name: str) -> None:
    """A right password: the name's failures are forgiven."""
    connection.execute(delete(login_failures).where(login_failures.c.name == name[:64]))
