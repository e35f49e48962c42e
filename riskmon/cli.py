"""The `riskmon` command line: thin, it parses and calls the packages."""

from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from riskmon import (
    bureau_cli,
    console_cli,
    controls_cli,
    fund_cli,
    retention_cli,
    store_cli,
    tuning,
)
from riskmon.panels import panels as panels_command
from riskmon.settings import load_settings

if TYPE_CHECKING:
    from replay import Replay, ReplayStats
    from replay.learning import LearningRun
    from schemas.publications import RulesPublication
    from schemas.rules import ProgrammeRules

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
schema_app = typer.Typer(no_args_is_help=True, help="The wire contract.")
rules_app = typer.Typer(no_args_is_help=True, help="Programme rules files.")
app.add_typer(schema_app, name="schema")
app.add_typer(rules_app, name="rules")
app.command("panels")(panels_command)

console = Console()
errors = Console(stderr=True)

RulesOption = Annotated[
    Path | None,
    typer.Option(
        "--rules",
        help="programme rules TOML (default: the shipped 2026 rules)",
        exists=True,
        dir_okay=False,
    ),
]


def _label_sample(when: str, default: str) -> Any:
    """The `--label-sample` option, simulate's and evaluate's (`when`: with which options)."""
    return typer.Option(
        min=0.0,
        max=1.0,
        help=f"{when}: verdicts on this share of all paid orders at random, 2-7 days late "
        f"({default})",
    )


def _rules(path: Path | None) -> ProgrammeRules:
    from schemas.rules import RulesError, load_rules

    settings = load_settings()
    try:
        return load_rules(path or settings.rules, window=settings.event_window)
    except RulesError as exc:
        errors.print(f"[red]{exc}[/red]", markup=True, highlight=False)
        raise typer.Exit(2) from None


@app.command()
def replay(
    events: Annotated[
        Path, typer.Option(help="order events, JSON Lines", exists=True, dir_okay=False)
    ],
    catalog: Annotated[
        Path | None, typer.Option(help="catalog records, JSON Lines", exists=True, dir_okay=False)
    ] = None,
    rules: RulesOption = None,
    alerts_out: Annotated[Path | None, typer.Option(help="write alerts here")] = None,
    decisions_out: Annotated[Path | None, typer.Option(help="write decisions here")] = None,
    dead_letter_out: Annotated[Path | None, typer.Option(help="write dead letters here")] = None,
    summary_json: Annotated[
        Path | None, typer.Option(help="also write the summary as JSON")
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(min=0, max=65535, help="serve /metrics here (0: a free port)")
    ] = None,
    metrics_linger: Annotated[
        float, typer.Option(min=0, help="keep /metrics up this many seconds after the replay")
    ] = 0.0,
    store: Annotated[
        bool, typer.Option(help="also fill the store (RISKMON_DATABASE_URL): ledgers, alerts")
    ] = False,
    learning: Annotated[
        bool | None,
        typer.Option(
            "--learning/--no-learning",
            help="also run the online-learning stage (default: on when --labels is given)",
        ),
    ] = None,
    labels: Annotated[
        Path | None,
        typer.Option(
            help="analysts' verdicts (topic labels), JSON Lines, merged in by labelled_at",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    scores_out: Annotated[
        Path | None,
        typer.Option(help="with learning: each paid order's scores (evaluate --scores)"),
    ] = None,
    learning_in_process: Annotated[
        bool,
        typer.Option(
            "--learning-in-process",
            help="with learning: run it in this process, after each event (by default, with "
            "two cores or more, it runs in a process of its own beside the rest of the replay: "
            "the same outputs, in less time)",
        ),
    ] = False,
    rules_versions: Annotated[
        Path | None,
        typer.Option(
            help="rules versions as published (topic rules, JSON Lines): each in force from "
            "its effective time, as in the workers",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    authorizations_out: Annotated[
        Path | None,
        typer.Option(help="checkout answers and what became of their reservations (JSON Lines)"),
    ] = None,
    controls: Annotated[
        Path | None,
        typer.Option(
            help="control records (topic controls, JSON Lines): each applied from its "
            "effective time, a backtest of what they would have done",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    orders_partitions: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="feed the behavioural detectors and the models in the order workers reading "
            "this many orders partitions do (default: the topic's, 8)",
        ),
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="zh (default) or en")] = "zh",
) -> None:
    """Run every detector over a file of events, in-process; exit 0 even on bad lines."""
    from replay import Replay
    from replay.learning_process import worth_it
    from replay.summary import summary_tables
    from riskmon.exporter import replay_metrics

    lang_ = store_cli.parse_lang(lang)
    programme_rules = _rules(rules)
    learnt = _learning(programme_rules, learning, labels, scores_out)
    with (
        replay_metrics(programme_rules, metrics_port, metrics_linger) as observers,
        store_cli.store_observers(programme_rules, store) as stored,
    ):
        settings = load_settings()
        engine = Replay(
            programme_rules,
            max_bytes=settings.max_message_bytes,
            observers=[*observers, *stored],
            learning=learnt,
            learning_process=not learning_in_process and worth_it(),
            orders_partitions=orders_partitions,
            versions=_publications(rules_versions),
            controls=_records(controls, "control"),
            window=settings.event_window,
        )
        stats = _run_with_progress(
            engine, events, catalog, alerts_out, decisions_out, dead_letter_out, authorizations_out
        )
        console.print(summary_tables(stats, lang_))
        if summary_json is not None:
            summary_json.write_text(json.dumps(stats.as_dict(), indent=2) + "\n")


def _publications(path: Path | None) -> list[RulesPublication]:
    return _records(path, "rules")


def _records(path: Path | None, kind: str) -> list[Any]:
    """The rules versions or controls of a file (one record a line); a bad line stops the run:
    a backtest under rules or controls other than those asked for would mislead."""
    if path is None:
        return []
    from schemas.decode import DecodeError, decode_control, decode_publication

    decode: Any = decode_publication if kind == "rules" else decode_control
    out = []
    for number, line in enumerate(path.read_bytes().splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(decode(line, 16 << 20))
        except DecodeError as exc:
            errors.print(f"error: {path}:{number}: {exc.reason}: {exc.message}")
            raise typer.Exit(2) from None
    return out


def _learning(
    rules: ProgrammeRules, on: bool | None, labels: Path | None, scores_out: Path | None
) -> LearningRun | None:
    """The learning stage for a replay, or None: off unless asked for or given verdicts."""
    if not (on if on is not None else labels is not None):
        if scores_out is not None:
            errors.print("error: --scores-out needs the learning stage (--learning)")
            raise typer.Exit(2)
        return None
    from detectors.learning import Learner, LearningConfig
    from replay.learning import LearningRun

    window = load_settings().event_window
    return LearningRun(Learner(rules, LearningConfig()), labels, scores_out, window)


def _run_with_progress(
    engine: Replay,
    events: Path,
    catalog: Path | None,
    alerts_out: Path | None,
    decisions_out: Path | None,
    dead_out: Path | None,
    authorizations_out: Path | None = None,
) -> ReplayStats:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    run = partial(
        engine.run,
        events,
        catalog=catalog,
        alerts_out=alerts_out,
        decisions_out=decisions_out,
        dead_letter_out=dead_out,
        authorizations_out=authorizations_out,
    )
    if not console.is_terminal:
        return run()
    with Progress(
        TextColumn("replaying"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("replay", total=events.stat().st_size)
        return run(progress=lambda done: progress.update(task, completed=done))


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="folder for catalog.jsonl, events.jsonl, truth.jsonl")],
    seed: Annotated[int, typer.Option(help="random seed: same seed, same bytes")] = 7,
    days: Annotated[int, typer.Option(min=1, max=184)] = 30,
    events_per_day: Annotated[int, typer.Option(min=100)] = 3400,
    bad_lines: Annotated[int, typer.Option(min=0, help="malformed lines to mix in")] = 0,
    rules: RulesOption = None,
    unnamed: Annotated[
        bool, typer.Option(help="add fraud no rule names (the online-learning stage's patterns)")
    ] = False,
    labels: Annotated[
        bool, typer.Option(help="also write labels.jsonl: analysts' verdicts, late and sampled")
    ] = False,
    label_sample: Annotated[
        float | None,
        _label_sample(
            "with --labels", "default: most flagged fraud, some found out later, a 6 %% audit"
        ),
    ] = None,
) -> None:
    """Write a labelled synthetic data set: honest traffic, look-alikes and every pattern."""
    from simulation.generator import generate

    out.mkdir(parents=True, exist_ok=True)
    summary = generate(
        seed,
        days,
        out,
        events_per_day=events_per_day,
        rules_path=rules or load_settings().rules,
        bad_lines=bad_lines,
        unnamed=unnamed,
        labels=labels,
        label_sample=label_sample,
    )
    console.print(str(summary))


@app.command()
def evaluate(
    truth: Annotated[Path | None, typer.Option(exists=True, dir_okay=False)] = None,
    alerts: Annotated[Path | None, typer.Option(exists=True, dir_okay=False)] = None,
    decisions: Annotated[Path | None, typer.Option(exists=True, dir_okay=False)] = None,
    scores: Annotated[
        Path | None,
        typer.Option(
            help="replay --scores-out: ROC AUC on the unnamed patterns", exists=True, dir_okay=False
        ),
    ] = None,
    seeds: Annotated[
        str | None,
        typer.Option(help="simulate, replay and score each seed (1,2,3 or 1..5): the spread"),
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=60, help="days per seed, with --seeds")] = 30,
    out: Annotated[Path, typer.Option(help="working folder, with --seeds")] = Path("var/seeds"),
    events_per_day: Annotated[
        int, typer.Option(min=100, help="with --seeds: the programme's size, as simulate's")
    ] = 3400,
    learning: Annotated[
        bool,
        typer.Option(
            "--learning",
            help="with --seeds: add the fraud no rule names and analysts' verdicts to each "
            "simulation, and replay with the models learning from them",
        ),
    ] = False,
    label_sample: Annotated[
        float | None, _label_sample("with --seeds --learning", "the default: simulate's")
    ] = None,
) -> None:
    """Precision, recall and F1 per risk, pattern and detector against a ground truth; with
    --seeds, per detector and pattern over several simulations (mean, min, max)."""
    if label_sample is not None and not (seeds is not None and learning):
        errors.print("error: --label-sample goes with --seeds --learning")
        raise typer.Exit(2)
    if seeds is not None:
        _evaluate_seeds(seeds, days, out, events_per_day, learning, label_sample)
        return
    if truth is None or alerts is None or decisions is None:
        errors.print("error: give --truth, --alerts and --decisions (or --seeds 1..5)")
        raise typer.Exit(2)
    from simulation.evaluate import evaluate as run
    from simulation.evaluate import format_evaluation

    console.print(format_evaluation(run(truth, alerts, decisions, scores)))


def _evaluate_seeds(
    text: str,
    days: int,
    out: Path,
    events_per_day: int,
    learning: bool,
    label_sample: float | None,
) -> None:
    from replay import Replay
    from replay.learning_process import worth_it
    from simulation.seeds import format_seeds, parse_seeds, run_seeds

    try:
        chosen = parse_seeds(text)
    except ValueError as exc:
        errors.print(f"error: --seeds: {exc}", highlight=False)
        raise typer.Exit(2) from None
    settings = load_settings()
    rules = _rules(None)

    def replay(folder: Path) -> None:
        models = (
            _learning(rules, True, folder / "labels.jsonl", folder / "scores.jsonl")
            if learning
            else None
        )
        engine = Replay(
            rules,
            max_bytes=settings.max_message_bytes,
            window=settings.event_window,
            learning=models,
            learning_process=worth_it(),  # as `riskmon replay` runs it
        )
        engine.run(
            folder / "events.jsonl",
            catalog=folder / "catalog.jsonl",
            alerts_out=folder / "alerts.jsonl",
            decisions_out=folder / "decisions.jsonl",
        )

    def progress(seed: int) -> None:
        what = " with the models and verdicts" if learning else ""
        errors.print(f"seed {seed}: simulate {days} days, replay{what}, score", highlight=False)

    report = run_seeds(
        chosen,
        days,
        out,
        replay,
        rules_path=settings.rules,
        progress=progress,
        events_per_day=events_per_day,
        unnamed=learning,
        labels=learning,
        label_sample=label_sample,
    )
    console.print(format_seeds(report))


@app.command()
def ingest(
    raw: Annotated[
        Path | None,
        typer.Argument(help="raw platform export (.csv or .jsonl)", exists=True, dir_okay=False),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="contract events, JSON Lines")] = None,
    rejects: Annotated[Path | None, typer.Option(help="rows that could not be converted")] = None,
    encoding: Annotated[
        str | None,
        typer.Option(help="the export's encoding (default: detected: UTF-8, BOM or not, or GBK)"),
    ] = None,
    sample: Annotated[
        Path | None,
        typer.Option(help="write a synthetic export here (.csv or .jsonl, made-up people), stop"),
    ] = None,
    sample_rows: Annotated[int, typer.Option(min=1, max=100_000)] = 20,
) -> None:
    """Pseudonymise a raw export into contract events (key: RISKMON_PSEUDONYM_KEY).

    The columns are in docs/ingest.md. A file in no single known encoding, without the
    columns, or of which no row converts fails with exit code 2.
    """
    from riskmon.ingest import IngestError
    from riskmon.ingest import ingest as run
    from schemas.pseudonyms import PseudonymError, Pseudonymiser, key_from_env

    if sample is not None:
        from riskmon.ingest_sample import write_sample

        try:
            rows = write_sample(sample, rows=sample_rows, encoding=encoding or "utf-8")
        except IngestError as exc:
            errors.print(f"error: {exc}", highlight=False)
            raise typer.Exit(2) from None
        console.print(
            f"wrote {rows:,} synthetic rows to {sample} (made-up people, never real ones); "
            f"`riskmon ingest {sample} --out events.jsonl` converts them",
            highlight=False,
        )
        return
    if raw is None or out is None:
        errors.print("error: give the export and --out (or --sample FILE for an example)")
        raise typer.Exit(2)
    settings = load_settings()
    secret = settings.pseudonym_key
    try:
        pseudonymiser = Pseudonymiser(
            key_from_env({"RISKMON_PSEUDONYM_KEY": secret.get_secret_value()} if secret else {})
        )
    except PseudonymError as exc:
        errors.print(f"error: {exc}", highlight=False)
        raise typer.Exit(2) from None
    try:
        summary = run(
            raw,
            out,
            pseudonymiser,
            rejects=rejects,
            encoding=encoding,
            window=settings.event_window,
        )
    except IngestError as exc:
        errors.print(f"error: {exc}", highlight=False)
        raise typer.Exit(2) from None
    console.print(
        f"read {summary.read:,} rows ({summary.encoding}), wrote {summary.written:,} events, "
        f"rejected {summary.rejected:,}",
        highlight=False,
    )
    if summary.ignored:
        console.print(f"ignored columns: {', '.join(summary.ignored)}", highlight=False)
    if summary.rejected:
        common = "; ".join(f"{r} ({n:,})" for r, n in list(summary.reasons.items())[:3])
        where = f"every one is in {rejects}" if rejects else "--rejects FILE lists every one"
        console.print(f"most common reasons: {common} ({where})", highlight=False)


KafkaOption = Annotated[
    str | None, typer.Option("--kafka", help="broker host:port (default: RISKMON_KAFKA)")
]


def _kafka(value: str | None) -> str:
    bootstrap = value or load_settings().kafka
    if not bootstrap:
        errors.print(
            "error: no broker: give --kafka HOST:PORT or set RISKMON_KAFKA "
            "(`riskmon broker` starts one)",
            highlight=False,
        )
        raise typer.Exit(2)
    return bootstrap


@app.command()
def broker(
    port: Annotated[
        int | None, typer.Option(help="port on 127.0.0.1 (default: a free one)")
    ] = None,
) -> None:
    """Run the embedded Kafka-compatible broker (tansu) in the foreground, topics created."""
    import signal
    import threading

    from streams.broker import BrokerError, EmbeddedBroker

    embedded = EmbeddedBroker(port)
    try:
        bootstrap = embedded.start()
    except BrokerError as exc:
        errors.print(f"error: {exc}", highlight=False)
        raise typer.Exit(1) from None
    print(f"kafka {bootstrap}", flush=True)  # the first line: scripts read the address here
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            if embedded.process is None or embedded.process.poll() is not None:
                errors.print(f"error: the broker stopped: {embedded.log_tail()}", highlight=False)
                raise typer.Exit(1)
    finally:
        embedded.stop()


@app.command()
def worker(
    kafka: KafkaOption = None,
    rules: RulesOption = None,
    watch_partitions: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="partitions of the behavioural stage (same on all workers)",
            show_default="StreamConfig.watch_partitions",
        ),
    ] = None,
    batch: Annotated[
        int | None,
        typer.Option(min=1, help="messages taken at once", show_default="StreamConfig.batch"),
    ] = None,
    loglevel: Annotated[str, typer.Option(help="faust log level")] = "warning",
    store: Annotated[
        bool, typer.Option(help="write decisions, alerts and ledgers to RISKMON_DATABASE_URL")
    ] = False,
    learning: Annotated[
        bool,
        typer.Option(
            "--learning/--no-learning",
            help="run the online models after the decide stage (anomaly, verdicts, drift, rings)",
        ),
    ] = True,
    checkpoint_every: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="paid orders between checkpoints of the models (and on stop)",
            show_default="StreamConfig.checkpoint_every",
        ),
    ] = None,
    api_port: Annotated[
        int,
        typer.Option(
            min=0,
            max=65535,
            help="serve POST /api/v1/authorize here (checkout authorizations; API tokens from "
            "RISKMON_DATABASE_URL); 0: none",
        ),
    ] = 0,
    api_host: Annotated[
        str, typer.Option(help="the host the other workers reach this worker's API at")
    ] = "127.0.0.1",
) -> None:
    """Run a streaming worker (Faust): several may run side by side and share the partitions."""
    from contextlib import ExitStack

    from detectors.learning import LearningConfig
    from streams import profiling
    from streams.config import StreamConfig
    from streams.runner import run_worker

    profiling.install()  # only with RISKMON_PROFILE_TO set (benchmarks/authorize.py --profile)
    settings = load_settings()
    if settings.gc_full_every_s > 0:
        tuning.for_latency()  # the worker's timer runs the passes: streams/collector.py
    # the options left out keep StreamConfig's defaults, written there once
    config = StreamConfig(
        broker=_kafka(kafka),
        max_bytes=settings.max_message_bytes,
        batch_bytes=settings.kafka_batch_bytes,
        fetch_wait=settings.kafka_fetch_wait_ms / 1000,
        full_collection_every=settings.gc_full_every_s,
        instance_id=settings.worker_id,
        future_tolerance=settings.future_tolerance_s,
        partition_idle=settings.partition_idle_s,
        api_port=api_port,
        api_host=api_host,
        api_deadline=settings.api_deadline_ms / 1000,
        checkout_hold=settings.checkout_hold_s,
    )
    config = replace(
        config,
        watch_partitions=config.watch_partitions if watch_partitions is None else watch_partitions,
        batch=config.batch if batch is None else batch,
        checkpoint_every=config.checkpoint_every if checkpoint_every is None else checkpoint_every,
    )
    programme = _rules(rules)
    with ExitStack() as stack:
        sink = None
        if store:
            from reports.observer import StoreObserver
            from reports.writer import StoreWriter
            from riskmon.store_cli import open_store

            engine = stack.enter_context(open_store(write=True))
            # written by the worker at the end of each batch, before its state is saved
            sink = StoreObserver(StoreWriter(engine), programme, autoflush=False)
        tokens = None
        if api_port:
            from riskmon.store_cli import open_store

            reader = stack.enter_context(open_store(write=False))
            tokens = _tokens(reader, settings.api_token_ttl_ms / 1000)
        run_worker(
            config,
            programme,
            loglevel=loglevel,
            metrics_port=settings.metrics_port,
            store=sink,
            learning=LearningConfig() if learning else None,
            tokens=tokens,
        )


def _tokens(engine: Any, ttl: float = 0.0) -> Any:
    """API tokens checked in the store, in a thread: a revoked one is refused within `ttl`
    seconds (0: at once; console/auth.py); the requests waiting share a query, and a token
    accepted is taken for `ttl` seconds without another (streams/api.py).

    One thread of its own and one connection kept open in it, in autocommit: each query is a
    transaction of its own (it sees every revocation committed before it began, and holds no
    lock or snapshot between queries), without a connection taken from the pool and reset for
    every check (65 -> 33 µs of CPU a query on SQLite; at 500 authorizations/s the checks
    in threads were a fifth of the worker's CPU). A connection that fails is dropped: the next
    check opens another.
    """
    from concurrent.futures import ThreadPoolExecutor
    from datetime import UTC, datetime

    from console.auth import token_user
    from streams.api import CoalescedTokens

    kept: list[Any] = []  # the connection, used by the one thread only

    def check(tokens: list[str]) -> dict[str, str | None]:
        now = datetime.now(UTC)
        if not kept:
            kept.append(engine.connect().execution_options(isolation_level="AUTOCOMMIT"))
        connection = kept[0]
        try:
            return {token: token_user(connection, token, now) for token in tokens}
        except Exception:
            kept.clear()
            with contextlib.suppress(Exception):
                connection.close()
            raise

    executor = ThreadPoolExecutor(1, thread_name_prefix="riskmon-tokens")
    return CoalescedTokens(check, executor, ttl=ttl)


@app.command()
def produce(
    file: Annotated[Path, typer.Argument(help="JSON Lines", exists=True, dir_okay=False)],
    topic: Annotated[str, typer.Option(help="orders, catalog, labels...")],
    kafka: KafkaOption = None,
) -> None:
    """Send a file's lines to a topic, keyed as the contract says."""
    from streams.clients import produce as send

    count = send(file, topic, _kafka(kafka), load_settings().kafka_batch_bytes)
    console.print(f"sent {count:,} messages to {topic}")


@app.command()
def tail(
    topic: Annotated[str, typer.Argument(help="topic to read")],
    out: Annotated[Path | None, typer.Option(help="write JSON Lines here, not stdout")] = None,
    until_idle: Annotated[
        float | None, typer.Option(help="stop after this many seconds without a message")
    ] = None,
    from_beginning: Annotated[bool, typer.Option(help="read from the oldest message")] = False,
    kafka: KafkaOption = None,
) -> None:
    """Print (or write) a topic's messages as JSON Lines."""
    from streams.clients import tail as read

    bootstrap = _kafka(kafka)
    if out is None:
        read(
            topic,
            bootstrap,
            out=sys.stdout.buffer,
            until_idle=until_idle,
            from_beginning=from_beginning,
        )
        return
    with out.open("wb") as handle:
        count = read(
            topic, bootstrap, out=handle, until_idle=until_idle, from_beginning=from_beginning
        )
    errors.print(f"wrote {count:,} messages to {out}", highlight=False)


@schema_app.command("export")
def schema_export(directory: Annotated[Path, typer.Argument(help="folder to write into")]) -> None:
    """Write the JSON Schema of each topic (orders.json, catalog.json, ...)."""
    from schemas.export import topic_schemas

    directory.mkdir(parents=True, exist_ok=True)
    for topic, schema in topic_schemas().items():
        path = directory / f"{topic}.json"
        path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        console.print(f"wrote {path}")


@rules_app.command("check")
def rules_check(
    path: Annotated[Path | None, typer.Argument(exists=True, dir_okay=False)] = None,
) -> None:
    """Validate a rules file; print its programmes and budget lines."""
    rules = _rules(path)
    console.print(f"[bold]{rules.version}[/bold]: {rules.title}")
    for name, programme in rules.programmes.items():
        console.print(
            f"  {name} ({programme.title}): {programme.start:%Y-%m-%d} .. "
            f"{programme.end:%Y-%m-%d}, budget {programme.budget:,} yuan"
        )
        for lname, line in programme.budget_lines.items():
            console.print(f"    {lname}: {line.budget:,} yuan, {', '.join(line.categories)}")


@rules_app.command("publish")
def rules_publish(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    effective: Annotated[
        str, typer.Option(help="RFC 3339 with an offset: from this event time on")
    ],
    kafka: KafkaOption = None,
    out: Annotated[
        Path | None, typer.Option(help="append the record to this file instead (for replay)")
    ] = None,
    author: Annotated[str | None, typer.Option(help="who publishes (default: cli:$USER)")] = None,
) -> None:
    """Validate a rules file and publish it as a new version, in force from `--effective`."""
    import getpass
    from datetime import UTC, datetime

    import orjson

    from schemas.decode import DecodeError, decode_publication
    from schemas.publications import publication

    text = path.read_text(encoding="utf-8")
    _rules(path)  # the file's own errors, with their lines
    record = publication(
        text,
        effective_from=effective,
        published_at=datetime.now(UTC).isoformat(),
        author=author or f"cli:{getpass.getuser()}",
    )
    raw = orjson.dumps(record)
    try:
        published = decode_publication(raw, 16 << 20)
    except DecodeError as exc:
        errors.print(f"error: {exc.reason}: {exc.message}")
        raise typer.Exit(2) from None
    if out is not None:
        with out.open("ab") as handle:
            handle.write(raw + b"\n")
        console.print(f"rules {published.version} in force from {effective}: appended to {out}")
        return
    from streams.clients import send

    send("rules", [raw], _kafka(kafka))
    console.print(f"rules {published.version} published, in force from {effective}")


@app.command()
def demo(
    duration: Annotated[
        float | None, typer.Option(help="stop after this many seconds (default: Ctrl-C)")
    ] = None,
    rate: Annotated[float, typer.Option(min=1, help="events per second offered")] = 300.0,
    days: Annotated[int, typer.Option(min=1, max=30, help="simulated days per chunk")] = 2,
    seed: Annotated[int, typer.Option()] = 7,
    out: Annotated[Path, typer.Option(help="working folder")] = Path("var/demo"),
    kafka: KafkaOption = None,
) -> None:
    """Live: a broker, a worker and simulated traffic with every pattern; alerts as they come."""
    from riskmon.live import run_demo

    screen = run_demo(
        out,
        seed=seed,
        days=days,
        rate=rate,
        duration=duration,
        bootstrap=kafka or load_settings().kafka,
        console=console,
    )
    first = "none" if screen.first_alert is None else f"{screen.first_alert:.1f} s after the start"
    console.print(
        f"sent {screen.feed.sent:,} events; decided {sum(screen.decisions.values()):,} orders; "
        f"{sum(screen.alerts.values()):,} alerts (first: {first}); files in {out}/"
    )


@app.command()
def backtest(
    days: Annotated[int, typer.Option(min=1, max=30)] = 1,
    seed: Annotated[int, typer.Option()] = 7,
    out: Annotated[Path, typer.Option(help="working folder")] = Path("var/backtest"),
) -> None:
    """Simulate traffic with every pattern, replay it in-process and score the alerts."""
    from replay import Replay
    from replay.summary import summary_tables
    from simulation.evaluate import evaluate as score
    from simulation.evaluate import format_evaluation
    from simulation.generator import generate

    settings = load_settings()
    rules = _rules(None)  # RISKMON_RULES or the shipped rules, for both steps
    out.mkdir(parents=True, exist_ok=True)
    console.rule("1. simulate")
    console.print(str(generate(seed, days, out, bad_lines=5, rules_path=settings.rules)))
    console.rule("2. replay")
    engine = Replay(rules, max_bytes=settings.max_message_bytes, window=settings.event_window)
    stats = _run_with_progress(
        engine,
        out / "events.jsonl",
        out / "catalog.jsonl",
        out / "alerts.jsonl",
        out / "decisions.jsonl",
        out / "dead-letter.jsonl",
    )
    console.print(summary_tables(stats, "en"))  # beside the evaluation, in English as it is
    console.rule("3. evaluate against the ground truth")
    console.print(
        format_evaluation(score(out / "truth.jsonl", out / "alerts.jsonl", out / "decisions.jsonl"))
    )
    console.print(f"files in {out}/")


# after the commands above, so that `riskmon --help` lists them first
store_cli.register(app)
console_cli.register(app)
bureau_cli.register(app)
retention_cli.register(app)
fund_cli.register(app)
controls_cli.register(app)


def main() -> None:
    tuning.for_throughput()
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
