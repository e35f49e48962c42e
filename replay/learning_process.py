"""The replay's learning stage in a process of its own, pipelined beside the decide half.

The learning stage costs about as much CPU as the rest of a replay (benchmarks/learning.py);
with two cores it can run beside it. The child is forked once the catalog is loaded, so it
inherits the `LearningRun` (its learner, the verdicts read, the scores file opened) and the
same hash seed: the same iteration orders, the same scores and alerts as in one process.

What crosses the pipe is small: per decided event, its raw line and the few things the decide
half computed that the models read (`Decided`, the allowed entities, its time, the account's
age, its partition time); the child decodes the line again, without the screening the parent
ran already (cheaper than unpickling the event, and nothing more for the parent to do). Items
go in batches; at most `in_flight` batches are unanswered at a time (the parent waits: bounded
memory). Each answer holds, per item, its alerts or the name of the exception the learner
raised (the parent turns it into the same dead letter as in one process), and the learner's
figures when asked.

The parent keeps the alerts and dead letters in serial order: what comes after an event whose
learning has not answered yet waits behind it (`Pending`, replay/engine.py).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import queue
import threading
import traceback
from collections import deque
from multiprocessing.connection import Connection, wait
from typing import Any

from detectors.alerts import Alert
from detectors.watch import Watch
from replay.learning import LearningRun
from schemas.orders import ORDER_ADAPTER
from schemas.screening import SCREENED

log = logging.getLogger("riskmon.replay")

BATCH = 256  # items per message
IN_FLIGHT = 4  # batches sent and not answered yet, at most


def available() -> bool:
    """Whether the learning stage can run in a process of its own here (it needs fork)."""
    return "fork" in multiprocessing.get_all_start_methods()


def worth_it() -> bool:
    """Whether a replay runs its learning stage apart by default: with a second core for it
    (on one, the two processes would take turns, and the pipe costs on top)."""
    return (os.cpu_count() or 1) >= 2


class LearningProcessDied(RuntimeError):
    """The learning process ended before the replay did: the replay cannot go on."""


class Pending:
    """One event's learning, sent to the child: its alerts, or the exception's type name."""

    __slots__ = ("raw", "alerts", "error", "done")

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.alerts: list[Alert] = []
        self.error: str | None = None
        self.done = False


class LearningProcess:
    """The parent's side: `learn` per event (a `Pending`), `finish` at the end (the figures)."""

    def __init__(
        self, run: LearningRun, batch: int | None = None, in_flight: int | None = None
    ) -> None:
        self.run = run
        self.batch = batch or BATCH
        self.in_flight = in_flight or IN_FLIGHT
        self._items: list[tuple[Any, ...]] = []
        self._pending: list[Pending] = []  # of the batch being filled
        self._sent: deque[list[Pending]] = deque()  # batches waiting for their answer
        self._ask = False  # ask for the figures with the next batch
        self._figures = run.figures()
        self.fresh = False  # answers arrived since the caller last looked
        self._process: multiprocessing.process.BaseProcess | None = None
        self._tasks: Connection | None = None
        self._results: Connection | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        context = multiprocessing.get_context("fork")
        tasks_in, tasks_out = context.Pipe(duplex=False)
        results_in, results_out = context.Pipe(duplex=False)
        process = context.Process(
            target=_child,
            args=(self.run, tasks_in, results_out, (tasks_out, results_in)),
            name="riskmon-learning",
            daemon=True,
        )
        process.start()
        tasks_in.close()  # the child's ends: the parent sees EOF when the child goes
        results_out.close()
        self._process, self._tasks, self._results = process, tasks_out, results_in
        self.run.detach()  # the child writes the scores file

    def learn(self, ticket: Watch, at: float) -> Pending:
        pending = Pending(ticket.raw)
        self._items.append(
            (ticket.raw, ticket.decided, ticket.allowed, ticket.ts, ticket.account_age, at)
        )
        self._pending.append(pending)
        if len(self._items) >= self.batch:
            self._send()
        return pending

    def ask_figures(self) -> None:
        """Have the child send its figures with the next batch's answer."""
        self._ask = True

    def figures(self) -> dict[str, float]:
        """The latest figures the child sent (the learner's before it started, at first)."""
        return self._figures

    def collect(self) -> None:
        """Take the answers that have arrived, without waiting."""
        assert self._results is not None
        while self._sent and self._results.poll():
            self._receive()

    def finish(self) -> dict[str, float]:
        """Send what is left, wait for every answer and the child's end: its final figures."""
        if self._items:
            self._send()
        while self._sent:
            self._receive()
        self._put(("finish",))
        message = self._get()
        assert message[0] == "finished", message[0]
        self._figures = message[1]
        assert self._process is not None
        self._process.join()
        self.close()
        return self._figures

    def close(self) -> None:
        """Stop the child (if it still runs) and let go of the pipes."""
        process = self._process
        if process is not None and process.is_alive():
            process.terminate()
        if process is not None:
            process.join()
        for connection in (self._tasks, self._results):
            if connection is not None:
                connection.close()
        self._tasks = self._results = None

    def _send(self) -> None:
        self.collect()
        while len(self._sent) >= self.in_flight:
            self._receive()
        self._put(("batch", self._items, self._ask))
        self._sent.append(self._pending)
        self._items, self._pending, self._ask = [], [], False

    def _receive(self) -> None:
        message = self._get()
        assert message[0] == "results", message[0]
        _, results, figures = message
        for pending, result in zip(self._sent.popleft(), results, strict=True):
            if isinstance(result, str):
                pending.error = result
            elif result:
                pending.alerts = result
            pending.done = True
        if figures is not None:
            self._figures = figures
        self.fresh = True

    def _put(self, message: tuple[Any, ...]) -> None:
        assert self._tasks is not None
        try:
            self._tasks.send_bytes(pickle.dumps(message, pickle.HIGHEST_PROTOCOL))
        except OSError:  # a broken pipe: the child is gone
            raise self._died() from None

    def _get(self) -> tuple[Any, ...]:
        assert self._results is not None and self._process is not None
        results = self._results
        if not results.poll():
            wait([results, self._process.sentinel])
        try:
            data = results.recv_bytes()
        except (EOFError, OSError):
            raise self._died() from None
        message: tuple[Any, ...] = pickle.loads(data)  # noqa: S301 (our own child, a private pipe)
        if message[0] == "crashed":
            raise LearningProcessDied(f"the learning process failed: {message[1]}")
        return message

    def _died(self) -> LearningProcessDied:
        process = self._process
        assert process is not None
        process.join(5)
        return LearningProcessDied(
            f"the learning process (pid {process.pid}) ended before the replay did "
            f"(exit code {process.exitcode})"
        )


def _child(
    run: LearningRun,
    tasks: Connection,
    results: Connection,
    parents: tuple[Connection, Connection],
) -> None:
    """The child's loop: batches of decided events through the learner, in order."""
    for connection in parents:  # the parent's ends: EOF here when the parent goes
        connection.close()
    inbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()

    def read() -> None:  # always reading: the parent never waits on a full pipe while we send
        try:
            while True:
                inbox.put(tasks.recv_bytes())
        except (EOFError, OSError):
            inbox.put(None)

    threading.Thread(target=read, name="riskmon-learning-reader", daemon=True).start()
    validate = ORDER_ADAPTER.validate_json
    screened = {SCREENED: True}  # the parent accepted these lines: no second screening
    learn = run.learn
    try:
        while True:
            data = inbox.get()
            if data is None:  # the parent is gone
                os._exit(1)
            message = pickle.loads(data)  # noqa: S301 (our own parent, a private pipe)
            if message[0] == "finish":
                final = run.finish()
                results.send_bytes(pickle.dumps(("finished", final), pickle.HIGHEST_PROTOCOL))
                return
            _, items, ask = message
            out: list[list[Alert] | str | None] = []
            for raw, decided, allowed, ts, account_age, at in items:
                try:
                    event = validate(raw, context=screened)
                    ticket = Watch(
                        event,
                        raw=raw,
                        decided=decided,
                        allowed=allowed,
                        ts=ts,
                        account_age=account_age,
                    )
                    out.append(learn(ticket, at) or None)
                except Exception as exc:  # as in one process: its type, not its data
                    out.append(type(exc).__name__)
            now = run.figures() if ask else None
            results.send_bytes(pickle.dumps(("results", out, now), pickle.HIGHEST_PROTOCOL))
    except BaseException:
        text = traceback.format_exc(limit=5).strip().splitlines()[-1]
        try:
            results.send_bytes(pickle.dumps(("crashed", text), pickle.HIGHEST_PROTOCOL))
        finally:
            os._exit(1)
