"""The console's commands: `console` (the web console and decision API), `user
add|list|disable|enable|reset|remove`, `token add|list|revoke`.

All work on the store of `RISKMON_DATABASE_URL`, migrated to the newest schema first, and each
change is in the audit trail. A disabled user or a revoked token is refused by a running
console from its next request on: the console reads both from the store every time.
"""

from __future__ import annotations

import getpass
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from riskmon.settings import load_settings
from riskmon.store_cli import actor as _actor
from riskmon.store_cli import open_store

console = Console()
errors = Console(stderr=True)
user_app = typer.Typer(no_args_is_help=True, help="Console users.")
token_app = typer.Typer(no_args_is_help=True, help="Decision API tokens.")


def _fail(message: str, code: int = 2) -> typer.Exit:
    errors.print(f"error: {message}", highlight=False, markup=False)
    return typer.Exit(code)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise _fail("the two passwords differ")
    return first


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="a short handle, e.g. analyst-07")],
    role: Annotated[str, typer.Option("--role", help="analyst, supervisor or bureau")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
) -> None:
    """Add a console user (the password is asked for, or read from standard input)."""
    from console import audit
    from console.auth import AuthError, add_user, check_name, check_role, hash_password

    try:
        check_name(name)
        check_role(role)
        password = _password(password_stdin)
        hash_password(password, name)  # refuse a weak one before touching the store
    except AuthError as exc:
        raise _fail(str(exc)) from None
    with open_store(write=True) as engine, engine.begin() as connection:
        try:
            user = add_user(connection, name, role, password)
        except AuthError as exc:
            raise _fail(str(exc)) from None
        audit.record(connection, _actor(), "user_add", target=user.name, detail={"role": role})
    console.print(f"added {user.role} {user.name}", highlight=False)


@user_app.command("disable")
def user_disable(
    name: Annotated[str, typer.Argument(help="the user to disable")],
) -> None:
    """Disable a console user at once: no login, and their open sessions end."""
    from console import audit
    from console.auth import AuthError, disable_user

    now = datetime.now(UTC)
    with open_store(write=True) as engine, engine.begin() as connection:
        try:
            ended = disable_user(connection, name, now)
        except AuthError as exc:
            raise _fail(str(exc)) from None
        audit.record(
            connection, _actor(), "user_disable", target=name, detail={"sessions_ended": ended}
        )
    console.print(f"disabled {name}; {ended} open session(s) ended", highlight=False)


@user_app.command("list")
def user_list() -> None:
    """The console's users: name, role, state, language, created, last login (never a hash)."""
    from rich.table import Table

    from console.accounts import list_users

    with open_store(write=False) as engine, engine.connect() as connection:
        rows = list_users(connection)
    table = Table("name", "role", "state", "lang", "created", "last login")
    for row in rows:
        table.add_row(
            row["name"],
            row["role"],
            "active" if row["active"] else "disabled",
            row["lang"],
            f"{row['created_at']:%Y-%m-%d %H:%M}",
            f"{row['last_login']:%Y-%m-%d %H:%M}" if row["last_login"] else "never",
        )
    console.print(table)


@user_app.command("enable")
def user_enable(name: Annotated[str, typer.Argument(help="the user to enable again")]) -> None:
    """Enable a disabled console user (their old password holds; `reset` gives a new one)."""
    from console import audit
    from console.accounts import enable_user
    from console.auth import AuthError

    with open_store(write=True) as engine, engine.begin() as connection:
        try:
            enable_user(connection, name)
        except AuthError as exc:
            raise _fail(str(exc)) from None
        audit.record(connection, _actor(), "user_enable", target=name)
    console.print(f"enabled {name}", highlight=False)


@user_app.command("reset")
def user_reset(
    name: Annotated[str, typer.Argument(help="whose password to replace")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
) -> None:
    """Give a user a new password (asked for, or read from standard input); their open
    sessions end at once."""
    from console import audit
    from console.accounts import reset_password
    from console.auth import AuthError, hash_password

    password = _password(password_stdin)
    try:
        hash_password(password, name)  # refuse a weak one before touching the store
    except AuthError as exc:
        raise _fail(str(exc)) from None
    with open_store(write=True) as engine, engine.begin() as connection:
        try:
            ended = reset_password(connection, name, password, datetime.now(UTC))
        except AuthError as exc:
            raise _fail(str(exc)) from None
        audit.record(
            connection, _actor(), "user_reset", target=name, detail={"sessions_ended": ended}
        )
    console.print(f"new password for {name}; {ended} open session(s) ended", highlight=False)


@user_app.command("remove")
def user_remove(name: Annotated[str, typer.Argument(help="the user to remove")]) -> None:
    """Remove a console user; what they did stays in the audit trail."""
    from console import audit
    from console.accounts import remove_user
    from console.auth import AuthError

    with open_store(write=True) as engine, engine.begin() as connection:
        try:
            remove_user(connection, name)
        except AuthError as exc:
            raise _fail(str(exc)) from None
        audit.record(connection, _actor(), "user_remove", target=name)
    console.print(f"removed {name}", highlight=False)


_DURATION = re.compile(r"^(\d{1,5})([hdw])$")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_expiry(text: str, now: datetime) -> datetime | None:
    """`--expires`: `never`, a duration (`12h`, `90d`, `52w`) or a day or time (ISO 8601,
    Asia/Shanghai when it has no offset; a day ends at its midnight)."""
    if text == "never":
        return None
    found = _DURATION.fullmatch(text)
    if found:
        return now + int(found.group(1)) * _UNITS[found.group(2)]
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise _fail(
            "--expires is `never`, a duration such as 12h, 90d or 52w, or a date such as 2026-12-31"
        ) from None
    if at.tzinfo is None:
        from zoneinfo import ZoneInfo

        at = at.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
        if len(text) == 10:  # a day: usable all of it
            at += timedelta(days=1)
    if at <= now:
        raise _fail("--expires is in the past")
    return at


@token_app.command("add")
def token_add(
    name: Annotated[str, typer.Argument(help="who the token is for, e.g. platform-a")],
    expires: Annotated[
        str,
        typer.Option(help="`never`, a duration (12h, 90d, 52w) or a date (2026-12-31)"),
    ] = "365d",
) -> None:
    """Issue a decision-API token; it is printed once and kept only as a hash."""
    from console import audit
    from console.auth import AuthError, add_token, check_name

    try:
        check_name(name)
    except AuthError as exc:
        raise _fail(str(exc)) from None
    expires_at = parse_expiry(expires, datetime.now(UTC))
    with open_store(write=True) as engine, engine.begin() as connection:
        try:
            token = add_token(connection, name, expires_at)
        except AuthError as exc:
            raise _fail(str(exc)) from None
        audit.record(
            connection,
            _actor(),
            "token_add",
            target=name,
            detail={"expires_at": expires_at.isoformat() if expires_at else None},
        )
    until = f"until {expires_at:%Y-%m-%d %H:%M %Z}" if expires_at else "with no expiry"
    errors.print(
        f"token for {name}, {until} (shown once; send it as 'Authorization: Bearer ...'):",
        highlight=False,
    )
    print(token)


@token_app.command("list")
def token_list() -> None:
    """The tokens issued: public id, owner, times; never the token or its hash."""
    from rich.table import Table

    from console.auth import list_tokens

    with open_store(write=False) as engine, engine.connect() as connection:
        tokens = list_tokens(connection)
    now = datetime.now(UTC)
    table = Table("id", "for", "issued", "expires", "state")
    for token in tokens:
        state = (
            "revoked"
            if token["revoked_at"] is not None
            else "expired"
            if token["expires_at"] is not None and token["expires_at"] <= now
            else "live"
        )
        table.add_row(
            token["token_id"],
            token["name"],
            f"{token['created_at']:%Y-%m-%d %H:%M}",
            f"{token['expires_at']:%Y-%m-%d %H:%M}" if token["expires_at"] else "never",
            state,
        )
    console.print(table)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[
        str, typer.Argument(help="the token's id (`riskmon token list`) or the whole token")
    ],
) -> None:
    """Revoke a decision-API token: refused from the next request on."""
    from console import audit
    from console.auth import AuthError, revoke_token, token_id_of

    with open_store(write=True) as engine, engine.begin() as connection:
        try:
            name = revoke_token(connection, token_id, datetime.now(UTC))
        except AuthError as exc:
            raise _fail(str(exc)) from None
        public = token_id_of(token_id) or token_id
        audit.record(connection, _actor(), "token_revoke", target=name, detail={"id": public})
    console.print(f"revoked token {public} of {name}", highlight=False)


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="port")] = 8080,
    catalog: Annotated[
        Path | None,
        typer.Option(
            help="catalog records (JSON Lines) for the decision API (default RISKMON_CATALOG)",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    refresh: Annotated[
        float, typer.Option(min=0.5, help="seconds between checks for a changed store")
    ] = 30.0,
) -> None:
    """The analyst console and the decision API (http://HOST:PORT; stops on Ctrl-C)."""
    import uvicorn

    from console.app import ConsoleConfig, create_app
    from console.security import check_secret
    from console.sessions import Limits
    from reports.keys import WeakKeyError
    from schemas.rules import RulesError, load_rules

    settings = load_settings()
    try:
        rules = load_rules(settings.rules, window=settings.event_window)
    except RulesError as exc:
        raise _fail(str(exc)) from None
    from riskmon.bureau_cli import bureau_config

    bureau = bureau_config(None)  # RISKMON_BUREAU_CONFIG: the complaints' answer deadline
    secret = settings.console_secret.get_secret_value() if settings.console_secret else None
    if secret is None:
        errors.print(
            "note: RISKMON_CONSOLE_SECRET is not set: sessions end when the console restarts",
            highlight=False,
        )
    else:
        try:
            check_secret(secret)
        except WeakKeyError as exc:
            raise _fail(str(exc)) from None
    try:
        limits = Limits(
            absolute=timedelta(hours=settings.console_session_hours),
            idle=timedelta(minutes=settings.console_idle_minutes),
        )
    except ValueError as exc:
        raise _fail(f"RISKMON_CONSOLE_IDLE_MINUTES, RISKMON_CONSOLE_SESSION_HOURS: {exc}") from None
    proxies = [p.strip() for p in settings.console_trusted_proxies.split(",") if p.strip()]
    if catalog is None and settings.catalog is None:
        errors.print(
            "note: no catalog (--catalog or RISKMON_CATALOG): the decision API finds no product "
            "registered, so programmes that need the catalog grant nothing",
            highlight=False,
        )
    with open_store(write=True) as engine:
        config = ConsoleConfig(
            engine=engine,
            rules=rules,
            catalog=catalog or settings.catalog,
            kafka=settings.kafka,
            kafka_batch_bytes=settings.kafka_batch_bytes,
            secret=secret,
            secure_cookies=settings.console_secure_cookies,
            limits=limits,
            refresh_seconds=refresh,
            max_bytes=settings.max_message_bytes,
            event_window=settings.event_window,
            bureau=bureau,
        )
        try:
            app = create_app(config)
        except (OSError, ValueError) as exc:
            raise _fail(str(exc)) from None
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,  # the audit trail records what matters; no identifiers in logs
            loop="uvloop" if sys.platform != "win32" else "asyncio",
            http="httptools",
            # the client address (login throttling, the audit trail) from X-Forwarded-For only
            # when the request comes through a proxy named here
            proxy_headers=bool(proxies),
            forwarded_allow_ips=proxies or None,
        )


def register(app: typer.Typer) -> None:
    """Add the console's commands to the `riskmon` command line."""
    app.command("console")(serve)
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")
