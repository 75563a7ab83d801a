"""SQLite full-text search of the archive: a SearchQuery as an FTS5 MATCH expression over
the `papers_fts` index (title, abstract, authors; created by bot/store/migrations.py), ranked
by FTS5's own bm25().

Every term is quoted (`"mixture of experts"`): FTS5 reads it as a phrase of literal tokens,
never as an operator, a column filter or a prefix, so a term is never FTS5 syntax. The terms
are OR-ed. The PostgreSQL counterpart is bot/store/pg_search.py; bot.store.fulltext.FullText
is the contract both keep.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, column, func, literal_column, select, table
from sqlalchemy.sql.expression import ColumnClause

from bot.models import SearchQuery
from bot.store.schema import papers

_fts = table("papers_fts", column("rowid"))
_INDEX: ColumnClause[Any] = literal_column("papers_fts")


def expression(phrases: Sequence[str]) -> str:
    """The FTS5 MATCH expression of `phrases` (SearchQuery terms): each quoted, OR-ed."""
    return " OR ".join('"' + p.replace('"', '""') + '"' for p in phrases)


class Fts5:
    """bot.store.fulltext.FullText on SQLite FTS5."""

    def has_in_titles(
        self, conn: Connection, phrases: Sequence[str], count: int, after: int
    ) -> bool:
        """Whether at least `count` papers with an id above `after` have one of `phrases`
        in their title. FTS5 reads only the index from `after` on, and stops at `count`."""
        q = (
            select(_fts.c.rowid)
            .where(_INDEX.op("MATCH")(f"title : ({expression(phrases)})"), _fts.c.rowid > after)
            .limit(count)
            .subquery()
        )
        found = conn.execute(select(func.count()).select_from(q)).scalar()
        return int(found or 0) >= count

    def best(
        self,
        conn: Connection,
        query: SearchQuery,
        weights: tuple[float, float, float],
        limit: int,
        after: int,
    ) -> list[tuple[Row[Any], float]]:
        """The `limit` best `papers` rows with an id above `after`, with their bm25 rank.

        Ranked in the index alone, then only the best rows are read: joining first would
        read every matching paper (a common word matches most of the archive)."""
        rank = func.bm25(_INDEX, *weights).label("rank")
        q = (
            select(_fts.c.rowid.label("id"), rank)
            .where(_INDEX.op("MATCH")(expression(query.terms)))
            .order_by(rank, _fts.c.rowid)
            .limit(limit)
        )
        if after:
            q = q.where(_fts.c.rowid > after)  # FTS5 reads only this range of the index
        ranked = [(int(r.id), float(r.rank)) for r in conn.execute(q)]
        if not ranked:
            return []
        rows = conn.execute(select(papers).where(papers.c.id.in_([i for i, _ in ranked])))
        by_id = {r.id: r for r in rows}
        return [(by_id[i], r) for i, r in ranked if i in by_id]
