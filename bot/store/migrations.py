"""Schema migrations with Alembic: a new database is created at the latest revision, an older
one is upgraded revision by revision, a newer one is refused.

The history is bot/store/alembic/versions/: revision "000N" is schema version N. Databases
of the hand-rolled runner that came before (versions 1..8, recorded in `schema_version`,
with no `alembic_version` table) are adopted: stamped at the revision matching their version
(`adopted_revision`), then upgraded like any other. `schema_version` is still written, one
row per version reached, so that a Paperboy from before Alembic refuses a newer database.

Revisions run on a connection this module passes to Alembic (bot/store/alembic/env.py), in a
transaction holding the migration lock: no alembic.ini is read, nothing is configured
globally.

A schema change is a new revision: versions/000N_<what>.py (script.py.mako is its
template) with `revision = "000N"` and `down_revision` the one before, written by hand and
forward only (no downgrades, as before Alembic); bot/store/schema.py changed to match.
tests/store/test_migrations_upgrade.py fails while the two disagree, and checks every older
version upgrades to the shape of a new database.
"""

from __future__ import annotations

import functools
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, func, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from bot.errors import StoreError
from bot.store import schema

if TYPE_CHECKING:
    from alembic.config import Config

SCRIPTS = Path(__file__).with_name("alembic")
# Alembic's `op` and `context` are module globals while revisions run: one run at a time per
# process (databases migrated from several threads at once would use each other's).
_ALEMBIC = threading.Lock()
# Serializes migrations of processes that start together on one PostgreSQL database
# (a transaction-scoped advisory lock; SQLite takes its write lock with BEGIN IMMEDIATE).
MIGRATION_LOCK = 0x70617065  # "pape"


def revision_of(version: int) -> str:
    """The Alembic revision of schema version `version`."""
    return f"{version:04d}"


# The newest revision in alembic/versions (tests/store/test_migrations_upgrade.py checks it).
# A constant, so that opening a current database neither imports Alembic nor reads scripts.
LATEST = 13


@functools.cache
def descriptions() -> dict[int, str]:
    """Schema version -> its description (the first line of its revision's docstring)."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(str(SCRIPTS))
    return {int(s.revision): s.doc for s in scripts.walk_revisions()}


def adopted_revision(version: int, dialect: str) -> str:
    """The revision a database of the hand-rolled runner at `version` is stamped at.

    Its version's own revision, except on PostgreSQL at version 4: that version's step was
    SQLite-only (version 5 redid it on PostgreSQL), so such a database is at 0003 and runs
    0004 on its upgrade."""
    if dialect == "postgresql" and version == 4:
        return revision_of(3)
    return revision_of(version)


def _recorded(conn: Connection) -> tuple[str | None, int | None]:
    """The database's Alembic revision and the hand-rolled runner's latest recorded version
    (each None when absent)."""
    found = inspect(conn)
    revision = recorded = None
    if found.has_table("alembic_version"):
        revision = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    if found.has_table("schema_version"):
        recorded = conn.execute(select(func.max(schema.schema_version.c.version))).scalar()
    return revision, recorded


def _version(revision: str | None, recorded: int | None) -> int | None:
    if revision is not None and not revision.isdigit():
        raise StoreError(
            f"the database is at schema revision {revision!r}, which this Paperboy does not "
            "know; upgrade Paperboy"
        )
    versions = [int(v) for v in (revision, recorded) if v is not None]
    return max(versions) if versions else None


def current_version(conn: Connection) -> int | None:
    """The schema version of the database, or None for an empty database: its Alembic
    revision's number, or the version the hand-rolled runner recorded (the higher when a
    newer Paperboy recorded one).

    Raises StoreError for an Alembic revision that is not one of Paperboy's numbers."""
    return _version(*_recorded(conn))


def _lock(conn: Connection) -> None:
    """Hold the migration lock until the transaction ends; the first statement of it.

    SQLite needs it too: pysqlite runs DDL outside any transaction, so two processes that
    found no schema would both create it ("table … already exists"). BEGIN IMMEDIATE takes
    the write lock before the version is read; the other process waits (busy timeout)."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK)))
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _config(conn: Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.attributes["connection"] = conn
    return config


def _record(conn: Connection, version: int, description: str) -> None:
    """The hand-rolled runner's record of `version` (once)."""
    table = schema.schema_version
    if conn.execute(select(table.c.version).where(table.c.version == version)).first():
        return
    conn.execute(
        table.insert().values(
            version=version, description=description, applied_at=datetime.now(UTC)
        )
    )


def _upgrade_to(conn: Connection, version: int) -> None:
    """Upgrade to `version` within the caller's transaction, adopting a database of the
    hand-rolled runner first."""
    from alembic import command

    config = _config(conn)
    revision, recorded = _recorded(conn)
    with _ALEMBIC:
        if revision is None and recorded is not None:
            command.stamp(config, adopted_revision(recorded, conn.dialect.name))
        command.upgrade(config, revision_of(version))


def migrate(engine: Engine, *, upgrade: bool = True) -> int:
    """Bring the database to `LATEST` and return the version it was at before (0 if new).

    With `upgrade=False` (read-only commands) an existing database is never written: one
    at an older version is refused with a StoreError saying how to upgrade it (a new, empty
    database is still created).

    A new database is created in one transaction (every revision); an older one is upgraded
    one revision per transaction. Each holds the migration lock, and a revision another
    process applied meanwhile is skipped: processes starting together all succeed.

    Raises StoreError when the database was written by a newer Paperboy, or a revision fails
    (its transaction is rolled back; earlier revisions stay applied).
    """
    try:
        with engine.connect() as conn:  # no lock when there is nothing to do (read-only use)
            revision, recorded = _recorded(conn)
            before, adopted = _version(revision, recorded), revision is not None
        if before is None:
            with engine.begin() as conn:
                _lock(conn)
                before = current_version(conn)  # another process may have created it
                if before is None:
                    _upgrade_to(conn, LATEST)
                    _record(conn, LATEST, f"created at version {LATEST}")
                    return 0
        if before > LATEST:
            raise StoreError(
                f"the database is at schema version {before}, newer than this Paperboy "
                f"({LATEST}); upgrade Paperboy"
            )
        if before < LATEST and not upgrade:
            raise StoreError(
                f"the database is at schema version {before} and needs an upgrade to "
                f"{LATEST}, which this read-only command does not make; run a command that "
                "writes first (e.g. `paperboy ingest`), which upgrades it"
            )
        if before == LATEST and not adopted and upgrade:
            with engine.begin() as conn:  # the hand-rolled runner's latest: stamped only
                _lock(conn)
                if _recorded(conn)[0] is None:
                    _upgrade_to(conn, LATEST)
        for version in range(before + 1, LATEST + 1):
            with engine.begin() as conn:
                _lock(conn)
                done = current_version(conn)
                if done is not None and done >= version:
                    continue  # another process applied it meanwhile
                _upgrade_to(conn, version)
                _record(conn, version, descriptions()[version])
        return before
    except SQLAlchemyError as e:
        raise StoreError(f"database migration failed: {e.__class__.__name__}: {e}") from e
