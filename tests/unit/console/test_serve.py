"""`console.serve.served`: the console command in a process of its own, waited for, stopped."""

from __future__ import annotations

import http.client
from pathlib import Path

import pytest

from console.serve import ConsoleDidNotStart, served


def test_serves_until_the_block_ends_then_stops(tmp_path: Path) -> None:
    store = {"RISKMON_DATABASE_URL": f"sqlite:///{tmp_path}/store.db"}
    with served(env=store, log=tmp_path / "console.log") as url:
        host, port = url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=5)
        connection.request("GET", "/login")
        assert connection.getresponse().status == 200
        connection.close()
    with pytest.raises(OSError):
        http.client.HTTPConnection(host, int(port), timeout=2).request("GET", "/login")


def test_a_console_that_exits_first_is_reported_with_its_log(tmp_path: Path) -> None:
    with pytest.raises(ConsoleDidNotStart, match=r"exited \(2\)[\s\S]*no-such-flag"):
        with served(["--no-such-flag"], log=tmp_path / "console.log"):
            pass  # pragma: no cover
