"""The paper archive: idempotent, identity-preserving upserts and the queries later steps need."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from itertools import islice
from typing import Any

from sqlalchemy import Engine, Row, column, func, literal_column, or_, select, table, update
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.sql import Executable

from bot.errors import StoreError
from bot.models import Paper, normalize_title, parse_arxiv_id
from bot.pipeline.merge import merge, resolve
from bot.store import pg_search
from bot.store.ledger import rekey_posted
from bot.store.schema import papers

BATCH = 500
FTS_WEIGHTS = (10.0, 2.0, 1.0)  # bm25 column weights: title, abstract, authors
_fts = table("papers_fts", column("rowid"))
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


def _paper_values(p: Paper, now: datetime) -> dict[str, Any]:
    return {
        "key": p.key,
        "arxiv_id": p.arxiv_id,
        "title": p.title,
        "title_norm": p.title_norm,
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


def _index(paper: Paper, rid: int, by_arxiv: dict[str, int], by_title: dict[str, int]) -> None:
    if paper.arxiv_id:
        by_arxiv[paper.arxiv_id] = rid
    by_title.setdefault(paper.title_norm, rid)  # the oldest paper with a title keeps it


def _chunks(items: Iterable[Paper], size: int) -> Iterator[list[Paper]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


class Archive:
    """Papers by key. Owns no connection: each call opens a transaction on `engine`.

    All datetimes in and out are timezone-aware UTC. Raises StoreError on database failure.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def upsert(self, incoming: Iterable[Paper], *, now: datetime) -> UpsertResult:
        """Store papers, merging each with the archived paper it is (bot.pipeline.merge).

        Idempotent: the same input twice adds nothing. Each batch commits atomically.
        """
        total = UpsertResult()
        try:
            for batch in _chunks(incoming, BATCH):
                total.add(self._upsert_batch(batch, now))
        except SQLAlchemyError as e:
            raise StoreError(f"archive write failed: {e.__class__.__name__}") from e
        return total

    def _upsert_batch(self, batch: Sequence[Paper], now: datetime) -> UpsertResult:
        result = UpsertResult()
        ids = {p.arxiv_id for p in batch if p.arxiv_id}
        norms = {p.title_norm for p in batch}
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
            # Each archived paper by row id; pending inserts get negative ids.
            current: dict[int, Paper] = {}
            stored_key: dict[int, str] = {}
            by_arxiv: dict[str, int] = {}
            by_title: dict[str, int] = {}
            for row in sorted(rows, key=lambda r: r.id):
                current[row.id], stored_key[row.id] = _row_to_paper(row), row.key
                _index(current[row.id], row.id, by_arxiv, by_title)
            changed: set[int] = set()
            next_new = -1
            for p in batch:
                rid_or_none = resolve(p, by_arxiv, by_title, current)
                if rid_or_none is None:
                    rid, next_new = next_new, next_new - 1
                    merged = replace(p, first_seen=p.first_seen or now)
                    result.new += 1
                else:
                    rid = rid_or_none
                    merged = merge(current[rid], p)
                    if rid > 0:
                        result.known += 1
                    if merged == current[rid]:
                        continue
                current[rid] = merged
                changed.add(rid)
                _index(merged, rid, by_arxiv, by_title)
            inserts = [
                _paper_values(current[r], now) for r in sorted(changed, reverse=True) if r < 0
            ]
            updates = [r for r in changed if r > 0]
            if inserts:
                conn.execute(papers.insert(), inserts)
                result.new_keys += [v["key"] for v in inserts]
            for rid in updates:
                values = _paper_values(current[rid], now)
                values.pop("first_seen")
                conn.execute(update(papers).where(papers.c.id == rid).values(**values))
                if values["key"] != stored_key[rid]:
                    result.rekeyed.append((stored_key[rid], values["key"]))
                    rekey_posted(conn, stored_key[rid], values["key"])
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
        self, match: str, *, limit: int, weights: tuple[float, float, float] = FTS_WEIGHTS
    ) -> list[tuple[Paper, float]]:
        """Papers matching the FTS5 expression `match`, best first, each with its bm25 rank
        (lower is better; bm25 values are negative). `weights` weigh title, abstract and
        authors. On PostgreSQL the same expression's terms are searched in a weighted
        tsvector and ranked by the same BM25 (bot/store/pg_search.py). `match` must be a safe
        expression (bot.search.fts_query builds one): raw user text can be a syntax error.
        Raises StoreError on failure."""
        dialect = self._engine.dialect.name
        q: Executable
        if dialect == "postgresql":  # a weighted tsvector, BM25 as FTS5 computes it
            q = pg_search.ranked(match, weights=weights, limit=limit)
        elif dialect == "sqlite":
            # Rank in the index alone, then read only the best rows: joining first would
            # read every matching paper (a common word matches most of the archive).
            rank = func.bm25(literal_column("papers_fts"), *weights).label("rank")
            best = (
                select(_fts.c.rowid.label("id"), rank)
                .where(literal_column("papers_fts").op("MATCH")(match))
                .order_by(rank, _fts.c.rowid)
                .limit(limit)
                .subquery("best")
            )
            q = (
                select(papers, best.c.rank)
                .join(best, best.c.id == papers.c.id)
                .order_by(best.c.rank, papers.c.id)
            )
        else:
            raise StoreError(f"archive search needs SQLite or PostgreSQL (this is {dialect})")
        try:
            with self._engine.connect() as conn:
                return [(_row_to_paper(r), float(r.rank)) for r in conn.execute(q)]
        except SQLAlchemyError as e:
            cause = e.orig if isinstance(e, DBAPIError) else e
            raise StoreError(f"archive search failed: {cause.__class__.__name__}: {cause}") from e

    def titles(self) -> list[tuple[str, str]]:
        """(key, title) of every archived paper, in insertion order (for fuzzy title search)."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(papers.c.key, papers.c.title).order_by(papers.c.id))
            return [(r.key, r.title) for r in rows]
