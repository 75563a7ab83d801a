"""Alembic's environment for Paperboy's revisions: runs them on the connection that
bot.store.migrations passes in `config.attributes["connection"]`, inside the transaction
(and under the migration lock) it already holds. No alembic.ini, no URL of its own.

Batch mode (`render_as_batch`) is on for SQLite, whose ALTER TABLE cannot change a column:
a revision that alters a table writes `with op.batch_alter_table(...)`, which SQLite runs
by copying the table and PostgreSQL as plain ALTERs.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError(
        "Paperboy's migrations run through bot.store.migrations.migrate(engine), which "
        "passes a connection; there is no offline (--sql) mode"
    )
context.configure(
    connection=connection,
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=False,
)
with context.begin_transaction():  # a no-op: migrate() owns the transaction
    context.run_migrations()
