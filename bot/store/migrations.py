"""Versioned schema migrations: a new database is created at the latest version, an older
one is upgraded step by step, a newer one is refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    cast,
    func,
    inspect,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import SQLAlchemyError

from bot.errors import StoreError
from bot.store import pg_search, schema

Step = Callable[[Connection], None]

_SQLITE_FTS = [
    """CREATE VIRTUAL TABLE IF NOT EXISTS papers_fts USING fts5(
        title, abstract, authors, content='papers', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER IF NOT EXISTS papers_fts_ai AFTER INSERT ON papers BEGIN
        INSERT INTO papers_fts(rowid, title, abstract, authors)
        VALUES (new.id, new.title, new.abstract, new.authors); END""",
    """CREATE TRIGGER IF NOT EXISTS papers_fts_ad AFTER DELETE ON papers BEGIN
        INSERT INTO papers_fts(papers_fts, rowid, title, abstract, authors)
        VALUES ('delete', old.id, old.title, old.abstract, old.authors); END""",
    """CREATE TRIGGER IF NOT EXISTS papers_fts_au AFTER UPDATE OF title, abstract, authors
        ON papers BEGIN
        INSERT INTO papers_fts(papers_fts, rowid, title, abstract, authors)
        VALUES ('delete', old.id, old.title, old.abstract, old.authors);
        INSERT INTO papers_fts(rowid, title, abstract, authors)
        VALUES (new.id, new.title, new.abstract, new.authors); END""",
]


def _sqlite_search_index(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        for ddl in _SQLITE_FTS:
            conn.exec_driver_sql(ddl)


def _pg_search_index(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        for ddl in pg_search.index_ddl():
            conn.exec_driver_sql(ddl)


def _create_search_index(conn: Connection) -> None:
    """The archive's full-text index, per dialect: FTS5 kept by triggers on SQLite, a
    generated weighted tsvector with a GIN index on PostgreSQL (bot/store/pg_search.py)."""
    _sqlite_search_index(conn)
    _pg_search_index(conn)


def _create_latest(conn: Connection) -> None:
    schema.metadata.create_all(conn)
    _create_search_index(conn)


def _create_v1(conn: Connection) -> None:
    """v1: the paper archive with its full-text index (SQLite's: PostgreSQL got one in v5),
    and source state, frozen as version 1 defined it."""
    schema.metadata.create_all(conn, tables=[schema.schema_version, schema.papers])
    frozen = MetaData()
    Table(
        "source_state",
        frozen,
        Column("name", String(64), primary_key=True),
        Column("location", Text),
        Column("etag", Text),
        Column("last_modified", Text),
        Column("last_attempt", schema.UTCDateTime),
        Column("last_success", schema.UTCDateTime),
        Column("last_result", Text),
        Column("last_error", Text),
        Column("consecutive_failures", Integer, nullable=False, default=0),
    )
    frozen.create_all(conn)
    _sqlite_search_index(conn)


def _add_channels(conn: Connection) -> None:
    """v2: channel interest profiles. The table is frozen here as version 2 defined it
    (later versions alter it in their own steps), so it does not follow schema.py."""
    frozen = MetaData()
    Table(
        "channels",
        frozen,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("platform", String(32), nullable=False),
        Column("channel_id", String(128), nullable=False),
        Column("name", Text),
        Column("topics", JSON, nullable=False),
        Column("exclude", JSON, nullable=False),
        Column("authors", JSON, nullable=False),
        Column("max_posts", Integer, nullable=False),
        Column("schedule", Text, nullable=False),
        Column("timezone", String(64), nullable=False),
        Column("lookback_seconds", Integer, nullable=False),
        Column("post_empty", Boolean, nullable=False),
        Column("seeded", JSON),
        Column("created_at", schema.UTCDateTime, nullable=False),
        Column("updated_at", schema.UTCDateTime, nullable=False),
        UniqueConstraint("platform", "channel_id", name="uq_channels_platform_channel_id"),
    )
    frozen.create_all(conn)


def _add_ledger(conn: Connection) -> None:
    """v3: the posted ledger and digest runs (with scheduled-run claims), frozen as
    version 3 defined them."""
    frozen = MetaData()
    Table(
        "posted",
        frozen,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("channel", String(200), nullable=False),
        Column("paper_key", String(512), nullable=False),
        Column("status", String(16), nullable=False),
        Column("lease_until", schema.UTCDateTime),
        Column("posted_at", schema.UTCDateTime),
        Column("message_ref", Text),
        UniqueConstraint("channel", "paper_key", name="uq_posted_channel_paper"),
    )
    Table(
        "digest_runs",
        frozen,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("channel", String(200), nullable=False),
        Column("scheduled_for", schema.UTCDateTime),
        Column("started_at", schema.UTCDateTime, nullable=False),
        Column("finished_at", schema.UTCDateTime),
        Column("window_start", schema.UTCDateTime),
        Column("window_end", schema.UTCDateTime),
        Column("status", String(16), nullable=False),
        Column("posted", Integer, nullable=False),
        Column("error", Text),
        UniqueConstraint("channel", "scheduled_for", name="uq_digest_runs_claim"),
    )
    frozen.create_all(conn)


def _unescape_json_text(conn: Connection) -> None:
    """v4: JSON columns of papers rewritten without \\u escapes (the full-text index of
    authors then matches accented names); the update trigger reindexes each row.
    SQLite only: the search index is SQLite's."""
    if conn.dialect.name != "sqlite":
        return
    rows = conn.exec_driver_sql(
        "SELECT id, authors FROM papers WHERE authors LIKE '%\\u%' ESCAPE '!'"
    ).all()
    for rid, authors in rows:
        text = authors if isinstance(authors, str) else json.dumps(authors)
        conn.execute(
            schema.papers.update().where(schema.papers.c.id == rid),
            {"authors": json.loads(text)},
        )


def _pg_search_and_fetch_leases(conn: Connection) -> None:
    """v5: PostgreSQL's full-text index (SQLite has had FTS5 since v1), and a fetch lease per
    source, with which replicas sharing a database fetch each source once per interval."""
    lease = schema.source_state.c.lease_until.type.compile(dialect=conn.dialect)
    conn.exec_driver_sql(f"ALTER TABLE source_state ADD COLUMN lease_until {lease}")
    if conn.dialect.name == "postgresql":
        # v4's rewrite, which skipped PostgreSQL: indexed authors must read "Zoë", not
        # "Zo\u00eb" (jsonb's text form has no escapes).
        authors = schema.papers.c.authors
        conn.execute(
            update(schema.papers)
            .where(cast(authors, Text).like("%\\u%", escape="!"))
            .values(authors=cast(cast(authors, JSONB), JSON))
        )
    _pg_search_index(conn)


def _index_posted_papers(conn: Connection) -> None:
    """v6: the ledger indexed by paper, for a digest cycle's one read of every channel's
    posts of its window's papers (and re-keying, which updates by paper)."""
    for index in schema.posted.indexes:
        if index.name == "ix_posted_paper_key":
            index.create(conn, checkfirst=True)


def _add_ingests(conn: Connection) -> None:
    """v7: archive writes in progress (bot/store/ingests.py), frozen as version 7 defined
    the table: digest windows end before papers stamped but not yet committed."""
    frozen = MetaData()
    Table(
        "ingests",
        frozen,
        Column("token", String(64), primary_key=True),
        Column("owner", String(200)),
        Column("started_at", schema.UTCDateTime, nullable=False),
        Column("lease_until", schema.UTCDateTime, nullable=False),
    )
    frozen.create_all(conn)


def _reread_tex(conn: Connection) -> None:
    """v8: papers archived with TeX in them re-read as text, re-keyed or merged with the
    paper they now are, the posted ledger following (bot/store/retitle.py)."""
    from bot.store.retitle import reread_tex

    reread_tex(conn)


# (version, description, upgrade from version-1). A fresh database skips these and is
# created by `_create_latest` directly; each step must leave an upgraded database
# identical in shape to a fresh one (tests/store/test_migrations.py checks it).
MIGRATIONS: list[tuple[int, str, Step]] = [
    (1, "papers archive with full-text index, source state", _create_v1),
    (2, "channel interest profiles", _add_channels),
    (3, "posted ledger and digest runs", _add_ledger),
    (4, "readable UTF-8 in JSON columns (accented authors searchable)", _unescape_json_text),
    (5, "PostgreSQL full-text index, fetch leases for replicas", _pg_search_and_fetch_leases),
    (6, "posted ledger indexed by paper", _index_posted_papers),
    (7, "archive writes in progress (digest windows wait for their commits)", _add_ingests),
    (8, "TeX in archived titles, abstracts and authors read as text; keys follow", _reread_tex),
]
# Serializes migrations of processes that start together on one PostgreSQL database
# (a transaction-scoped advisory lock; SQLite takes its write lock with BEGIN IMMEDIATE).
MIGRATION_LOCK = 0x70617065  # "pape"
LATEST = MIGRATIONS[-1][0]


def current_version(conn: Connection) -> int | None:
    """The schema version recorded in the database, or None for an empty database."""
    if not inspect(conn).has_table("schema_version"):
        return None
    version = conn.execute(
        select(schema.schema_version.c.version)
        .order_by(schema.schema_version.c.version.desc())
        .limit(1)
    ).scalar()
    return int(version) if version is not None else None


def _lock(conn: Connection) -> None:
    """Hold the migration lock until the transaction ends; the first statement of it.

    SQLite needs it too: pysqlite runs DDL outside any transaction, so two processes that
    found no schema would both create it ("table … already exists"). BEGIN IMMEDIATE takes
    the write lock before the version is read; the other process waits (busy timeout)."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK)))
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _record(conn: Connection, version: int, description: str) -> None:
    conn.execute(
        schema.schema_version.insert().values(
            version=version, description=description, applied_at=datetime.now(UTC)
        )
    )


def migrate(engine: Engine, *, upgrade: bool = True) -> int:
    """Bring the database to `LATEST` and return the version it was at before (0 if new).

    With `upgrade=False` (read-only commands) an existing database is never written: one
    at an older version is refused with a StoreError saying how to upgrade it (a new, empty
    database is still created).

    Raises StoreError when the database was written by a newer Paperboy, or a step fails
    (that step's transaction is rolled back; earlier steps stay applied).
    """
    try:
        with engine.connect() as conn:  # no lock when there is nothing to do (read-only use)
            before = current_version(conn)
        if before is None:
            with engine.begin() as conn:
                _lock(conn)
                before = current_version(conn)  # another process may have created it
                if before is None:
                    _create_latest(conn)
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
        for version, description, step in MIGRATIONS:
            if version <= before:
                continue
            with engine.begin() as conn:
                _lock(conn)
                done = current_version(conn)
                if done is not None and done >= version:
                    continue  # another process applied it meanwhile
                step(conn)
                _record(conn, version, description)
        return before
    except SQLAlchemyError as e:
        raise StoreError(f"database migration failed: {e.__class__.__name__}: {e}") from e
