"""The contract that keeps `/papers <query>` fast on a large archive (bot.search.Search,
Archive.fts): the newest papers first for a broad topic, the whole archive otherwise, generic
words left out of the full-text expression, and every change of the index seen by the next
query. On SQLite and PostgreSQL (`database`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

import bot.search
from bot.models import Paper, SearchQuery
from bot.pipeline.lexicon import build
from bot.pipeline.query import understand
from bot.search import Search, fts_query, topic_query
from bot.store.archive import Archive
from bot.store.db import make_engine
from bot.store.migrations import migrate
from bot.store.schema import papers

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
FILLER = "We report experiments on standard benchmarks and release our code."


def _paper(n: int, title: str, abstract: str) -> Paper:
    return Paper(title=title, abstract=abstract + " " + FILLER, arxiv_id=f"2601.{n:05d}")


# Stored in this order (ids 1 ... 8): the best "graph diffusion" paper is the oldest.
OLD = [
    _paper(1, "Graph Diffusion", "Graph diffusion on graph diffusion kernels."),
    _paper(2, "Protein Folding with Lattice Models", "Lattice proteins fold."),
    _paper(3, "Graph Diffusion for Molecules", "We apply graph diffusion to molecules."),
]
NEW = [
    _paper(4, "Scalable Graph Diffusion Networks", "Graph diffusion at scale, with graphs."),
    _paper(5, "Graph Diffusion Meets Transformers", "Attention over graph diffusion."),
    _paper(6, "Sparse Graph Diffusion", "A sparse graph diffusion operator for graphs."),
    _paper(7, "Quantum Error Correction Codes", "Surface codes for qubits and graphs."),
    _paper(8, "Robust Speech Recognition", "Speech recognition under noise."),
]


@pytest.fixture
def archive(database: str) -> Iterator[Archive]:
    engine = make_engine(database)
    migrate(engine)
    archive = Archive(engine)
    for i, paper in enumerate(OLD + NEW):  # one at a time: ids follow this order
        archive.upsert([paper], now=T0 + timedelta(hours=i))
    yield archive
    engine.dispose()


def keys(found: list[tuple[Paper, float]]) -> list[str]:
    return [p.key for p, _ in found]


MATCH = SearchQuery(("graph diffusion", "graph", "diffusion"))
TOPIC = replace(MATCH, topic=("graph diffusion",))  # the same, with its topic


def test_a_broad_topic_is_answered_by_the_newest_papers_with_the_same_ranks(
    archive: Archive,
) -> None:
    everything = archive.fts(MATCH, limit=20)
    assert keys(everything)[0] == OLD[0].key  # the best match of all is old
    # The 5 newest papers hold 3 with the topic in their title: for 3 candidates, enough.
    newest = archive.fts(TOPIC, limit=3, recent=5)
    assert set(keys(newest)) == {p.key for p in NEW[:3]}
    ranks = dict((p.key, r) for p, r in everything)
    for paper, rank in newest:  # bm25's statistics are the whole archive's either way
        assert rank == pytest.approx(ranks[paper.key], rel=1e-6)
    assert [r for _, r in newest] == sorted(r for _, r in newest)


def test_too_few_recent_papers_on_the_topic_search_the_whole_archive(archive: Archive) -> None:
    everything = archive.fts(MATCH, limit=4)
    assert archive.fts(TOPIC, limit=4, recent=5) == everything
    # the paper on qubits says "graphs" (a loose word), not the topic: it does not count
    assert archive.fts(TOPIC, limit=4, recent=2) == archive.fts(MATCH, limit=4)
    # no topic: the expression itself decides
    assert set(keys(archive.fts(MATCH, limit=3, recent=5))) == {p.key for p in NEW[:3]}
    assert archive.fts(MATCH, limit=3, recent=0) == archive.fts(MATCH, limit=3)
    assert archive.fts(MATCH, limit=3, recent=10_000) == archive.fts(MATCH, limit=3)


def test_search_shows_recent_papers_for_a_broad_topic_and_finds_old_specific_ones(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.search, "CANDIDATES", 3)
    lexicon = build(archive.all())
    recent, whole = Search(archive, lambda: lexicon, recent=5), Search(archive, lambda: lexicon)
    broad = recent.search("graph diffusion", limit=5)
    assert {h.paper.key for h in broad.hits} == {p.key for p in NEW[:3]}
    assert OLD[0].key in {h.paper.key for h in whole.search("graph diffusion").hits}
    for query in ("protein folding", "Graph Diffusion for Molecules", "speech recognition"):
        assert recent.search(query) == whole.search(query), query  # specific: as before
    assert Search(archive, lambda: lexicon, recent=0).search("graph diffusion") == whole.search(
        "graph diffusion"
    )


def test_generic_words_are_left_out_unless_nothing_else_is_left(archive: Archive) -> None:
    lexicon = build(archive.all())  # every paper says "benchmarks", "experiments", "code"
    concept = understand("speech benchmarks", lexicon)
    full, lean = fts_query(concept), fts_query(concept, lexicon)
    assert full is not None and "benchmarks" in full.terms
    assert lean is not None and "benchmarks" not in lean.terms
    assert "speech benchmarks" in lean.terms and "speech" in lean.terms
    benchmarks = fts_query(understand("benchmarks", lexicon), lexicon)
    assert benchmarks is not None and benchmarks.terms == ("benchmarks",)
    assert topic_query(concept) == ("speech benchmarks",) == lean.topic


def test_a_query_whose_specific_words_match_nothing_falls_back_to_the_generic_ones(
    archive: Archive,
) -> None:
    lexicon = build(archive.all())
    result = Search(archive, lambda: lexicon).search("benchmarks zzyzxqv")
    assert len(result.hits) == 5 and result.total == len(OLD + NEW)


def test_results_follow_every_change_of_the_index(archive: Archive) -> None:
    """A new paper, a changed abstract and a changed title are all seen by the next query;
    upvotes come fresh."""
    query = SearchQuery(("holography",))
    assert archive.fts(query, limit=5) == []
    archive.upsert([_paper(9, "Neural Holography", "Holograms.")], now=T0 + timedelta(days=1))
    assert keys(archive.fts(query, limit=5)) == ["2601.00009"]
    # the same paper again, with an abstract that now says it, and upvotes
    grown = Paper(
        title=OLD[1].title,
        abstract=OLD[1].abstract + " Holography of lattices.",
        arxiv_id=OLD[1].arxiv_id,
        upvotes=42,
    )
    archive.upsert([grown], now=T0 + timedelta(days=2))
    found = archive.fts(query, limit=5)
    assert keys(found) == ["2601.00009", OLD[1].key]
    assert found[1][0].upvotes == 42
    assert archive.fts(SearchQuery(("everywhere",)), limit=5) == []
    with archive._engine.begin() as conn:  # a title changed by any writer
        conn.execute(
            update(papers).where(papers.c.key == "2601.00009").values(title="Holography Everywhere")
        )
    assert keys(archive.fts(SearchQuery(("everywhere",)), limit=5)) == ["2601.00009"]
    assert keys(archive.fts(query, limit=5)) == ["2601.00009", OLD[1].key]
