"""`riskmon console` in a process of its own, for the browser test and the load benchmark.

A process rather than a thread: what is measured or driven is the command as an operator runs
it (its own interpreter, event loop and collector), and stopping it is a signal, not a hook
into uvicorn.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path


class ConsoleDidNotStart(RuntimeError):
    """The console exited, or did not answer in time; the message ends with its log."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/login")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


@contextmanager
def served(
    args: Sequence[str] = (),
    *,
    env: Mapping[str, str] | None = None,
    log: Path,
    timeout: float = 60.0,
) -> Iterator[str]:
    """Start `riskmon console --port P ARGS` on a free loopback port, with `env` over this
    process's environment and its output in `log`; yield its URL once `/login` answers; stop it
    (SIGTERM, then SIGKILL after 15 s) at the end.

    Raises `ConsoleDidNotStart` when it exits first or has not answered within `timeout` s.
    """
    port = _free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own command line
            [sys.executable, "-m", "riskmon", "console", "--port", str(port), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
        try:
            deadline = time.monotonic() + timeout
            while not _answers(port):
                if process.poll() is not None:
                    raise ConsoleDidNotStart(
                        f"the console exited ({process.returncode}) before answering:\n"
                        + log.read_text(errors="replace")
                    )
                if time.monotonic() >= deadline:
                    raise ConsoleDidNotStart(
                        f"the console did not answer within {timeout:g} s:\n"
                        + log.read_text(errors="replace")
                    )
                time.sleep(0.2)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
