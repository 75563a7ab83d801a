"""Databases of every released schema version (the hand-rolled runner's 1..8, before
Alembic) are upgraded in place, on SQLite and PostgreSQL, to the shape of a new database:
tables, columns and their types, keys, constraints, indexes, and each engine's search objects
(FTS5 table and triggers; tsvector columns, functions, GIN index). Their data survives the
data steps (4: readable authors, 8: TeX read as text, the ledger following the keys).

`_legacy` below is the hand-rolled runner's steps as released, frozen here: the databases it
makes are the ones Paperboy users have.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Date,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    cast,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB

import pg
from bot.errors import StoreError
from bot.models import normalize_title
from bot.store import pg_search, schema
from bot.store.archive import Archive
from bot.store.db import make_engine
from bot.store.migrations import (
    LATEST,
    SCRIPTS,
    _upgrade_to,
    current_version,
    descriptions,
    migrate,
    revision_of,
)
from bot.store.retitle import reread_tex

STAMP = datetime(2026, 11, 1, 8, tzinfo=UTC)
DATETIME = schema.UTCDateTime

# --- the hand-rolled runner, as released (versions 1..8) ----------------------------------

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


def _v1(conn: Connection) -> None:
    frozen = MetaData()
    Table(
        "schema_version",
        frozen,
        Column("version", Integer, primary_key=True),
        Column("description", Text, nullable=False),
        Column("applied_at", DATETIME, nullable=False),
    )
    Table(
        "papers",
        frozen,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("key", String(512), nullable=False, unique=True),
        Column("arxiv_id", String(64), unique=True),
        Column("title", Text, nullable=False),
        Column("title_norm", String(512), nullable=False, index=True),
        Column("abstract", Text, nullable=False, default=""),
        Column("authors", JSON, nullable=False, default=list),
        Column("published", DATETIME),
        Column("daily_date", Date),
        Column("upvotes", Integer),
        Column("ai_summary", Text),
        Column("ai_keywords", JSON, nullable=False, default=list),
        Column("github_repo", Text),
        Column("project_page", Text),
        Column("categories", JSON, nullable=False, default=list),
        Column("announce_type", String(32)),
        Column("sources", JSON, nullable=False, default=list),
        Column("first_seen", DATETIME, nullable=False, index=True),
        Column("updated_at", DATETIME, nullable=False),
    )
    Table(
        "source_state",
        frozen,
        Column("name", String(64), primary_key=True),
        Column("location", Text),
        Column("etag", Text),
        Column("last_modified", Text),
        Column("last_attempt", DATETIME),
        Column("last_success", DATETIME),
        Column("last_result", Text),
        Column("last_error", Text),
        Column("consecutive_failures", Integer, nullable=False, default=0),
    )
    frozen.create_all(conn)
    if conn.dialect.name == "sqlite":
        for ddl in _SQLITE_FTS:
            conn.exec_driver_sql(ddl)


def _v2(conn: Connection) -> None:
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
        Column("created_at", DATETIME, nullable=False),
        Column("updated_at", DATETIME, nullable=False),
        UniqueConstraint("platform", "channel_id", name="uq_channels_platform_channel_id"),
    )
    frozen.create_all(conn)


def _v3(conn: Connection) -> None:
    frozen = MetaData()
    Table(
        "posted",
        frozen,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("channel", String(200), nullable=False),
        Column("paper_key", String(512), nullable=False),
        Column("status", String(16), nullable=False),
        Column("lease_until", DATETIME),
        Column("posted_at", DATETIME),
        Column("message_ref", Text),
        UniqueConstraint("channel", "paper_key", name="uq_posted_channel_paper"),
    )
    Table(
        "digest_runs",
        frozen,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("channel", String(200), nullable=False),
        Column("scheduled_for", DATETIME),
        Column("started_at", DATETIME, nullable=False),
        Column("finished_at", DATETIME),
        Column("window_start", DATETIME),
        Column("window_end", DATETIME),
        Column("status", String(16), nullable=False),
        Column("posted", Integer, nullable=False),
        Column("error", Text),
        UniqueConstraint("channel", "scheduled_for", name="uq_digest_runs_claim"),
    )
    frozen.create_all(conn)


_PAPERS = Table("papers", MetaData(), Column("id", Integer), Column("authors", JSON))


def _v4(conn: Connection) -> None:  # SQLite only, as released
    if conn.dialect.name != "sqlite":
        return
    rows = conn.exec_driver_sql(
        "SELECT id, authors FROM papers WHERE authors LIKE '%\\u%' ESCAPE '!'"
    ).all()
    for rid, authors in rows:
        conn.execute(_PAPERS.update().where(_PAPERS.c.id == rid), {"authors": json.loads(authors)})


def _v5(conn: Connection) -> None:
    lease = DATETIME().compile(dialect=conn.dialect)
    conn.exec_driver_sql(f"ALTER TABLE source_state ADD COLUMN lease_until {lease}")
    if conn.dialect.name == "postgresql":  # version 4's rewrite, redone on PostgreSQL
        authors = _PAPERS.c.authors
        conn.execute(
            update(_PAPERS)
            .where(cast(authors, Text).like("%\\u%", escape="!"))
            .values(authors=cast(cast(authors, JSONB), JSON))
        )
        for ddl in _revision("0005").SEARCH_INDEX:  # pg_search.index_ddl() of then
            conn.exec_driver_sql(ddl)


def _revision(revision: str) -> Any:
    """The module of a revision (its file name starts with a digit: not importable)."""
    return ScriptDirectory(str(SCRIPTS)).get_revision(revision).module


def _v6(conn: Connection) -> None:
    conn.exec_driver_sql("CREATE INDEX ix_posted_paper_key ON posted (paper_key)")


def _v7(conn: Connection) -> None:
    frozen = MetaData()
    Table(
        "ingests",
        frozen,
        Column("token", String(64), primary_key=True),
        Column("owner", String(200)),
        Column("started_at", DATETIME, nullable=False),
        Column("lease_until", DATETIME, nullable=False),
    )
    frozen.create_all(conn)


def _v8(conn: Connection) -> None:
    reread_tex(conn)


LEGACY_STEPS: list[Callable[[Connection], None]] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8]
HAND_ROLLED = len(LEGACY_STEPS)  # the last version before Alembic


def _legacy(engine: Engine, version: int) -> None:
    """A database as the hand-rolled runner left it at `version`: its steps, one row each
    in schema_version, no alembic_version."""
    with engine.begin() as conn:
        for v, step in enumerate(LEGACY_STEPS[:version], start=1):
            step(conn)
            conn.execute(
                schema.schema_version.insert().values(
                    version=v, description=f"step {v}", applied_at=STAMP
                )
            )


# --- data an older Paperboy wrote ----------------------------------------------------------

TEX_TITLE = "$\\pi$-Tuning: Transferring Multimodal Foundation Models"
OLD_TEX_KEY = "pi tuning transferring multimodal foundation models"  # version 7's key


def _old_data(engine: Engine, version: int) -> None:
    """A paper whose authors are ASCII-escaped (written before version 4 on SQLite, 5 on
    PostgreSQL) and one with TeX in its title under its old key (before 8), each posted."""
    unescaped = 4 if engine.dialect.name == "sqlite" else 5
    authors = '["Zo\\u00eb Ng"]' if version < unescaped else '["Zoë Ng"]'
    tex_title, tex_key = (
        (TEX_TITLE, OLD_TEX_KEY) if version < 8 else (f"π{TEX_TITLE[5:]}", _new_tex_key())
    )
    stamp = "'2026-11-01 08:00:00'"
    with engine.begin() as conn:
        for key, arxiv, title, author_json in (
            ("2406.01234", "'2406.01234'", "Sparse Experts at Scale", authors),
            (tex_key, "NULL", tex_title, '["A. One"]'),
        ):
            conn.exec_driver_sql(
                "INSERT INTO papers (key, arxiv_id, title, title_norm, abstract, authors, "
                "ai_keywords, categories, sources, first_seen, updated_at) VALUES "
                f"('{key}', {arxiv}, '{title}', '{key}', 'Routing tokens to experts.', "
                f"'{author_json}', '[]', '[]', '[\"hf\"]', {stamp}, {stamp})"
            )
            if version >= 3:
                conn.exec_driver_sql(
                    "INSERT INTO posted (channel, paper_key, status, posted_at, message_ref) "
                    f"VALUES ('slack:C1', '{key}', 'posted', {stamp}, 'm')"
                )


def _new_tex_key() -> str:
    return normalize_title(TEX_TITLE)


def _found(engine: Engine, word: str) -> list[str]:
    """The keys of the papers the engine's full-text index finds by `word`."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            query = (
                "SELECT key FROM papers JOIN papers_fts ON papers_fts.rowid = papers.id "
                "WHERE papers_fts MATCH :word"
            )
        else:
            query = "SELECT key FROM papers WHERE search_vector @@ plainto_tsquery(:word)"
        return sorted(conn.execute(text(query), {"word": word}).scalars())


# --- the shape of a schema -----------------------------------------------------------------


def _squash(sql: str | None) -> str:
    return re.sub(r"\s+", " ", sql or "").replace("IF NOT EXISTS ", "").strip()


def _shape(engine: Engine) -> dict[str, Any]:
    """Everything that makes a schema, by SQLAlchemy inspection (tables, columns with type,
    nullability, default and generation expression, primary and foreign keys, unique and
    check constraints, indexes with their options), and each engine's own objects: SQLite's
    schema entries (FTS5 table, its shadow tables, triggers) with their SQL; PostgreSQL's
    functions, triggers and sequences."""
    with engine.connect() as conn:
        insp = inspect(conn)
        tables: dict[str, Any] = {}
        for t in sorted(insp.get_table_names()):
            tables[t] = {
                "columns": [
                    (
                        c["name"],
                        str(c["type"]),
                        c["nullable"],
                        str(c.get("default")),
                        str(c.get("computed")),
                    )
                    for c in insp.get_columns(t)
                ],
                "primary": insp.get_pk_constraint(t)["constrained_columns"],
                "foreign": sorted(str(f) for f in insp.get_foreign_keys(t)),
                "unique": sorted(
                    (u["name"] or "", tuple(u["column_names"]))
                    for u in insp.get_unique_constraints(t)
                ),
                "checks": sorted(str(c) for c in insp.get_check_constraints(t)),
                "indexes": sorted(
                    (
                        i["name"] or "",
                        tuple(str(c) for c in i["column_names"]),
                        i["unique"],
                        str(i.get("dialect_options")),
                    )
                    for i in insp.get_indexes(t)
                ),
            }
        extra: list[tuple[Any, ...]]
        if conn.dialect.name == "sqlite":
            extra = [
                (kind, name, table, _squash(sql) if kind == "trigger" or "VIRTUAL" in sql else "")
                for kind, name, table, sql in conn.exec_driver_sql(
                    "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master"
                )
            ]
        else:
            extra = [
                *conn.exec_driver_sql(
                    "SELECT 'function', proname, md5(prosrc) FROM pg_proc "
                    "WHERE pronamespace = current_schema()::regnamespace"
                ),
                *conn.exec_driver_sql(
                    "SELECT 'trigger', t.tgname, c.relname FROM pg_trigger t "
                    "JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal "
                    "AND c.relnamespace = current_schema()::regnamespace"
                ),
                *conn.exec_driver_sql(
                    "SELECT 'sequence', sequence_name, data_type FROM information_schema.sequences "
                    "WHERE sequence_schema = current_schema()"
                ),
            ]
    return {"tables": tables, "objects": sorted(tuple(o) for o in extra)}


# --- the tests -----------------------------------------------------------------------------


@pytest.fixture(params=pg.BACKENDS)
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Makes empty databases of one engine: SQLite files, then PostgreSQL schemas."""
    made = iter(range(100))
    if request.param == "sqlite":
        yield lambda: str(tmp_path / f"db{next(made)}.sqlite")
        return
    pg.require()
    with ExitStack() as schemas:
        yield lambda: schemas.enter_context(pg.temporary_schema())


def test_every_released_version_upgrades_to_the_shape_of_a_new_database(
    new_database: Callable[[], str],
) -> None:
    fresh = make_engine(new_database())
    assert migrate(fresh) == 0
    expected = _shape(fresh)
    fresh.dispose()
    for version in range(1, HAND_ROLLED + 1):
        old = make_engine(new_database())
        _legacy(old, version)
        _old_data(old, version)
        assert migrate(old) == version
        with old.connect() as conn:
            assert current_version(conn) == LATEST
            revision = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            recorded = conn.execute(select(schema.schema_version.c.version)).scalars().all()
            ledger = sorted(conn.execute(select(schema.posted.c.paper_key)).scalars())
        assert revision == revision_of(LATEST)
        assert sorted(recorded) == list(range(1, LATEST + 1))
        assert _shape(old) == expected, f"version {version}"
        archive = Archive(old)
        sparse = archive.get("2406.01234")
        assert sparse is not None and sparse.authors == ("Zoë Ng",), f"version {version}"
        assert _found(old, "zoe") == ["2406.01234"]
        tex = archive.get(_new_tex_key())
        assert tex is not None and tex.title.startswith("π-Tuning"), f"version {version}"
        if version >= 3:
            assert ledger == sorted(["2406.01234", _new_tex_key()])  # the ledger followed
        assert migrate(old) == LATEST  # upgrading again changes nothing
        old.dispose()


def test_a_new_database_is_the_schema_of_schema_py(new_database: Callable[[], str]) -> None:
    """The revisions and bot/store/schema.py describe the same tables (Alembic's own
    comparison), apart from each engine's search objects, which schema.py does not hold."""
    engine = make_engine(new_database())
    migrate(engine)

    def ours(obj: Any, name: str | None, kind: str, reflected: bool, _other: Any) -> bool:
        if kind == "table":
            return name != "alembic_version" and not (name or "").startswith("papers_fts")
        if kind == "column":
            return name not in (pg_search.VECTOR, pg_search.LENGTH)
        if kind == "index":
            return not str(name).startswith("ix_papers_search")
        return True

    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": ours, "compare_type": True}
        )
        diff = compare_metadata(context, schema.metadata)
    engine.dispose()
    assert diff == []


@pytest.mark.postgres
def test_the_search_index_is_the_one_pg_search_queries(pg_url: str) -> None:
    """Revision 0005 froze bot.store.pg_search.index_ddl() (the functions that fold and count
    the words of the document, which the query side must match): a new database equals one
    whose search index pg_search builds today. When this fails, pg_search changed: write the
    revision that brings existing databases to it."""
    ours = make_engine(pg_url)
    migrate(ours)
    with pg.temporary_schema() as url:
        today = make_engine(url)
        migrate(today)
        with today.begin() as conn:
            conn.exec_driver_sql(
                f"ALTER TABLE papers DROP COLUMN {pg_search.VECTOR}, DROP COLUMN {pg_search.LENGTH}"
            )
            conn.exec_driver_sql("DROP FUNCTION paperboy_document, paperboy_words, paperboy_fold")
            for ddl in pg_search.index_ddl():
                conn.exec_driver_sql(ddl)
        assert _shape(today) == _shape(ours)
        today.dispose()
    ours.dispose()


def test_a_failed_revision_leaves_the_earlier_ones_applied(tmp_path: Path) -> None:
    """An upgrade runs one revision per transaction: when one fails, the database stays at
    the last one that succeeded, and the error is a StoreError."""
    engine = make_engine(str(tmp_path / "v5.db"))
    _legacy(engine, 5)
    with engine.begin() as conn:  # what revision 0007 is about to create
        conn.exec_driver_sql("CREATE TABLE ingests (token TEXT)")
    with pytest.raises(StoreError, match="database migration failed"):
        migrate(engine)
    with engine.connect() as conn:
        assert current_version(conn) == 6
        revision = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    assert revision == revision_of(6)
    engine.dispose()


@pytest.mark.postgres
def test_postgres_version_4_runs_the_readable_json_step(pg_url: str) -> None:
    """Version 4's step was SQLite-only before Alembic: a PostgreSQL database recorded at 4
    is adopted at revision 0003 and its escaped authors become readable and searchable.
    (Checked at revision 0004 itself: 0008's TeX step would rewrite a backslash later.)"""
    old = make_engine(pg_url)
    _legacy(old, 4)
    _old_data(old, 4)
    authors = "SELECT authors::text FROM papers WHERE arxiv_id IS NOT NULL"
    with old.begin() as conn:
        assert "\\u00eb" in conn.exec_driver_sql(authors).scalar_one()
        _upgrade_to(conn, 4)  # adopted, then upgraded to what version 4 is
        assert conn.exec_driver_sql(authors).scalar_one() == '["Zoë Ng"]'
    assert migrate(old) == 4
    assert _found(old, "zoe") == ["2406.01234"]
    assert _found(old, "routing") == sorted(["2406.01234", _new_tex_key()])
    old.dispose()


def test_a_read_only_open_of_the_last_hand_rolled_version_writes_nothing(
    tmp_path: Path,
) -> None:
    """A database the hand-rolled runner left at its last version: a read-only command
    leaves it byte for byte unchanged (no stamp: opened when it is current, refused when
    it needs an upgrade); the next writing command adopts and upgrades it."""
    path = tmp_path / "v8.db"
    engine = make_engine(str(path))
    _legacy(engine, HAND_ROLLED)
    engine.dispose()
    before = path.read_bytes()
    reader = make_engine(str(path), read_only=True)
    if HAND_ROLLED == LATEST:
        assert migrate(reader, upgrade=False) == HAND_ROLLED
    else:
        with pytest.raises(StoreError, match="needs an upgrade"):
            migrate(reader, upgrade=False)
    reader.dispose()
    assert path.read_bytes() == before
    writer = make_engine(str(path))
    assert migrate(writer) == HAND_ROLLED
    with writer.connect() as conn:
        revision = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    assert revision == revision_of(LATEST)
    writer.dispose()


@pytest.mark.parametrize(
    ("revision", "message"),
    [(revision_of(LATEST + 1), "newer than this Paperboy"), ("ae1027a6acf", "does not know")],
)
def test_a_revision_this_paperboy_does_not_have_is_refused(
    tmp_path: Path, revision: str, message: str
) -> None:
    engine = make_engine(str(tmp_path / "p.db"))
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    with pytest.raises(StoreError, match=message):
        migrate(engine)
    engine.dispose()


def test_databases_migrated_from_several_threads_at_once_each_get_their_schema(
    tmp_path: Path,
) -> None:
    """Alembic runs revisions through module globals: four different databases migrated at
    once from four threads (legacy and new) each end at the latest revision, whole."""
    engines = [make_engine(str(tmp_path / f"p{i}.db")) for i in range(4)]
    for engine, version in zip(engines[:2], (1, 5), strict=True):
        _legacy(engine, version)
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            assert sorted(pool.map(migrate, engines)) == [0, 0, 1, 5]
        shapes = [_shape(e) for e in engines]
        assert all(s == shapes[-1] for s in shapes)
    finally:
        for e in engines:
            e.dispose()


def test_the_revisions_ship_in_the_package() -> None:
    """setuptools' package discovery (pyproject's `packages.find`) finds the revisions'
    folder as a package, so a wheel carries every revision with the code that runs them."""
    import tomllib

    from setuptools import find_packages

    root = Path(__file__).resolve().parents[2]
    find = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = find_packages(str(root), include=find["packages"]["find"]["include"])
    assert {"bot.store.alembic", "bot.store.alembic.versions"} <= set(packages)
    shipped = sorted(p.name for p in (root / "bot/store/alembic/versions").glob("0*.py"))
    assert [name[:4] for name in shipped] == [revision_of(v) for v in range(1, LATEST + 1)]
    assert ScriptDirectory(str(SCRIPTS)).get_current_head() == revision_of(LATEST)
    assert sorted(descriptions()) == list(range(1, LATEST + 1))
