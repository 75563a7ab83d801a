"""The paper archive: idempotent, identity-preserving upserts and the queries later steps need."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Row, func, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError, StatementError

from bot.errors import StoreError
from bot.models import Paper, SearchQuery, normalize_title, parse_arxiv_id
from bot.pipeline.merge import merge, resolve
from bot.store.db import chunks
from bot.store.fulltext import FullText, full_text
from bot.store.ingests import INGEST_LEASE, Ingests
from bot.store.rekey import rekey_paper
from bot.store.schema import papers

log = logging.getLogger(__name__)

# Papers per transaction. Fewer, larger commits write each touched index page (title_norm's
# are scattered) and each FTS5 segment fewer times: 2,000 wrote about a fifth less and
# stored 100,000 papers faster than 500.
BATCH = 2_000
FTS_WEIGHTS = (10.0, 2.0, 1.0)  # bm25 column weights: title, abstract, authors
# PostgreSQL: writers of the archive take turns (concurrent fetches of two sources that
# bring the same paper would otherwise both insert it and one would fail).
ARCHIVE_WRITE_LOCK = 0x70617066


@dataclass(slots=True)
class UpsertResult:
    """What one upsert did: papers `new` to the archive, `known` ones (possibly `updated`
    with facts a source added), and `rekeyed` (old title key -> arXiv id)."""

    new: int = 0
    known: int = 0
    updated: int = 0
    rekeyed: list[tuple[str, str]] = field(default_factory=list)
    new_keys: list[str] = field(default_factory=list)

    def add(self, other: UpsertResult) -> None:
        self.new += other.new
        self.known += other.known
        self.updated += other.updated
        self.rekeyed += other.rekeyed
        self.new_keys += other.new_keys


def _row_to_paper(row: Row[Any]) -> Paper:
    m = row._mapping
    return Paper(
        title=m["title"],
        abstract=m["abstract"],
        arxiv_id=m["arxiv_id"],
        authors=tuple(m["authors"] or ()),
        published=m["published"],
        daily_date=m["daily_date"],
        upvotes=m["upvotes"],
        ai_summary=m["ai_summary"],
        ai_keywords=tuple(m["ai_keywords"] or ()),
        github_repo=m["github_repo"],
        project_page=m["project_page"],
        categories=tuple(m["categories"] or ()),
        announce_type=m["announce_type"],
        sources=tuple(m["sources"] or ()),
        first_seen=m["first_seen"],
    )


def _paper_values(p: Paper, now: datetime, title_norm: str | None = None) -> dict[str, Any]:
    """The row of `p`; `title_norm` is `p.title_norm` when the caller has it already."""
    norm = p.title_norm if title_norm is None else title_norm
    return {
        "key": p.arxiv_id or norm,  # p.key, without normalizing the title again
        "arxiv_id": p.arxiv_id,
        "title": p.title,
        "title_norm": norm,
        "abstract": p.abstract,
        "authors": list(p.authors),
        "published": p.published,
        "daily_date": p.daily_date,
        "upvotes": p.upvotes,
        "ai_summary": p.ai_summary,
        "ai_keywords": list(p.ai_keywords),
        "github_repo": p.github_repo,
        "project_page": p.project_page,
        "categories": list(p.categories),
        "announce_type": p.announce_type,
        "sources": list(p.sources),
        "first_seen": p.first_seen or now,
        "updated_at": now,
    }


def _index(
    paper: Paper, rid: int, by_arxiv: dict[str, int], by_title: dict[str, int], title_norm: str
) -> None:
    if paper.arxiv_id:
        by_arxiv[paper.arxiv_id] = rid
    by_title.setdefault(title_norm, rid)  # the oldest paper with a title keeps it


def _memo_key(name: str, value: Any) -> tuple[Any, ...] | None:
    """What a converted value is remembered by: lists of strings, dates and times, None.
    (Other values, whose equal forms may convert differently, e.g. 1 and True, are not.)"""
    if type(value) is list:
        return (name, list, *value) if all(type(v) is str for v in value) else None
    if value is None or type(value) is datetime or type(value) is date:
        return (name, type(value), value)
    return None


def _convert_values(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Convert the values of `rows` (in place) as the papers table's column types convert
    them for the driver (JSON text, or psycopg's Json; SQLite date and time strings; UTC
    datetimes), each distinct value once:
    the rows of a batch share most of theirs (`now`, their sources, empty lists). Raises
    StatementError, as SQLAlchemy does, for a value its type cannot convert."""
    dialect = conn.dialect
    converters = [
        (c.name, convert)
        for c in papers.columns
        if (convert := c.type.dialect_impl(dialect).bind_processor(dialect)) is not None
    ]
    done: dict[tuple[Any, ...], Any] = {}
    try:
        for row in rows:
            for name, convert in converters:
                value = row[name]
                key = _memo_key(name, value)
                if key is None:
                    row[name] = convert(value)
                elif key in done:
                    row[name] = done[key]
                else:
                    row[name] = done[key] = convert(value)
    except Exception as e:
        raise StatementError(str(e), "INSERT INTO papers", None, e) from e


def _insert_rows(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert `rows` (as `_paper_values` makes them) into papers in order, as few multi-row
    INSERTs as the database allows. On SQLite the full-text trigger then runs inside one
    statement per page of rows instead of one per row, and FTS5 writes one index segment
    per statement: most of an ingest's write time. The SQLite statement is written here,
    its values converted as the column types convert them (`_convert_values`), and handed
    to the driver as is: SQLAlchemy's compilation of a statement of thousands of
    parameters cost a tenth of an ingest. PostgreSQL (psycopg) takes the same values in
    one COPY (`_copy_rows`): psycopg parsing the placeholders of a multi-row INSERT took
    a fifth of the client's time. Elsewhere SQLAlchemy's "insertmanyvalues" (an
    executemany with RETURNING) makes the multi-row INSERTs."""
    if conn.dialect.name == "sqlite":
        _convert_values(conn, rows)
        for page in chunks(rows, _SQLITE_PAGE):
            conn.exec_driver_sql(_sqlite_insert(len(page)), _flat(page))
    elif conn.dialect.driver == "psycopg":
        _convert_values(conn, rows)
        _copy_rows(conn, rows)
    elif conn.dialect.insert_executemany_returning:
        conn.execute(papers.insert().returning(papers.c.id), rows).all()
    else:
        conn.execute(papers.insert(), rows)


_COLUMNS = tuple(c.name for c in papers.columns if c.name != "id")
# Rows per SQLite INSERT: within SQLite's 32,766 bound parameters (and SQLAlchemy's default
# insertmanyvalues page of 1,000 rows, which the statement replaced).
_SQLITE_PAGE = min(1_000, 32_766 // len(_COLUMNS))


def _sqlite_insert(rows: int) -> str:
    """INSERT INTO papers of `rows` rows of `_COLUMNS`, each `?`."""
    row = "(" + ", ".join("?" * len(_COLUMNS)) + ")"
    return f"INSERT INTO papers ({', '.join(_COLUMNS)}) VALUES " + ", ".join([row] * rows)


def _copy_rows(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """COPY `rows` (converted values) into papers on PostgreSQL through psycopg, in order
    (ids follow it), inside the connection's transaction. A driver error is raised as
    SQLAlchemy raises it (DBAPIError, the driver's error as `orig`)."""
    import psycopg  # the PostgreSQL driver, installed with the postgres extra

    statement = f"COPY papers ({', '.join(_COLUMNS)}) FROM STDIN"
    driver = conn.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([row[name] for name in _COLUMNS])
    except psycopg.Error as e:
        raise DBAPIError.instance(statement, None, e, psycopg.Error) from e


def _flat(rows: list[dict[str, Any]]) -> tuple[Any, ...]:
    """The values of `rows`, row after row, in `_COLUMNS` order."""
    return tuple(row[name] for row in rows for name in _COLUMNS)


class Archive:
    """Papers by key. Owns no connection: each call opens a transaction on `engine`.

    All datetimes in and out are timezone-aware UTC. Raises StoreError on database failure.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._ingests = Ingests(engine)

    def ingest(
        self,
        incoming: Iterable[Paper],
        *,
        clock: Callable[[], datetime],
        lease: timedelta = INGEST_LEASE,
    ) -> UpsertResult:
        """`upsert` while digests run: the write is registered (bot.store.ingests) before
        its papers are stamped with `clock()`, and ends once they are committed, so that no
        digest window passes a stamp whose papers it cannot see yet (`complete_until`)."""
        token = self._ingests.begin(now=clock(), lease=lease)
        try:
            return self.upsert(incoming, now=clock())  # stamped after the registration
        finally:
            try:
                self._ingests.end(token)
            except StoreError as e:  # the stored papers stay; the row's lease ends it
                log.warning("%s; digest windows wait for its lease to end", e)

    def complete_until(self, now: datetime) -> datetime:
        """`now`, or the start of the oldest `ingest` still in progress when earlier: every
        paper first seen before it is committed and visible. Call it after taking `now` and
        before reading the papers (`since`). Raises StoreError."""
        return self._ingests.watermark(now)

    def upsert(self, incoming: Iterable[Paper], *, now: datetime) -> UpsertResult:
        """Store papers, merging each with the archived paper it is (bot.pipeline.merge).

        Idempotent: the same input twice adds nothing. Each batch commits atomically.
        New papers are first seen at `now` unless they carry their own `first_seen`: a
        writer running beside digests uses `ingest`, which takes that stamp safely.
        """
        total = UpsertResult()
        try:
            for batch in chunks(incoming, BATCH):
                total.add(self._upsert_batch(batch, now))
        except SQLAlchemyError as e:
            raise StoreError(f"archive write failed: {e.__class__.__name__}") from e
        return total

    def _upsert_batch(self, batch: Sequence[Paper], now: datetime) -> UpsertResult:
        result = UpsertResult()
        ids = {p.arxiv_id for p in batch if p.arxiv_id}
        batch_norms = [p.title_norm for p in batch]  # normalized once per paper
        norms = set(batch_norms)
        with self._engine.begin() as conn:
            if conn.dialect.name == "postgresql":  # one writer at a time, as SQLite has
                conn.execute(select(func.pg_advisory_xact_lock(ARCHIVE_WRITE_LOCK)))
            elif conn.dialect.name == "sqlite":
                # pysqlite would run the SELECT below outside the transaction: two processes
                # could both find a paper missing and both insert it (IntegrityError).
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock before reading
            rows = conn.execute(
                select(papers).where(
                    or_(papers.c.arxiv_id.in_(ids), papers.c.title_norm.in_(norms))
                )
            ).all()
            # Each archived paper by row id; pending inserts get negative ids. `norm` holds
            # each one's title_norm, so that a title is normalized once.
            current: dict[int, Paper] = {}
            norm: dict[int, str] = {}
            stored_key: dict[int, str] = {}
            by_arxiv: dict[str, int] = {}
            by_title: dict[str, int] = {}
            for row in sorted(rows, key=lambda r: r.id):
                current[row.id], stored_key[row.id] = _row_to_paper(row), row.key
                norm[row.id] = current[row.id].title_norm
                _index(current[row.id], row.id, by_arxiv, by_title, norm[row.id])
            # New papers whose first_seen (None) is `now`: set when a later paper of the
            # batch merges into one (the stored row gets `now` in `_paper_values` anyway).
            unstamped: set[int] = set()
            changed: set[int] = set()
            next_new = -1
            for p, p_norm in zip(batch, batch_norms, strict=True):
                rid_or_none = resolve(p, by_arxiv, by_title, current, title_norm=p_norm)
                if rid_or_none is None:
                    rid, next_new = next_new, next_new - 1
                    merged = p
                    if p.first_seen is None:
                        unstamped.add(rid)
                    merged_norm = p_norm
                    result.new += 1
                else:
                    rid = rid_or_none
                    if rid in unstamped:
                        unstamped.discard(rid)
                        current[rid] = replace(current[rid], first_seen=now)
                    merged = merge(current[rid], p)
                    if rid > 0:
                        result.known += 1
                    if merged == current[rid]:
                        continue
                    same_title = merged.title == current[rid].title
                    merged_norm = norm[rid] if same_title else merged.title_norm
                current[rid] = merged
                norm[rid] = merged_norm
                changed.add(rid)
                _index(merged, rid, by_arxiv, by_title, merged_norm)
            inserts = [
                _paper_values(current[r], now, norm[r])
                for r in sorted(changed, reverse=True)
                if r < 0
            ]
            updates = [r for r in changed if r > 0]
            if inserts:
                _insert_rows(conn, inserts)
                result.new_keys += [v["key"] for v in inserts]
            for rid in updates:
                values = _paper_values(current[rid], now, norm[rid])
                values.pop("first_seen")
                conn.execute(update(papers).where(papers.c.id == rid).values(**values))
                if values["key"] != stored_key[rid]:
                    result.rekeyed.append((stored_key[rid], values["key"]))
                    rekey_paper(conn, stored_key[rid], values["key"])
            result.updated = len(updates)
        return result

    def get(self, key: str) -> Paper | None:
        """The paper with this key, or with this arXiv id or normalized title."""
        arxiv = parse_arxiv_id(key)
        cond = papers.c.key == key
        if arxiv:
            cond = or_(cond, papers.c.arxiv_id == arxiv)
        cond = or_(cond, papers.c.title_norm == normalize_title(key))
        with self._engine.connect() as conn:
            row = conn.execute(select(papers).where(cond).order_by(papers.c.id).limit(1)).first()
        return _row_to_paper(row) if row else None

    def since(self, start: datetime, end: datetime | None = None) -> list[Paper]:
        """Papers first stored at or after `start` (and at or before `end`), oldest first."""
        q = select(papers).where(papers.c.first_seen >= start)
        if end is not None:
            q = q.where(papers.c.first_seen <= end)
        with self._engine.connect() as conn:
            return [_row_to_paper(r) for r in conn.execute(q.order_by(papers.c.id))]

    def all(self) -> list[Paper]:
        """Every archived paper, in insertion order."""
        with self._engine.connect() as conn:
            return [_row_to_paper(r) for r in conn.execute(select(papers).order_by(papers.c.id))]

    def count(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(papers)).scalar_one())

    def latest_day(self) -> date | None:
        """The day of the most recent first_seen, or None for an empty archive."""
        with self._engine.connect() as conn:
            latest = conn.execute(select(func.max(papers.c.first_seen))).scalar()
        return latest.date() if isinstance(latest, datetime) else None

    def fts(
        self,
        query: SearchQuery,
        *,
        limit: int,
        weights: tuple[float, float, float] = FTS_WEIGHTS,
        recent: int = 0,
    ) -> list[tuple[Paper, float]]:
        """Papers with a term of `query`, best first, each with its bm25 rank (lower is
        better; bm25 values are negative). `weights` weigh title, abstract and authors. The
        database's FullText (bot/store/fulltext.py) translates the query: FTS5 on SQLite
        (bot/store/fts5.py), a weighted tsvector ranked by the same BM25 on PostgreSQL
        (bot/store/pg_search.py). Raises StoreError on failure.

        `recent` > 0 searches the newest papers first: the `recent` most recently stored
        (ids above the highest id minus `recent`) are the tier. When the tier is enough, the
        answer is its best `limit` papers for `query` and no older paper is in it; otherwise
        the whole archive is searched, exactly as with `recent` 0. Without `query.topic`,
        the tier is enough when `limit` of its papers match the query; with it (Search
        passes the query's full phrasings), when `limit` of its papers have a `topic` phrase
        in their title and `limit` match the query. A paper's rank is the same either way:
        bm25's statistics (document frequencies, average length) are always the whole
        archive's.
        """
        index = self._full_text()
        try:
            with self._engine.connect() as conn:
                after = 0
                if recent > 0:
                    newest = conn.execute(select(func.max(papers.c.id))).scalar()
                    after = max(int(newest or 0) - recent, 0)
                found: list[tuple[Row[Any], float]] = []
                if after and (
                    not query.topic or index.has_in_titles(conn, query.topic, limit, after)
                ):
                    found = index.best(conn, query, weights, limit, after)
                if len(found) < limit:  # fewer than `limit` papers of the tier match
                    found = index.best(conn, query, weights, limit, 0)
                return [(_row_to_paper(row), rank) for row, rank in found]
        except SQLAlchemyError as e:
            cause = e.orig if isinstance(e, DBAPIError) else e
            raise StoreError(f"archive search failed: {cause.__class__.__name__}: {cause}") from e

    def _full_text(self) -> FullText:
        return full_text(self._engine.dialect.name)

    def titles(self) -> list[tuple[str, str]]:
        """(key, title) of every archived paper, in insertion order (for fuzzy title search)."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(papers.c.key, papers.c.title).order_by(papers.c.id))
            return [(r.key, r.title) for r in rows]
