"""PostgreSQL full-text search of the archive: a weighted tsvector column with a GIN index,
and the BM25 ranking Archive.fts runs there, computed like SQLite FTS5's bm25().

The document is title (weight A), abstract (B) and authors (C), folded like the query side
(bot.pipeline.text.fold: accents and full-width letters) with punctuation as spaces, so that
words split where FTS5's unicode61 tokenizer splits them (`Mixture-of-Experts`,
`Qwen2.5`), then stemmed by PostgreSQL's `english` configuration. Both columns are generated
by the database on every insert and update, so they can never be out of date.

The query is a bot.models.SearchQuery (bot.search.fts_query builds it from the understood
topic: acronyms both ways, variants, typo repairs). Each of its terms, folded, is passed as
one element of a text[] parameter and becomes a `phraseto_tsquery`: user text is never
parsed as tsquery syntax. `PgFullText` is bot.store.fulltext.FullText on PostgreSQL (the
SQLite counterpart is bot/store/fts5.py).

The rank is FTS5's: for each term, its IDF over the archive times its saturated,
length-normalized frequency (k1 1.2, b 0.75), where the frequency is the term's occurrences
weighted by column, as `ts_rank_cd` (cover density) sums them per occurrence. Only the
matches whose score bound can reach the top are scored (`ranked`). Measured on the seed
dumps, the seven subscriptions of the relevance labels give the same top 5 as on SQLite
(tests/test_search_backends.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Float, Row, TextualSelect, bindparam, column, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import Text

from bot.models import SearchQuery
from bot.pipeline.text import fold
from bot.store.schema import papers

CONFIG = "english"  # Snowball English stems and stop words
VECTOR = "search_vector"  # tsvector: title A, abstract B, authors C
LENGTH = "search_length"  # tokens in the document (stop words count), as FTS5 counts them
K1, B = 1.2, 0.75  # FTS5's bm25 constants
# Punctuation and symbols that become spaces, so that words split where FTS5's unicode61
# tokenizer splits them (`Mixture-of-Experts`, `Qwen2.5`, `C++`): ASCII punctuation, the
# Latin-1 ones, × ÷, and General Punctuation (dashes, curly quotes, ellipsis). Explicit
# ranges: independent of the database's locale.
_PUNCTUATION = (
    r"[\u0021-\u002f\u003a-\u0040\u005b-\u0060\u007b-\u007e"
    r"\u00a0-\u00bf\u00d7\u00f7\u2000-\u206f]"
)
# A word as FTS5 counts it: a run of characters that are neither whitespace nor punctuation.
_NOT_WORD = r"[^\s" + _PUNCTUATION[1:-1] + "]+"
# Combining marks, dropped after NFKD as bot.pipeline.text.fold drops them (é -> e).
_MARKS = r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]"


def _weighted(expr: str, label: str) -> str:
    return f"setweight(to_tsvector('{CONFIG}'::regconfig, paperboy_fold({expr})), '{label}')"


def index_ddl() -> list[str]:
    """The statements that add the search index to `papers`: the functions, the generated
    `search_vector` with its GIN index and `search_length` with a B-tree index (the average
    length is then read from the index alone). Idempotent. Needs a UTF8 database (the
    default) for Unicode normalization."""
    document = " || ".join(
        _weighted(f"coalesce(${i}, '')", label) for i, label in ((1, "A"), (2, "B"), (3, "C"))
    )
    columns = "title, abstract, authors::text"
    return [
        # What bot.pipeline.text.fold does to the query (NFKD, marks dropped; only text
        # that is not plain ASCII needs it), then punctuation as spaces.
        f"""CREATE OR REPLACE FUNCTION paperboy_fold(text) RETURNS text
            LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
            SELECT regexp_replace(
                CASE WHEN octet_length($1) = char_length($1) THEN $1
                     ELSE regexp_replace(normalize($1, NFKD), '{_MARKS}', '', 'g') END,
                '{_PUNCTUATION}', ' ', 'g')
            $fn$""",
        f"""CREATE OR REPLACE FUNCTION paperboy_document(text, text, text) RETURNS tsvector
            LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$ SELECT {document} $fn$""",
        # Tokens as FTS5 counts them for bm25's length normalization: every word (stop
        # words too) of the three columns, i.e. the runs of neither whitespace nor
        # punctuation in the folded text, counted in one pass (regexp_count: PostgreSQL 15+;
        # migration 0012 has the same text).
        f"""CREATE OR REPLACE FUNCTION paperboy_words(text, text, text) RETURNS integer
            LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
            SELECT regexp_count(
                CASE WHEN octet_length(t) = char_length(t) THEN t
                     ELSE regexp_replace(normalize(t, NFKD), '{_MARKS}', '', 'g') END,
                '{_NOT_WORD}')
            FROM (SELECT concat_ws(' ', $1, $2, $3) AS t) AS joined
            $fn$""",
        f"""ALTER TABLE papers ADD COLUMN IF NOT EXISTS {VECTOR} tsvector
            GENERATED ALWAYS AS (paperboy_document({columns})) STORED""",
        f"""ALTER TABLE papers ADD COLUMN IF NOT EXISTS {LENGTH} integer
            GENERATED ALWAYS AS (paperboy_words({columns})) STORED""",
        f"CREATE INDEX IF NOT EXISTS ix_papers_{VECTOR} ON papers USING gin ({VECTOR})",
        f"CREATE INDEX IF NOT EXISTS ix_papers_{LENGTH} ON papers ({LENGTH})",
    ]


def terms(phrases: Sequence[str]) -> list[str]:
    """SearchQuery terms folded as the document is (accents, full-width letters), once each."""
    return list(dict.fromkeys(fold(p) for p in phrases))


def _score(labels: str, top: float) -> str:
    """The BM25 score of the row `papers` (its vector read once as `doc.v`): for each query
    term it contains, IDF times the saturated, length-normalized weighted frequency."""
    norm = f"{K1} * (1 - {B} + {B} * papers.{LENGTH} / corpus.avgdl)"
    return f"""(
        SELECT coalesce(sum(term.idf * f.tf * {K1 + 1} / (f.tf + {norm})), 0)
        FROM term
        CROSS JOIN LATERAL (
            SELECT ts_rank_cd('{labels}', doc.v, term.q) * {top} / term.unit AS tf
        ) AS f
        WHERE doc.v @@ term.q
    )"""


# The row's vector, read (and decompressed) once rather than once per term.
_DOC = f"CROSS JOIN LATERAL (SELECT papers.{VECTOR} || ''::tsvector AS v OFFSET 0) AS doc"


def matching(
    phrases: Sequence[str], *, after: int, limit: int, title: bool = False
) -> TextualSelect:
    """The ids (at most `limit`) of papers above id `after` with one of `phrases` (SearchQuery
    terms; in the title, weight A, with `title`)."""
    document = f"ts_filter(papers.{VECTOR}, '{{a}}')" if title else f"papers.{VECTOR}"
    sql = f"""
SELECT papers.id FROM papers
WHERE papers.id > :after AND {document} @@ ANY (ARRAY(
    SELECT phraseto_tsquery('{CONFIG}'::regconfig, t) FROM unnest(CAST(:terms AS text[])) AS t
))
LIMIT :limit
"""
    return (
        text(sql)
        .bindparams(
            bindparam("terms", terms(phrases), type_=ARRAY(Text)),
            bindparam("after", after),
            bindparam("limit", limit),
        )
        .columns(column("id"))
    )


def ranked(
    query: SearchQuery,
    *,
    weights: tuple[float, float, float],
    limit: int,
    pool: int = 0,
    after: int = 0,
) -> TextualSelect:
    """The `limit` best `papers` rows for `query` with their `rank`: minus the BM25 score,
    so that, as with FTS5's bm25(), lower is better and matches are negative. `weights`
    weigh the title, abstract and authors (FTS5's column weights). Ties go to the lower id.
    Only papers with an id above `after` are ranked, with the statistics (document
    frequencies, average length) of the whole archive, as FTS5 does for `rowid > after`.

    Exact, but not every match is scored: a term adds less than IDF × (k1 + 1), so the
    `pool` matches (default 2 × limit) with the highest such bound are scored first, then
    only the other matches whose bound reaches the limit-th best score found. A broad query
    (`learning` is in most papers) then ranks a few hundred papers, not all of them."""
    words = terms(query.terms)
    top = max(weights)
    title, abstract, authors = (w / top for w in weights)  # ts_rank_cd wants weights <= 1
    labels = f"{{0, {authors:.6g}, {abstract:.6g}, {title:.6g}}}"  # D (unused), C, B, A
    cols = ", ".join(f'papers."{c.name}"' for c in papers.c)
    score = _score(labels, top)
    sql = f"""
WITH query_term AS MATERIALIZED (
    -- each term: its query, and what one occurrence of it scores in ts_rank_cd (a phrase
    -- with a stop word inside scores less there), to count occurrences by
    SELECT t.i, phraseto_tsquery('{CONFIG}'::regconfig, t.term) AS q,
           ts_rank_cd('{{1,1,1,1}}', to_tsvector('{CONFIG}'::regconfig, t.term),
                      phraseto_tsquery('{CONFIG}'::regconfig, t.term)) AS unit
    FROM unnest(CAST(:terms AS text[])) WITH ORDINALITY AS t(term, i)
), pair AS MATERIALIZED (  -- (term, paper) for every paper that has the term: the index
    SELECT qt.i, p.id
    FROM query_term AS qt
    CROSS JOIN LATERAL (SELECT id FROM papers WHERE {VECTOR} @@ qt.q) AS p
    WHERE qt.unit > 0
), corpus AS MATERIALIZED (
    SELECT count(*) AS n, coalesce(avg({LENGTH}), 1) AS avgdl FROM papers
), term AS MATERIALIZED (
    SELECT qt.q, qt.unit, qt.i,
           greatest(ln((corpus.n - d.df + 0.5) / (d.df + 0.5)), 1e-6) AS idf
    FROM query_term AS qt
    JOIN (SELECT i, count(*) AS df FROM pair GROUP BY i) AS d ON d.i = qt.i
    CROSS JOIN corpus
), hit AS MATERIALIZED (  -- each matching paper with the bound of its score
    SELECT pair.id, sum(term.idf) * {K1 + 1} AS bound
    FROM pair JOIN term ON term.i = pair.i
    WHERE pair.id > :after
    GROUP BY pair.id
), pool AS MATERIALIZED (
    SELECT id FROM hit ORDER BY bound DESC, id LIMIT :pool
), pool_scored AS MATERIALIZED (
    SELECT papers.id, {score} AS score
    FROM papers CROSS JOIN corpus {_DOC}
    WHERE papers.id IN (SELECT id FROM pool)
), threshold AS MATERIALIZED (
    SELECT min(score) AS s
    FROM (SELECT score FROM pool_scored ORDER BY score DESC LIMIT :limit) AS best
), rest_scored AS MATERIALIZED (  -- matches outside the pool that could still make it
    SELECT papers.id, {score} AS score
    FROM hit JOIN papers ON papers.id = hit.id CROSS JOIN corpus {_DOC}
    WHERE hit.id NOT IN (SELECT id FROM pool) AND hit.bound >= (SELECT s FROM threshold)
)
SELECT {cols}, -scored.score AS rank
FROM (SELECT * FROM pool_scored UNION ALL SELECT * FROM rest_scored) AS scored
JOIN papers ON papers.id = scored.id
ORDER BY rank, papers.id
LIMIT :limit
"""
    columns: list[Any] = [*papers.c, column("rank", Float)]
    return (
        text(sql)
        .bindparams(
            bindparam("terms", words, type_=ARRAY(Text)),
            bindparam("limit", limit),
            bindparam("pool", max(pool or 2 * limit, limit)),
            bindparam("after", after),
        )
        .columns(*columns)
    )


class PgFullText:
    """bot.store.fulltext.FullText on PostgreSQL: the tsvector column and BM25 above."""

    def has_in_titles(
        self, conn: Connection, phrases: Sequence[str], count: int, after: int
    ) -> bool:
        """Whether at least `count` papers with an id above `after` have one of `phrases`
        in their title."""
        q = matching(phrases, after=after, limit=count, title=True).subquery()
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
        """The `limit` best `papers` rows with an id above `after`, with their rank."""
        statement = ranked(query, weights=weights, limit=limit, after=after)
        return [(r, float(r.rank)) for r in conn.execute(statement)]
