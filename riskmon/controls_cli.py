"""`riskmon controls add|lift|list|send`: the platform's levers from the command line.

`add` and `lift` build a control record (events.md 1.1, topic `controls`), decoded as a worker
decodes it, record it in the store (the outbox `controls_out`) with its audit row as
`cli:<user>`, in one transaction, then send it to the broker at once (the outbox waits, and
`send` or the console retries, if the broker cannot be reached). `--out FILE` appends the record
to a file instead, for `riskmon replay --controls FILE`: a backtest, nothing recorded.
`list` shows what the store holds, with each control's state now.
"""

from __future__ import annotations

import getpass
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table

from riskmon.settings import load_settings
from riskmon.store_cli import open_store

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

    from console.merchant_controls import ControlSender
    from schemas.controls import Control

console = Console()
errors = Console(stderr=True)
controls_app = typer.Typer(
    no_args_is_help=True, help="Controls: block, hold, pause, allow, lift (topic controls)."
)

KafkaOption = Annotated[
    str | None, typer.Option("--kafka", help="broker host:port (default: RISKMON_KAFKA)")
]
UserOption = Annotated[
    str | None, typer.Option("--user", help="who issues it, audited as cli:USER (default: $USER)")
]
ReasonOption = Annotated[str, typer.Option("--reason", help="why (required; recorded and sent)")]
OutOption = Annotated[
    Path | None,
    typer.Option(help="append the record to this file instead (for replay --controls)"),
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    errors.print(f"error: {message}", highlight=False, markup=False)
    return typer.Exit(code)


def author(user: str | None) -> str:
    try:
        name = user or getpass.getuser()
    except OSError:
        name = "unknown"
    return f"cli:{name}"[:64]


def _timezone() -> tzinfo:
    from schemas.rules import RulesError, load_rules

    settings = load_settings()
    try:
        return load_rules(settings.rules, window=settings.event_window).timezone
    except RulesError as exc:
        raise _fail(str(exc)) from None


def parse_time(text: str, now: datetime, option: str) -> datetime:
    """`now` or RFC 3339 with an offset."""
    if text == "now":
        return now
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise _fail(f"{option} is `now` or RFC 3339 with an offset") from None
    if at.tzinfo is None:
        raise _fail(f"{option} needs an offset, e.g. 2026-08-01T00:00:00+08:00")
    return at


def parse_expires(text: str | None, start: datetime) -> datetime | None:
    """`--expires`: none (until lifted), a duration after the start (12h, 90d) or a time."""
    if text is None or text == "never":
        return None
    from riskmon.console_cli import parse_expiry

    at = parse_expiry(text, start)
    if at is None or at <= start:
        raise _fail("--expires is after the effective time")
    return at


def make_sender(engine: Engine, bootstrap: str) -> ControlSender:
    """The outbox's sender (console/merchant_controls.py); the tests give one a fake producer."""
    from console.merchant_controls import ControlSender

    return ControlSender(engine, bootstrap)


def _bootstrap(kafka: str | None) -> str:
    bootstrap = kafka or load_settings().kafka
    if not bootstrap:
        raise _fail(
            "no broker: give --kafka HOST:PORT or set RISKMON_KAFKA "
            "(or --out FILE to write the record for a replay)"
        )
    return bootstrap


def _deliver(engine: Engine, bootstrap: str, control: Control) -> None:
    sender = make_sender(engine, bootstrap)
    try:
        sender.flush()
    finally:
        sender.close()
    if sender.last_error is not None:
        raise _fail(
            f"{control.control_id} is recorded but not sent ({sender.last_error}): it waits in "
            "the outbox; `riskmon controls send` sends it (so does the console)",
            1,
        )


def _append(out: Path, control: Control) -> None:
    with out.open("ab") as handle:
        handle.write(control.model_dump_json().encode() + b"\n")


def _issue(
    build: Callable[[Connection | None], Control], kafka: str | None, out: Path | None
) -> Control:
    """Build (`build(connection)`, or `build(None)` for a file), record, audit and send."""
    from console import control_register as register

    if out is not None:
        control = build(None)
        _append(out, control)
        return control
    bootstrap = _bootstrap(kafka)
    with open_store(write=True) as engine:
        try:
            with engine.begin() as connection:
                control = build(connection)
                register.issue(
                    connection,
                    control,
                    actor=control.author,
                    role=None,
                    now=control.issued_at,
                )
        except register.ControlError as exc:
            raise _fail(str(exc)) from None
        _deliver(engine, bootstrap, control)
    return control


@controls_app.command("add")
def controls_add(
    kind: Annotated[
        str, typer.Argument(help="consumer, device, payment, address, phone, merchant, sku, ...")
    ],
    key: Annotated[str, typer.Argument(help="the identifier (a pseudonym for a person's kinds)")],
    action: Annotated[str, typer.Argument(help="block, hold, allow; pause for a programme")],
    reason: ReasonOption,
    effective: Annotated[
        str, typer.Option(help="`now` or RFC 3339 with an offset: from this event time on")
    ] = "now",
    expires: Annotated[
        str | None, typer.Option(help="until lifted (default), a duration (12h, 7d) or a time")
    ] = None,
    user: UserOption = None,
    kafka: KafkaOption = None,
    out: OutOption = None,
) -> None:
    """Issue a control: recorded, audited as cli:USER, and published to the controls topic."""
    from console import control_register as register

    now = datetime.now(UTC)
    start = parse_time(effective, now, "--effective")
    until = parse_expires(expires, start)
    timezone = _timezone()
    who = author(user)
    if action == "lift":
        raise _fail("a lift names the control it ends: `riskmon controls lift CONTROL_ID`")

    def make(connection: Connection | None) -> Control:
        control_id = (
            f"c-{now.astimezone(timezone):%Y%m%d}-{uuid.uuid4().hex[:12]}"  # a file's: no register
            if connection is None
            else register.next_id(connection, now, timezone)
        )
        return register.build(
            control_id,
            kind,
            key,
            action,
            reason,
            who,
            issued_at=now,
            effective_from=start,
            expires_at=until,
            timezone=timezone,
        )

    try:
        control = _issue(make, kafka, out)
    except register.ControlError as exc:
        raise _fail(str(exc)) from None
    where = f"appended to {out}" if out is not None else "published"
    console.print(
        f"{control.control_id}: {control.action} {control.kind} {control.key} from "
        f"{control.effective_from.isoformat()}; {where}",
        highlight=False,
        markup=False,
    )


@controls_app.command("lift")
def controls_lift(
    control_id: Annotated[str, typer.Argument(help="the control to end, e.g. c-20260710-0001")],
    reason: ReasonOption,
    effective: Annotated[str, typer.Option(help="`now` or RFC 3339 with an offset")] = "now",
    user: UserOption = None,
    kafka: KafkaOption = None,
) -> None:
    """End a control: a `lift` record on its key, recorded, audited and published."""
    from console import control_register as register

    now = datetime.now(UTC)
    start = parse_time(effective, now, "--effective")
    timezone = _timezone()
    who = author(user)

    def make(connection: Connection | None) -> Control:
        if connection is None:
            raise _fail("a lift is recorded in the store")
        return register.lift_of(
            connection, control_id, reason, who, now=now, effective_from=start, timezone=timezone
        )

    control = _issue(make, kafka, None)
    console.print(
        f"{control.control_id}: lift {control.kind} {control.key} (ends {control_id}) from "
        f"{control.effective_from.isoformat()}; published",
        highlight=False,
        markup=False,
    )


@controls_app.command("send")
def controls_send(kafka: KafkaOption = None) -> None:
    """Send the control records waiting in the store's outbox (the broker was down)."""
    bootstrap = _bootstrap(kafka)
    with open_store(write=True) as engine:
        sender = make_sender(engine, bootstrap)
        try:
            count = sender.flush()
        finally:
            sender.close()
    if sender.last_error is not None:
        raise _fail(f"not sent ({sender.last_error}): they wait in the outbox", 1)
    console.print(f"sent {count} control record(s)", highlight=False)


@controls_app.command("list")
def controls_list(
    everything: Annotated[
        bool,
        typer.Option(
            "--all", help="also lifted, superseded, expired and refused ones, and lift records"
        ),
    ] = False,
    lang: Annotated[str, typer.Option("--lang", help="zh (default) or en")] = "zh",
) -> None:
    """The controls in the store and their state now (active, scheduled, pending, ...)."""
    from console import control_register as register
    from reports.bureau_words import word

    if lang not in ("zh", "en"):
        raise _fail("--lang is zh or en")
    language: Literal["zh", "en"] = "zh" if lang == "zh" else "en"
    timezone = _timezone()
    now = datetime.now(UTC)
    with open_store(write=False) as engine, engine.connect() as connection:
        rows = register.listing(connection, now, lifts=everything)
    current = {"pending", "scheduled", "active"}
    shown = [r for r in rows if everything or r.state in current]

    def w(key: str) -> str:
        return word(key, language)

    table = Table(title=f"{w('controls_title')} ({len(shown)})")
    for heading in ("c_id", "c_kind", "c_key", "c_action", "c_state", "c_effective"):
        table.add_column(w(heading), no_wrap=True)
    for heading in ("c_expires", "c_author", "c_approved_by", "c_reason"):
        table.add_column(w(heading))
    for r in shown:
        table.add_row(
            r.control_id,
            w(f"ck_{r.kind}"),
            r.key,
            w(f"ca_{r.action}"),
            w(f"cs_{r.state}") + ("" if r.sent or r.state in ("pending", "refused") else "*"),
            r.effective_from.astimezone(timezone).strftime("%Y-%m-%d %H:%M"),
            w("c_never")
            if r.expires_at is None
            else r.expires_at.astimezone(timezone).strftime("%Y-%m-%d %H:%M"),
            r.author,
            r.approved_by or "",
            r.reason,
        )
    console.print(table)
    if any(not r.sent and r.state not in ("pending", "refused") for r in shown):
        console.print(f"* {w('c_waiting')}: riskmon controls send", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(controls_app, name="controls")
