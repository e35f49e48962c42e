"""The bureau's commands: `bureau serve` (scheduled data return and pushed incidents),
`bureau deliveries` (what went, what waits), `bureau check` (the configuration).

`bureau serve` is a command of its own, not a stage of the worker: it reads the store, not the
topics; it runs one copy however many workers there are; it can be stopped, upgraded or run
`--once` from cron without touching the stream (docs/bureau.md).
"""

from __future__ import annotations

import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from riskmon.settings import load_settings
from riskmon.store_cli import open_store

if TYPE_CHECKING:
    from reports.bureau_config import BureauConfig
    from schemas.rules import ProgrammeRules

console = Console()
errors = Console(stderr=True)
bureau_app = typer.Typer(no_args_is_help=True, help="Deliveries to the bureau.")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="bureau configuration TOML (default RISKMON_BUREAU_CONFIG)",
        exists=True,
        dir_okay=False,
    ),
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    errors.print(f"error: {message}", highlight=False, markup=False)
    return typer.Exit(code)


def bureau_config(path: Path | None) -> BureauConfig:
    from reports.bureau_config import ConfigError, load_config

    try:
        return load_config(path or load_settings().bureau_config)
    except ConfigError as exc:
        raise _fail(str(exc)) from None


def _rules() -> ProgrammeRules:
    from schemas.rules import RulesError, load_rules

    try:
        return load_rules(load_settings().rules)
    except RulesError as exc:
        raise _fail(str(exc)) from None


@bureau_app.command("check")
def check(config: ConfigOption = None) -> None:
    """Validate the configuration and every destination's key (never printed)."""
    from reports.bureau_config import ConfigError
    from reports.bureau_package import PackageError, check_items

    loaded = bureau_config(config)
    try:
        check_items(loaded.schedule.items)
        for destination in loaded.destinations:
            if destination.kind == "https":
                destination.key()
    except (ConfigError, PackageError) as exc:
        raise _fail(str(exc)) from None
    console.print(
        f"daily package ({', '.join(loaded.schedule.items)}) due at {loaded.schedule.at:%H:%M} "
        f"for the day before; incidents within {loaded.incidents.within_minutes:g} min; "
        f"{len(loaded.destinations)} destination(s): "
        + ", ".join(f"{d.name} ({d.kind})" for d in loaded.destinations),
        highlight=False,
    )


@bureau_app.command("serve")
def serve(
    config: ConfigOption = None,
    once: Annotated[bool, typer.Option(help="one pass over what is due, then exit")] = False,
    metrics_port: Annotated[
        int | None,
        typer.Option(min=0, max=65535, help="serve /metrics here (default RISKMON_METRICS_PORT)"),
    ] = None,
) -> None:
    """Deliver the daily package and push incidents to every configured destination, on
    schedule; catch up what was missed; stop on SIGTERM or Ctrl-C."""
    from prometheus_client import CollectorRegistry, start_http_server
    from sqlalchemy.exc import SQLAlchemyError

    from reports.bureau_deliveries import Deliverer
    from reports.bureau_metrics import DeliveryMetrics
    from reports.bureau_package import PackageError

    loaded = bureau_config(config)
    if not loaded.destinations:
        raise _fail("the bureau configuration names no destination: nothing to deliver to")
    rules = _rules()
    registry = CollectorRegistry()
    metrics = DeliveryMetrics(registry)
    port = load_settings().metrics_port if metrics_port is None else metrics_port
    if not once and port:
        start_http_server(port, registry=registry)
        errors.print(f"metrics on port {port} (/metrics)", highlight=False)
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    with open_store(write=True) as engine:
        try:
            deliverer = Deliverer(engine, rules, loaded, lambda: datetime.now(UTC), metrics)
        except PackageError as exc:
            raise _fail(str(exc)) from None
        while not stop.is_set():
            try:
                result = deliverer.tick()
            except SQLAlchemyError as exc:
                if once:
                    raise
                # the store went away for a moment: try again later (the stalled-service rule
                # tells the operators if it lasts)
                reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
                errors.print(f"the store: {reason}; trying again", highlight=False)
                stop.wait(loaded.delivery.poll_seconds)
                continue
            if result.planned or result.delivered or result.failed:
                errors.print(
                    f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S}Z planned {result.planned}, "
                    f"delivered {len(result.delivered)}, failed {len(result.failed)}",
                    highlight=False,
                )
            if once:
                if result.failed:
                    raise typer.Exit(1)
                break
            wake = deliverer.next_wake()
            stop.wait(max(0.5, (wake - datetime.now(UTC)).total_seconds()))


@bureau_app.command("resend")
def resend(
    day: Annotated[str, typer.Argument(help="the programme day, YYYY-MM-DD")],
    config: ConfigOption = None,
    destination: Annotated[
        str | None, typer.Option(help="only this destination (default: every daily one)")
    ] = None,
) -> None:
    """Send a day's package again, as a new version (a day corrected after it went); it goes
    at the service's next pass."""
    from datetime import date as Date

    from reports.bureau_deliveries import Deliverer
    from riskmon.store_cli import actor

    try:
        when = Date.fromisoformat(day)
    except ValueError:
        raise _fail("the day is YYYY-MM-DD") from None
    loaded = bureau_config(config)
    with open_store(write=True) as engine:
        deliverer = Deliverer(engine, _rules(), loaded, lambda: datetime.now(UTC))
        if when not in deliverer.days_due(datetime.now(UTC)):
            raise _fail(f"{day} is not a day whose package is due yet")
        try:
            planned = deliverer.resend(when, actor(), destination)
        except KeyError:
            raise _fail(f"no destination {destination or ''} takes the daily package") from None
    console.print(f"{day}: {len(planned)} delivery(ies) planned again", highlight=False)


@bureau_app.command("deliveries")
def deliveries(
    state: Annotated[str | None, typer.Option(help="pending or delivered (default: both)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 50,
) -> None:
    """Deliveries to the bureau, newest due first: destination, package, subject, state,
    attempts, receipt or last error."""
    from reports.bureau_deliveries import DELIVERED, PENDING, listing

    if state not in (None, PENDING, DELIVERED):
        raise _fail(f"--state is {PENDING} or {DELIVERED}")
    tz = _rules().timezone
    with open_store(write=False) as engine, engine.connect() as connection:
        rows = listing(connection, state=state, limit=limit)
    table = Table("delivery", "destination", "package", "due", "state", "tries", "outcome")
    for column in table.columns[:-1]:
        column.no_wrap = True  # the outcome wraps; the rest stays legible on a narrow terminal
    for row in rows:
        outcome = (
            f"{row['delivered_at'].astimezone(tz):%m-%d %H:%M} {row['receipt'] or ''}"
            if row["delivered_at"]
            else f"{row['last_error'] or 'not tried yet'}; next "
            f"{row['next_attempt_at'].astimezone(tz):%m-%d %H:%M}"
        )
        table.add_row(
            row["delivery_id"][:12],  # enough to find it (`--limit`, the store)
            row["destination"],
            f"{row['package']} {row['subject']}",
            f"{row['due_at'].astimezone(tz):%m-%d %H:%M}",
            row["state"],
            str(row["attempts"]),
            outcome[:120],
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add the bureau's commands to the `riskmon` command line."""
    app.add_typer(bureau_app, name="bureau")
