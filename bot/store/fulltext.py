"""The contract of a full-text backend of the archive, and the backend of each database:
SQLite FTS5 (bot/store/fts5.py) or PostgreSQL's tsvector (bot/store/pg_search.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import Connection, Row

from bot.errors import StoreError
from bot.models import SearchQuery
from bot.store.fts5 import Fts5
from bot.store.pg_search import PgFullText


class FullText(Protocol):
    """One database's full-text index of `papers`, queried with a SearchQuery that it
    translates into its own query language (never user text). Called with a connection the
    Archive owns; SQLAlchemy errors propagate (the Archive raises them as StoreError).

    Ranks are bm25's as SQLite FTS5 computes it: lower is better, a match is negative, ties
    go to the lower id, and the statistics (document frequencies, average length) are the
    whole archive's even when only ids above `after` are ranked. `weights` weigh title,
    abstract and authors."""

    def has_in_titles(
        self, conn: Connection, phrases: Sequence[str], count: int, after: int
    ) -> bool:
        """Whether at least `count` papers with an id above `after` have one of `phrases`
        (SearchQuery terms) in their title."""
        ...

    def best(
        self,
        conn: Connection,
        query: SearchQuery,
        weights: tuple[float, float, float],
        limit: int,
        after: int,
    ) -> list[tuple[Row[Any], float]]:
        """The `limit` best `papers` rows with an id above `after`, with their rank."""
        ...


def full_text(dialect: str) -> FullText:
    """The backend of a database of this SQLAlchemy dialect; StoreError for any other."""
    if dialect == "postgresql":
        return PgFullText()
    if dialect == "sqlite":
        return Fts5()
    raise StoreError(f"archive search needs SQLite or PostgreSQL (this is {dialect})")
