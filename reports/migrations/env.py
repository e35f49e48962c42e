"""Alembic's entry point: migrates the connection `reports.migrate` hands it.

`riskmon db upgrade` (and every command that writes the store) runs this; a new revision is
written by hand in `versions/`, and `tests/unit/reports/test_store_schema.py` checks that the
migrated schema equals `reports.tables`.
"""

from __future__ import annotations

from alembic import context

from reports.tables import metadata

# pytest imports every module for its doctests; alembic sets `context.config` only when it runs
# this file to migrate.
if hasattr(context, "config"):
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copying
    )
    with context.begin_transaction():
        context.run_migrations()
