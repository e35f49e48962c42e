"""Schema migrations (Alembic, shipped inside the package so an installed riskmon migrates).

Commands that write the store upgrade it to the newest revision themselves; commands that only
read it refuse a store that is not at that revision, naming `riskmon db upgrade`.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from reports.db import StoreError, describe


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "reports:migrations")
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision this riskmon knows."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None  # the package ships at least one revision
    return revision


def current(engine: Engine) -> str | None:
    """The store's revision (None: no riskmon schema there yet)."""
    with engine.connect() as connection:
        return current_on(connection)


def current_on(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Migrate the store to `revision`; returns the revision it is at afterwards."""
    known = current(engine)
    if known is not None and not _is_known(known):
        raise StoreError(
            f"the store {describe(engine.url)} is at schema revision {known}, which this "
            "riskmon does not know (a newer riskmon wrote it): upgrade riskmon"
        )
    with engine.begin() as connection:
        command.upgrade(_config(connection), revision)
    done = current(engine)
    assert done is not None
    return done


def require_current(engine: Engine) -> None:
    """Refuse a store whose schema is missing or behind, in words a user can act on."""
    found = current(engine)
    wanted = head()
    if found == wanted:
        return
    where = describe(engine.url)
    if found is None:
        raise StoreError(
            f"the store {where} has no riskmon tables yet: fill it with "
            "`riskmon replay --store ...` or create them with `riskmon db upgrade`"
        )
    if not _is_known(found):
        raise StoreError(
            f"the store {where} is at schema revision {found}, newer than this riskmon "
            f"({wanted}): upgrade riskmon"
        )
    raise StoreError(
        f"the store {where} is at schema revision {found}, this riskmon needs {wanted}: "
        "run `riskmon db upgrade`"
    )


def _is_known(revision: str) -> bool:
    script = ScriptDirectory.from_config(_config())
    return any(r.revision == revision for r in script.walk_revisions())
