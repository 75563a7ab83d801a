"""Schema versioning: a new database is created at LATEST, reopening is a no-op, an older
one is upgraded to the same shape as a new one, a newer one is refused."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, select

from bot.errors import StoreError
from bot.store import schema
from bot.store.archive import Archive
from bot.store.db import make_engine
from bot.store.migrations import LATEST, current_version, migrate

# A version-1 database exactly as Paperboy 0.1 created it (SQLite's own record of the DDL),
# frozen here so that later changes to schema.py cannot change what "version 1" means.
V1_DDL = """
CREATE TABLE schema_version (
    version INTEGER NOT NULL, description TEXT NOT NULL, applied_at DATETIME NOT NULL,
    PRIMARY KEY (version));
CREATE TABLE papers (
    id INTEGER NOT NULL, "key" VARCHAR(512) NOT NULL, arxiv_id VARCHAR(64),
    title TEXT NOT NULL, title_norm VARCHAR(512) NOT NULL, abstract TEXT NOT NULL,
    authors JSON NOT NULL, published DATETIME, daily_date DATE, upvotes INTEGER,
    ai_summary TEXT, ai_keywords JSON NOT NULL, github_repo TEXT, project_page TEXT,
    categories JSON NOT NULL, announce_type VARCHAR(32), sources JSON NOT NULL,
    first_seen DATETIME NOT NULL, updated_at DATETIME NOT NULL,
    PRIMARY KEY (id), UNIQUE ("key"), UNIQUE (arxiv_id));
CREATE INDEX ix_papers_title_norm ON papers (title_norm);
CREATE INDEX ix_papers_first_seen ON papers (first_seen);
CREATE TABLE source_state (
    name VARCHAR(64) NOT NULL, location TEXT, etag TEXT, last_modified TEXT,
    last_attempt DATETIME, last_success DATETIME, last_result TEXT, last_error TEXT,
    consecutive_failures INTEGER NOT NULL, PRIMARY KEY (name));
CREATE VIRTUAL TABLE papers_fts USING fts5(
    title, abstract, authors, content='papers', content_rowid='id',
    tokenize='porter unicode61 remove_diacritics 2');
CREATE TRIGGER papers_fts_ai AFTER INSERT ON papers BEGIN
    INSERT INTO papers_fts(rowid, title, abstract, authors)
    VALUES (new.id, new.title, new.abstract, new.authors); END;
CREATE TRIGGER papers_fts_ad AFTER DELETE ON papers BEGIN
    INSERT INTO papers_fts(papers_fts, rowid, title, abstract, authors)
    VALUES ('delete', old.id, old.title, old.abstract, old.authors); END;
CREATE TRIGGER papers_fts_au AFTER UPDATE OF title, abstract, authors ON papers BEGIN
    INSERT INTO papers_fts(papers_fts, rowid, title, abstract, authors)
    VALUES ('delete', old.id, old.title, old.abstract, old.authors);
    INSERT INTO papers_fts(rowid, title, abstract, authors)
    VALUES (new.id, new.title, new.abstract, new.authors); END;
INSERT INTO schema_version VALUES (1, 'created at version 1', '2026-11-01 08:00:00.000000');
INSERT INTO papers (key, arxiv_id, title, title_norm, abstract, authors, ai_keywords,
    categories, sources, first_seen, updated_at)
VALUES ('2406.01234', '2406.01234', 'Sparse Experts at Scale', 'sparse experts at scale',
    'Routing tokens to experts.', '["A. One"]', '[]', '[]', '["hf"]',
    '2026-11-01 08:00:00.000000', '2026-11-01 08:00:00.000000');
"""


def _shape(engine: Engine) -> dict[str, Any]:
    """Everything that makes a schema: objects (tables, indexes, triggers) and columns."""
    with engine.connect() as conn:
        objects = conn.exec_driver_sql("SELECT type, name, tbl_name FROM sqlite_master").all()
        insp = inspect(conn)
        tables = {
            t: {
                "columns": sorted(c["name"] for c in insp.get_columns(t)),
                "unique": sorted(
                    (u["name"] or "", tuple(u["column_names"]))
                    for u in insp.get_unique_constraints(t)
                ),
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"])) for i in insp.get_indexes(t)
                ),
            }
            for t in insp.get_table_names()
        }
    return {"objects": sorted(tuple(o) for o in objects), "tables": tables}


def test_new_database_is_created_at_latest(tmp_path: Path) -> None:
    engine = make_engine(str(tmp_path / "sub" / "dir" / "p.db"))
    assert migrate(engine) == 0
    with engine.connect() as conn:
        assert current_version(conn) == LATEST
        tables = set(inspect(conn).get_table_names())
    assert set(schema.metadata.tables) <= tables
    assert "papers_fts" in tables
    assert migrate(engine) == LATEST  # reopening changes nothing
    engine.dispose()


def test_database_from_a_newer_paperboy_is_refused(tmp_path: Path) -> None:
    engine = make_engine(str(tmp_path / "p.db"))
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(
            schema.schema_version.insert().values(
                version=LATEST + 1, description="future", applied_at=datetime.now(UTC)
            )
        )
    with pytest.raises(StoreError, match="newer than this Paperboy"):
        migrate(engine)
    engine.dispose()


def test_read_only_open_refuses_to_upgrade_an_old_database(tmp_path: Path) -> None:
    old_path = tmp_path / "v1.db"
    with sqlite3.connect(old_path) as raw:
        raw.executescript(V1_DDL)
    raw.close()
    before = old_path.read_bytes()
    old = make_engine(str(old_path), read_only=True)
    with pytest.raises(StoreError, match=r"needs an upgrade to .*paperboy ingest"):
        migrate(old, upgrade=False)
    old.dispose()
    assert old_path.read_bytes() == before
    fresh = make_engine(str(tmp_path / "new.db"), read_only=True)
    assert migrate(fresh, upgrade=False) == 0  # a database that did not exist is created
    assert migrate(fresh, upgrade=False) == LATEST
    fresh.dispose()


def test_unopenable_database_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="cannot open database"):
        make_engine(str(blocker / "p.db"))


def test_version_1_database_is_upgraded_to_the_shape_of_a_new_one(tmp_path: Path) -> None:
    old_path = tmp_path / "v1.db"
    with sqlite3.connect(old_path) as raw:
        raw.executescript(V1_DDL)
    raw.close()
    old = make_engine(str(old_path))
    assert migrate(old) == 1
    with old.connect() as conn:
        assert current_version(conn) == LATEST
    paper = Archive(old).get("2406.01234")
    assert paper is not None and paper.title == "Sparse Experts at Scale"
    assert paper.authors == ("A. One",) and paper.first_seen == datetime(2026, 11, 1, 8, tzinfo=UTC)

    fresh = make_engine(str(tmp_path / "fresh.db"))
    migrate(fresh)
    assert _shape(old) == _shape(fresh)
    assert "channels" in _shape(old)["tables"]
    assert migrate(old) == LATEST  # upgrading again changes nothing
    old.dispose()
    fresh.dispose()


def test_v4_rewrites_escaped_author_json_and_reindexes(tmp_path: Path) -> None:
    """Authors stored ASCII-escaped by older versions become searchable by the accented
    name after the upgrade."""
    path = tmp_path / "v1.db"
    with sqlite3.connect(path) as raw:
        raw.executescript(V1_DDL.replace("'[\"A. One\"]'", "'[\"Zo\\u00eb Ng\"]'"))
    raw.close()
    engine = make_engine(str(path))
    with engine.connect() as conn:
        before = conn.exec_driver_sql("SELECT authors FROM papers").scalar_one()
    migrate(engine)
    with engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT authors FROM papers").scalar_one()
        query = "SELECT rowid FROM papers_fts WHERE papers_fts MATCH 'zoë'"
        hits = conn.exec_driver_sql(query).all()
    engine.dispose()
    assert "\\u00eb" in before
    assert "Zoë" in stored and len(hits) == 1


# --- PostgreSQL ---------------------------------------------------------------------------


def _pg_shape(engine: Engine) -> dict[str, Any]:
    """Tables (columns with types and generation expressions, unique constraints, indexes
    with their method) and Paperboy's functions, of the engine's schema."""
    with engine.connect() as conn:
        insp = inspect(conn)
        tables = {
            t: {
                "columns": sorted(
                    (c["name"], str(c["type"]), c["nullable"], str(c.get("computed")))
                    for c in insp.get_columns(t)
                ),
                "unique": sorted(
                    (u["name"] or "", tuple(u["column_names"]))
                    for u in insp.get_unique_constraints(t)
                ),
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), str(i.get("dialect_options")))
                    for i in insp.get_indexes(t)
                ),
            }
            for t in insp.get_table_names()
        }
        functions = conn.exec_driver_sql(
            "SELECT proname, md5(prosrc) FROM pg_proc "
            "WHERE pronamespace = current_schema()::regnamespace ORDER BY proname"
        ).all()
    return {"tables": tables, "functions": [tuple(f) for f in functions]}


@pytest.mark.postgres
def test_new_postgres_database_has_its_search_index(pg_url: str) -> None:
    engine = make_engine(pg_url)
    assert migrate(engine) == 0
    with engine.connect() as conn:
        assert current_version(conn) == LATEST
        insp = inspect(conn)
        assert set(schema.metadata.tables) <= set(insp.get_table_names())
        columns = {c["name"]: c for c in insp.get_columns("papers")}
        indexes = {i["name"]: i for i in insp.get_indexes("papers")}
    assert str(columns["search_vector"]["type"]) == "TSVECTOR"
    assert "paperboy_document" in str(columns["search_vector"].get("computed"))
    assert "paperboy_words" in str(columns["search_length"].get("computed"))
    gin = indexes["ix_papers_search_vector"]
    assert gin["column_names"] == ["search_vector"]
    assert gin.get("dialect_options", {}).get("postgresql_using") == "gin"
    assert migrate(engine) == LATEST  # reopening changes nothing
    engine.dispose()


@pytest.mark.postgres
def test_replicas_starting_together_create_the_schema_once(pg_url: str) -> None:
    engines = [make_engine(pg_url) for _ in range(4)]
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            before = sorted(pool.map(migrate, engines))
        assert before == [0, LATEST, LATEST, LATEST]
        with engines[0].connect() as conn:
            versions = conn.execute(select(schema.schema_version.c.version)).scalars().all()
        assert versions == [LATEST]
    finally:
        for e in engines:
            e.dispose()


@pytest.mark.postgres
def test_postgres_database_from_a_newer_paperboy_is_refused(pg_url: str) -> None:
    engine = make_engine(pg_url)
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(
            schema.schema_version.insert().values(
                version=LATEST + 1, description="future", applied_at=datetime.now(UTC)
            )
        )
    with pytest.raises(StoreError, match="newer than this Paperboy"):
        migrate(engine)
    engine.dispose()
