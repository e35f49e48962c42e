"""The store's commands: `db upgrade|status`, `report`, `reconcile`, `backup`, `restore`, and
the store observer behind `replay --store`.

Every one of them works on `RISKMON_DATABASE_URL` (default `sqlite:///var/riskmon.db`, a file
under ./var/). Commands that write the store migrate it to the newest schema first; commands
that only read it refuse a store that is not at that schema, naming `riskmon db upgrade`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from riskmon.settings import load_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from replay.observers import Observer
    from reports.backup import BackupKey
    from reports.bureau_config import Fund
    from reports.document import Report
    from reports.labels import Lang
    from reports.reconcile import Reconciliation
    from reports.render import Format
    from schemas.rules import ProgrammeRules

console = Console()
errors = Console(stderr=True)
db_app = typer.Typer(no_args_is_help=True, help="The store: schema migrations and status.")

FormatOption = Annotated[
    str | None,
    typer.Option("--format", help="xlsx, html, md or csv (default: the suffix of --out)"),
]
LangOption = Annotated[str, typer.Option("--lang", help="zh (default) or en")]


def _fail(message: str, code: int = 2) -> typer.Exit:
    errors.print(f"error: {message}", highlight=False, markup=False)
    return typer.Exit(code)


def database_url() -> str:
    return load_settings().database_url.get_secret_value()


@contextmanager
def open_store(*, write: bool) -> Iterator[Engine]:
    """The store of RISKMON_DATABASE_URL, migrated (`write`) or checked to be current."""
    from sqlalchemy.exc import SQLAlchemyError

    from reports import migrate
    from reports.db import StoreError, describe, open_engine

    url = database_url()
    try:
        engine = open_engine(url)
    except StoreError as exc:
        raise _fail(str(exc)) from None
    try:
        if write:
            migrate.upgrade(engine)
        else:
            migrate.require_current(engine)
        yield engine
    except StoreError as exc:
        raise _fail(str(exc)) from None
    except SQLAlchemyError as exc:
        # the driver's own words, without the URL (it may hold a password)
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise _fail(f"the store {describe(url)}: {reason}") from None
    finally:
        engine.dispose()


@contextmanager
def store_observers(rules: ProgrammeRules, enabled: bool) -> Iterator[list[Observer]]:
    """`replay --store`: an observer that fills the store (nothing without the flag)."""
    if not enabled:
        yield []
        return
    from reports.db import describe
    from reports.observer import StoreObserver
    from reports.writer import StoreWriter

    with open_store(write=True) as engine:
        writer = StoreWriter(engine)
        yield [StoreObserver(writer, rules)]
        errors.print(
            f"stored {writer.rows_written:,} rows in {describe(engine.url)}", highlight=False
        )


def _format(fmt: str | None, out: Path) -> Format:
    from reports.render import FORMATS

    chosen = fmt or out.suffix.lstrip(".").lower()
    for known in FORMATS:
        if chosen == known:
            return known
    raise _fail(f"--format must be one of {', '.join(FORMATS)} (or --out ending in one)")


def parse_lang(value: str) -> Lang:
    from reports.labels import LANGS

    for known in LANGS:
        if value == known:
            return known
    raise _fail("--lang must be zh or en")


def _write(report: Report, fmt: Format, out: Path) -> None:
    from reports.render import write

    for path in write(report, fmt, out):
        console.print(f"已写入 {path}" if report.lang == "zh" else f"wrote {path}", highlight=False)
    for section in report.sections:  # an empty table is said on the terminal too
        if section.frame.empty and section.empty:
            console.print(section.empty, highlight=False)


def _rules(path: Path | None) -> ProgrammeRules:
    from schemas.rules import RulesError, load_rules

    settings = load_settings()
    try:
        return load_rules(path or settings.rules, window=settings.event_window)
    except RulesError as exc:
        raise _fail(str(exc)) from None


RulesOption = Annotated[
    Path | None,
    typer.Option(help="programme rules TOML (default: the shipped rules)", exists=True),
]


def report(
    kind: Annotated[str, typer.Argument(help="daily, incidents or ledger")],
    out: Annotated[Path, typer.Option("--out", help="file to write")],
    fmt: FormatOption = None,
    date: Annotated[str | None, typer.Option("--date", help="one day, YYYY-MM-DD")] = None,
    start: Annotated[str | None, typer.Option("--from", help="first day, YYYY-MM-DD")] = None,
    end: Annotated[str | None, typer.Option("--to", help="last day, YYYY-MM-DD")] = None,
    lang: LangOption = "zh",
    rules: RulesOption = None,
) -> None:
    """A report for the bureau from the store: daily (fund-use progress), incidents, ledger."""
    from reports.bureau import KINDS, EmptyStoreError, default_period, make
    from reports.db import describe
    from reports.period import Period, PeriodError

    if kind not in KINDS:
        raise _fail(f"the report is one of {', '.join(KINDS)}, not {kind!r}")
    fmt_ = _format(fmt, out)
    lang_ = parse_lang(lang)
    programme_rules = _rules(rules)
    try:
        period = Period.parse(date, start, end)
    except PeriodError as exc:
        raise _fail(str(exc)) from None
    with open_store(write=False) as engine:
        defaulted = period is None
        try:
            period = period or default_period(engine, kind)
        except EmptyStoreError as exc:
            raise _fail(str(exc)) from None
        built = make(
            kind,
            engine,
            programme_rules,
            period,
            lang_,
            source=describe(engine.url),
            defaulted=defaulted,
            fund=_fund(),
        )
    _write(built, fmt_, out)


def _fund() -> Fund:
    """The fund ledger's settings from RISKMON_BUREAU_CONFIG (defaults without one)."""
    from reports.bureau_config import ConfigError, load_config

    try:
        return load_config(load_settings().bureau_config).fund
    except ConfigError as exc:
        raise _fail(str(exc)) from None


def reconcile(
    bill: Annotated[Path, typer.Option(help="the platform's bill: order_id, claimed_subsidy")],
    out: Annotated[Path | None, typer.Option(help="also write every bill line here")] = None,
    fmt: FormatOption = None,
    lang: LangOption = "zh",
) -> None:
    """Reconcile a subsidy bill (立减账单核对) with the rules' decisions and the fund ledger's
    states: a held or forfeited order is never payable."""
    from reports.reconcile import BillError, read_bill
    from reports.reconcile import reconcile as run
    from reports.reconcile import report as as_report

    lang_ = parse_lang(lang)
    if not bill.is_file():
        raise _fail(f"{bill}: no such file")
    try:
        rows = read_bill(bill)
    except BillError as exc:
        raise _fail(str(exc)) from None
    with open_store(write=False) as engine:
        result = run(engine, rows)
    console.print(reconcile_summary(result, bill.name, lang_))
    if out is not None:
        _write(as_report(result, lang_, bill), _format(fmt, out), out)


def reconcile_summary(result: Reconciliation, bill: str, lang: Lang) -> Group:
    """The reconciliation's terminal summary in `lang` (Chinese first): each bill line's status
    with its count, what the bill claimed and what is payable; money as ¥1,234.56."""
    from reports.formats import money
    from reports.frames import yuan
    from reports.labels import label
    from reports.reconcile import STATUSES
    from reports.vocabulary import name

    zh = lang == "zh"
    title = (
        f"{bill}:{result.rows:,} 行,账单申报 {money(yuan(result.billed))}"
        if zh
        else f"{bill}: {result.rows:,} rows, {money(yuan(result.billed))} billed"
    )
    table = Table(title=title, title_justify="left")
    table.add_column(label("status", lang) if zh else "status")
    table.add_column(label("count", lang), justify="right")
    table.add_column(label("claimed_in_bill", lang), justify="right")
    table.add_column(label("payable", lang) if zh else "payable", justify="right")
    for kind in STATUSES:
        table.add_row(
            name("status", kind, lang),
            f"{result.count(kind):,}",
            money(yuan(result.billed_of(kind))),
            money(yuan(result.payable_of(kind))),
        )
    allowed, net, claimable, payable = (
        money(yuan(v))
        for v in (result.allowed, result.ledger_net, result.claimable, result.payable)
    )
    closing = (
        f"规则核定 {allowed};台账扣除退回后 {net},其中可申报 {claimable};"
        f"应付 {payable}(冻结、核减订单不付)"
        if zh
        else f"allowed by the rules {allowed}; in the ledger after claw-backs {net}, of which "
        f"claimable {claimable}; payable {payable} (held and forfeited orders never)"
    )
    return Group(table, Text(closing))


def _backup_key() -> BackupKey:
    from reports.backup import BackupError, BackupKey

    key = load_settings().backup_key
    try:
        return BackupKey.of(key.get_secret_value() if key else None)
    except BackupError as exc:
        raise _fail(str(exc)) from None


def backup(directory: Annotated[Path, typer.Argument(help="a new or empty folder")]) -> None:
    """Back up the store into a folder: every table sealed (AES-256-GCM) and a signed manifest,
    both with RISKMON_BACKUP_KEY."""
    from reports.backup import BackupError
    from reports.backup import backup as run

    key = _backup_key()
    with open_store(write=False) as engine:
        try:
            manifest = run(engine, directory, key)
        except BackupError as exc:
            raise _fail(str(exc)) from None
    rows = sum(entry["rows"] for entry in manifest["tables"].values())
    console.print(
        f"backed up {rows:,} rows into {directory}, sealed with key {manifest['key_id']} "
        f"(content sha256 {manifest['content_sha256'][:16]}…)",
        highlight=False,
    )


def restore(
    directory: Annotated[Path, typer.Argument(help="a folder written by `riskmon backup`")],
    replace: Annotated[
        bool, typer.Option(help="empty a store that holds rows before restoring")
    ] = False,
) -> None:
    """Restore the store from a backup; a damaged, altered or foreign backup is refused, the
    store left as it was. The audit trail keeps its rows and records the restore."""
    from console import audit
    from reports.backup import BackupError
    from reports.restore import read_manifest
    from reports.restore import restore as run

    key = _backup_key()
    try:
        read_manifest(directory, key)  # before anything touches the store
    except BackupError as exc:
        raise _fail(str(exc)) from None
    with open_store(write=True) as engine:
        try:
            manifest = run(engine, directory, key, replace=replace)
        except BackupError as exc:
            raise _fail(str(exc)) from None
        with engine.begin() as connection:
            audit.record(
                connection,
                actor(),
                "restore",
                target=str(manifest["created_at"]),
                detail={
                    "content_sha256": manifest["content_sha256"],
                    "key_id": manifest["key_id"],
                    "replace": replace,
                },
            )
    rows = sum(entry["rows"] for entry in manifest["tables"].values())
    console.print(
        f"restored {rows:,} rows from {directory}; every console session ended", highlight=False
    )


def actor() -> str:
    """Who ran the command, for the audit trail: the operating-system account."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"[:64]
    except OSError:
        return "cli"


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the store's tables to this riskmon's schema."""
    from reports import migrate
    from reports.db import describe

    with open_store(write=True) as engine:
        console.print(
            f"{describe(engine.url)} at schema revision {migrate.current(engine)}", highlight=False
        )


@db_app.command("status")
def db_status() -> None:
    """The store's URL (password hidden), schema revision and row counts."""
    from reports import migrate
    from reports.backup import row_counts
    from reports.db import describe

    with open_store(write=False) as engine:
        counts = row_counts(engine)
        console.print(
            f"{describe(engine.url)}: schema revision {migrate.current(engine)}", highlight=False
        )
        for table, n in counts.items():
            console.print(f"  {table}: {n:,} rows", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the store's commands to the `riskmon` command line."""
    app.add_typer(db_app, name="db")
    app.command("report")(report)
    app.command("reconcile")(reconcile)
    app.command("backup")(backup)
    app.command("restore")(restore)
