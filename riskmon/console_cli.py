"""The console's commands: `console` (the web console and decision API), `user add`, `token add`.

All work on the store of `RISKMON_DATABASE_URL`, migrated to the newest schema first.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from riskmon.settings import load_settings
from riskmon.store_cli import open_store

console = Console()
errors = Console(stderr=True)
user_app = typer.Typer(no_args_is_help=True, help="Console users.")
token_app = typer.Typer(no_args_is_help=True, help="Decision API tokens.")


def _fail(message: str, code: int = 2) -> typer.Exit:
    errors.print(f"error: {message}", highlight=False, markup=False)
    return typer.Exit(code)


def _actor() -> str:
    # who ran the command, for the audit trail: the operating-system account
    try:
        return f"cli:{getpass.getuser()}"[:64]
    except OSError:
        return "cli"


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
        hash_password(password)  # refuse a short one before touching the store
    except AuthError as exc:
        raise _fail(str(exc)) from None
    with open_store(write=True) as engine, engine.begin() as connection:
        try:
            user = add_user(connection, name, role, password)
        except AuthError as exc:
            raise _fail(str(exc)) from None
        audit.record(connection, _actor(), "user_add", target=user.name, detail={"role": role})
    console.print(f"added {user.role} {user.name}", highlight=False)


@token_app.command("add")
def token_add(
    name: Annotated[str, typer.Argument(help="who the token is for, e.g. platform-a")],
) -> None:
    """Issue a decision-API token; it is printed once and kept only as a hash."""
    from console import audit
    from console.auth import AuthError, add_token

    with open_store(write=True) as engine, engine.begin() as connection:
        try:
            token = add_token(connection, name)
        except AuthError as exc:
            raise _fail(str(exc)) from None
        audit.record(connection, _actor(), "token_add", target=name)
    errors.print(f"token for {name} (shown once; send it as 'Authorization: Bearer ...'):")
    print(token)


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
    from schemas.rules import RulesError, load_rules

    settings = load_settings()
    try:
        rules = load_rules(settings.rules, window=settings.event_window)
    except RulesError as exc:
        raise _fail(str(exc)) from None
    if settings.console_secret is None:
        errors.print(
            "note: RISKMON_CONSOLE_SECRET is not set: sessions end when the console restarts",
            highlight=False,
        )
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
            secret=(
                settings.console_secret.get_secret_value() if settings.console_secret else None
            ),
            secure_cookies=settings.console_secure_cookies,
            refresh_seconds=refresh,
            max_bytes=settings.max_message_bytes,
            event_window=settings.event_window,
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
        )


def register(app: typer.Typer) -> None:
    """Add the console's commands to the `riskmon` command line."""
    app.command("console")(serve)
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")
