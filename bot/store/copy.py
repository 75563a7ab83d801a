"""Copy a whole Paperboy database into an empty one (`paperboy migrate-db`): SQLite to
PostgreSQL, typically. Every table, in batches, in one target transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from bot.errors import StoreError
from bot.store import schema
from bot.store.migrations import LATEST, current_version, migrate

BATCH = 1000
# Tables not copied: the target's own schema version, and the leases of ingests running
# against the source (a copy is made with nothing running).
TRANSIENT = frozenset({"schema_version", "ingests"})
# Every other table of the schema, in dependency order: a table added to bot.store.schema is
# copied without being listed here.
TABLES: tuple[Table, ...] = tuple(
    t for t in schema.metadata.sorted_tables if t.name not in TRANSIENT
)
Progress = Callable[[str, int], None]
"""Called with (table, rows copied so far) after each batch."""


class TargetNotEmptyError(StoreError):
    """The target database already holds data: nothing was copied."""


@dataclass(slots=True)
class CopyReport:
    """Rows copied per table; `upgraded_from` is the source's schema version when the copy
    upgraded it first (None when it was current)."""

    rows: dict[str, int] = field(default_factory=dict)
    upgraded_from: int | None = None


def _counts(conn: Connection) -> dict[str, int]:
    return {
        t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one()) for t in TABLES
    }


def _batches(conn: Connection, table: Table, size: int) -> Any:
    """The table's rows in primary-key order, `size` at a time (keyset pagination)."""
    (key,) = table.primary_key.columns
    last: Any = None
    while True:
        query = select(table).order_by(key).limit(size)
        if last is not None:
            query = query.where(key > last)
        rows = [dict(r._mapping) for r in conn.execute(query)]
        if not rows:
            return
        yield rows
        last = rows[-1][key.name]


def _reset_sequences(conn: Connection) -> None:
    """PostgreSQL: the id sequences continue after the copied ids."""
    if conn.dialect.name != "postgresql":
        return
    for table in TABLES:
        if "id" in table.c and table.c.id.autoincrement is True:
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                    f"coalesce(max(id), 1), max(id) IS NOT NULL) FROM {table.name}"
                )
            )


def copy_database(
    source: Engine, target: Engine, *, batch: int = BATCH, progress: Progress | None = None
) -> CopyReport:
    """Copy every table of `source` into `target`, whose schema is created (or checked) first.

    The source is upgraded to the current schema version first when it is older (as any
    Paperboy command would) and read in one transaction: a consistent snapshot even while a
    service writes to it. The target is written in one transaction: an interrupted copy
    leaves it empty, and it can simply be run again.

    Raises TargetNotEmptyError (copying nothing) when the target already has papers,
    channels, ledger rows, digest runs or source state; StoreError on any other failure.
    """
    report = CopyReport()
    try:
        before = migrate(source)
        if 0 < before < LATEST:
            report.upgraded_from = before
        migrate(target)
        with source.connect() as src, target.begin() as dst:
            if dst.dialect.name == "postgresql":  # no other writer while we fill it
                for table in TABLES:
                    dst.execute(text(f"LOCK TABLE {table.name} IN EXCLUSIVE MODE"))
            held = {name: n for name, n in _counts(dst).items() if n}
            if held:
                found = ", ".join(f"{n} {name}" for name, n in held.items())
                raise TargetNotEmptyError(
                    f"the target database already has data ({found}); migrate-db copies only "
                    "into an empty database: use a new database, or empty this one first"
                )
            with src.begin():
                if src.dialect.name == "sqlite":  # pysqlite defers BEGIN: one snapshot
                    src.exec_driver_sql("BEGIN")
                if current_version(src) != LATEST:
                    raise StoreError("the source database changed its schema during the copy")
                for table in TABLES:
                    copied = 0
                    for rows in _batches(src, table, batch):
                        dst.execute(table.insert(), rows)
                        copied += len(rows)
                        if progress is not None:
                            progress(table.name, copied)
                    report.rows[table.name] = copied
                _reset_sequences(dst)
                if _counts(dst) != report.rows:
                    raise StoreError("the copy is incomplete: row counts differ; nothing kept")
    except SQLAlchemyError as e:
        raise StoreError(f"copy failed: {e.__class__.__name__}: {e}") from e
    return report
