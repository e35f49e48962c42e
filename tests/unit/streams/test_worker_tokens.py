"""The worker's token checks (`riskmon worker --api-port`): one connection kept open in a
thread of its own, in autocommit, so a token revoked by another process is refused from the
next check on, and the store is not held locked between checks."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from console.auth import add_token, revoke_token
from reports import migrate
from reports.db import open_engine
from riskmon.cli import _tokens


def test_a_token_revoked_by_another_process_is_refused_at_the_next_check(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = open_engine(url)
    migrate.upgrade(engine)
    with engine.begin() as connection:
        token = add_token(connection, "platform")
        other = add_token(connection, "other")
    tokens = _tokens(engine)

    async def check(asked: str) -> str | None:
        result: str | None = await tokens(asked)
        return result

    assert asyncio.run(check(token)) == "platform"
    writer = open_engine(url)  # the command line, meanwhile: a write while the worker runs
    with writer.begin() as connection:
        revoke_token(connection, token, datetime.now(UTC))
        add_token(connection, "later")
    writer.dispose()
    assert asyncio.run(check(token)) is None
    assert asyncio.run(check(other)) == "other"
    assert asyncio.run(check("rmk_nope_nope")) is None
    tokens.executor.shutdown()
    engine.dispose()
