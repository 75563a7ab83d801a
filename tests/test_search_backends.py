"""Archive search gives the same answers on SQLite (FTS5) and PostgreSQL (tsvector): the seven
subscriptions of ../shared/relevance/README.md as `/papers` queries over the seed dumps have
the same top 5 (papers tied at the cut may trade places), and the full-text layer's BM25
ranks agree. Needs ../shared and a PostgreSQL server (each skips, saying why, without)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.pipeline.lexicon import Lexicon, build
from bot.pipeline.query import understand
from bot.search import CANDIDATES, Hit, Search, fts_query
from bot.sources.dump import parse_dump
from bot.store import pg_search
from bot.store.archive import FTS_WEIGHTS, Archive
from bot.store.db import make_engine
from bot.store.migrations import migrate

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
TOP = 5
QUERIES = [
    "moe",
    "multi-task learning",
    "spelling correction",
    "machine translation",
    "speech",
    "medical",
    "code generation",
]
pytestmark = [pytest.mark.shared, pytest.mark.postgres]


@pytest.fixture
def archives(shared_dir: Path, tmp_path: Path, pg_url: str) -> Iterator[dict[str, Archive]]:
    files = sorted((shared_dir / "seeds").glob("*.txt"))
    if not files:
        pytest.skip(f"no seed dumps in {shared_dir / 'seeds'}")
    engines = {"sqlite": make_engine(str(tmp_path / "p.db")), "postgresql": make_engine(pg_url)}
    archives = {}
    for name, engine in engines.items():
        migrate(engine)
        archives[name] = Archive(engine)
        for f in files:  # as `paperboy ingest` stores them
            archives[name].upsert(parse_dump(f.read_bytes(), source=f.name).papers, now=T0)
        assert archives[name].count() == 268
    yield archives
    for engine in engines.values():
        engine.dispose()


def _cut_ties(hits: tuple[Hit, ...]) -> tuple[set[str], set[str]]:
    """(papers surely in the top 5, papers tied with the 5th, which may trade places)."""
    if len(hits) <= TOP:
        return {h.paper.key for h in hits}, set()
    fifth = round(hits[TOP - 1].score, 6)
    sure = {h.paper.key for h in hits[:TOP] if round(h.score, 6) > fifth}
    tied = {h.paper.key for h in hits if round(h.score, 6) == fifth}
    return sure, tied


def test_top_five_agree_between_sqlite_and_postgres(archives: dict[str, Archive]) -> None:
    lexicon = build(archives["sqlite"].all())
    searches = {name: Search(a, lambda: lexicon) for name, a in archives.items()}
    report = []
    for query in QUERIES:
        results, elapsed = {}, {}
        for name, search in searches.items():
            started = time.perf_counter()
            results[name] = search.search(query, limit=TOP + 5)
            elapsed[name] = (time.perf_counter() - started) * 1000
        top = {name: {h.paper.key for h in r.hits[:TOP]} for name, r in results.items()}
        common = top["sqlite"] & top["postgresql"]
        report.append(
            f"{query!r}: {len(common)}/{TOP} the same; "
            f"sqlite {elapsed['sqlite']:.0f} ms, postgresql {elapsed['postgresql']:.0f} ms"
        )
        sure = {name: _cut_ties(r.hits) for name, r in results.items()}
        for this, other in (("sqlite", "postgresql"), ("postgresql", "sqlite")):
            must, _ = sure[this]
            allowed = top[other] | sure[other][1]
            assert must <= allowed, f"{query!r}: {this} ranks {sorted(must - allowed)} top"
        scores = {name: {h.paper.key: h.score for h in r.hits} for name, r in results.items()}
        for key in common:
            assert scores["sqlite"][key] == pytest.approx(scores["postgresql"][key], abs=0.05)
    print("\n" + "\n".join(report))


# Words that Porter (FTS5) and Snowball English (PostgreSQL) stem alike: the BM25 ranks are
# then the same numbers. Elsewhere the stems differ a little (Porter's `gener` also covers
# "general", so "generation" is in over half the seed papers there and weighs ~nothing).
SAME_STEMS = {"moe", "multi-task learning", "speech", "medical"}


def test_full_text_ranks_agree(archives: dict[str, Archive]) -> None:
    """The candidates that search re-ranks: for words both stemmers stem alike, the same
    papers with the same BM25 ranks (to 0.1 %); otherwise each backend's best ten are among
    the other's candidates."""
    lexicon: Lexicon = build(archives["sqlite"].all())
    for query in QUERIES:
        match = fts_query(understand(query, lexicon))
        assert match is not None
        found = {name: a.fts(match, limit=CANDIDATES) for name, a in archives.items()}
        ranks = {name: {p.key: rank for p, rank in hits} for name, hits in found.items()}
        lite, post = ranks["sqlite"], ranks["postgresql"]
        if query in SAME_STEMS:
            assert set(lite) == set(post), query
            for key in lite:
                assert post[key] == pytest.approx(lite[key], rel=1e-3, abs=1e-3), (query, key)
        for this, other in (("sqlite", "postgresql"), ("postgresql", "sqlite")):
            best = [p.key for p, _ in found[this][:10]]
            assert set(best) <= set(ranks[other]), (query, this)


def test_pruned_ranking_is_exact(archives: dict[str, Archive]) -> None:
    """PostgreSQL scores only the matches whose score bound can reach the top: the same rows
    and ranks as scoring every match (a small limit, so that pruning happens here)."""
    lexicon = build(archives["sqlite"].all())
    engine = archives["postgresql"]._engine
    for query in [*QUERIES, "learning", "language models", "transformer"]:
        match = fts_query(understand(query, lexicon))
        assert match is not None
        found = []
        for pool in (0, 100_000):  # 0: the default pool (2 × limit); 100,000: everything
            statement = pg_search.ranked(match, weights=FTS_WEIGHTS, limit=10, pool=pool)
            with engine.connect() as conn:
                found.append([(r.id, round(r.rank, 9)) for r in conn.execute(statement)])
        assert found[0] == found[1], query
