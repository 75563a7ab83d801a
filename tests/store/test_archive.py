"""Archive identity, merging, idempotency and the full-text index, on a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from bot.models import Paper, SearchQuery
from bot.store.archive import BATCH, Archive

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _fts_keys(engine: Engine, term: str) -> set[str]:
    """Keys of the papers the full-text index finds for `term` (a phrase): FTS5 on SQLite,
    the tsvector column on PostgreSQL."""
    return {p.key for p, _ in Archive(engine).fts(SearchQuery((term,)), limit=100)}


def test_same_arxiv_id_from_two_sources_is_one_paper(engine: Engine) -> None:
    archive = Archive(engine)
    rss = Paper(
        title="Sparse Experts at Scale",
        abstract="Short.",
        arxiv_id="2406.01234",
        authors=("A. One",),
        sources=("arxiv",),
    )
    hf = Paper(
        title="Sparse Experts at Scale",
        abstract="A much longer abstract text.",
        arxiv_id="2406.01234",
        upvotes=42,
        ai_summary="MoE scales.",
        github_repo="https://github.com/x/y",
        sources=("hf",),
    )
    assert archive.upsert([rss], now=T0).new == 1
    second = archive.upsert([hf], now=T0 + timedelta(hours=1))
    assert (second.new, second.known, second.updated) == (0, 1, 1)
    stored = archive.get("2406.01234")
    assert stored is not None
    assert archive.count() == 1
    assert stored.upvotes == 42 and stored.ai_summary == "MoE scales."
    assert stored.github_repo == "https://github.com/x/y"
    assert stored.abstract == "A much longer abstract text."
    assert stored.authors == ("A. One",)
    assert stored.sources == ("arxiv", "hf")
    assert stored.first_seen == T0  # the earliest sighting stays


def test_title_first_then_arxiv_id_is_rekeyed_not_duplicated(engine: Engine) -> None:
    archive = Archive(engine)
    dump = Paper(title="Qwen2 Technical Report", abstract="From a dump.", sources=("dump",))
    archive.upsert([dump], now=T0)
    assert archive.get("qwen2 technical report") is not None
    result = archive.upsert(
        [Paper(title="Qwen2 Technical Report", arxiv_id="2407.10671", sources=("hf",))],
        now=T0 + timedelta(days=1),
    )
    assert result.new == 0 and result.rekeyed == [("qwen2 technical report", "2407.10671")]
    assert archive.count() == 1
    stored = archive.get("2407.10671")
    assert stored is not None and stored.key == "2407.10671"
    assert stored.abstract == "From a dump." and stored.first_seen == T0


def test_arxiv_first_then_title_only_attaches_to_it(engine: Engine) -> None:
    archive = Archive(engine)
    archive.upsert([Paper(title="Edge-MoE: Sparse Vision", arxiv_id="2305.18691")], now=T0)
    result = archive.upsert([Paper(title="edge-moe:  sparse VISION", abstract="x")], now=T0)
    assert (result.new, result.known) == (0, 1)
    assert archive.count() == 1


def test_similar_titles_stay_different_papers(engine: Engine) -> None:
    archive = Archive(engine)
    titles = [
        "Qwen2 Technical Report",
        "Qwen2.5 Technical Report",
        "Multi-Head Mixture-of-Experts",
        "MH-MoE: Multi-Head Mixture-of-Experts",
        "MH-MoE:Multi-Head Mixture-of-Experts",  # same as the previous one, spacing only
    ]
    result = archive.upsert([Paper(title=t) for t in titles], now=T0)
    assert result.new == 4 and result.known == 0
    assert archive.count() == 4


def test_same_title_different_arxiv_ids_are_not_merged(engine: Engine) -> None:
    archive = Archive(engine)
    archive.upsert([Paper(title="Attention", arxiv_id="2401.00001")], now=T0)
    archive.upsert([Paper(title="Attention", arxiv_id="2402.00002")], now=T0)
    assert archive.count() == 2


def test_upsert_is_idempotent_and_counts_known(engine: Engine) -> None:
    archive = Archive(engine)
    papers = [Paper(title=f"Paper number {i}", abstract="a" * i) for i in range(BATCH * 2 + 7)]
    first = archive.upsert(papers, now=T0)
    again = archive.upsert(papers, now=T0 + timedelta(days=1))
    assert first.new == len(papers)
    assert (again.new, again.known, again.updated) == (0, len(papers), 0)
    assert archive.count() == len(papers)


def test_duplicates_within_one_batch_are_merged(engine: Engine) -> None:
    archive = Archive(engine)
    result = archive.upsert(
        [
            Paper(title="One Paper", sources=("dump-a",)),
            Paper(title="One  paper", abstract="longer", sources=("dump-b",)),
            Paper(title="One Paper", arxiv_id="2501.00001", sources=("hf",)),
        ],
        now=T0,
    )
    assert result.new == 1 and archive.count() == 1
    stored = archive.get("2501.00001")
    assert stored is not None and stored.sources == ("dump-a", "dump-b", "hf")


def test_full_text_index_follows_inserts_and_updates(engine: Engine) -> None:
    archive = Archive(engine)
    archive.upsert([Paper(title="Routing tokens", abstract="", arxiv_id="2501.00002")], now=T0)
    assert _fts_keys(engine, "routing") == {"2501.00002"}
    assert _fts_keys(engine, "gating") == set()
    archive.upsert(
        [Paper(title="Routing tokens", abstract="A gating network.", arxiv_id="2501.00002")],
        now=T0,
    )
    assert _fts_keys(engine, "gating") == {"2501.00002"}
    assert _fts_keys(engine, "routing tokens") == {"2501.00002"}


def test_since_returns_the_window_by_first_seen(engine: Engine) -> None:
    archive = Archive(engine)
    archive.upsert([Paper(title="Old")], now=T0 - timedelta(days=3))
    archive.upsert([Paper(title="New")], now=T0)
    assert [p.title for p in archive.since(T0 - timedelta(days=1))] == ["New"]
    assert [p.title for p in archive.since(T0 - timedelta(days=5), T0 - timedelta(days=1))] == [
        "Old"
    ]
    assert archive.latest_day() == T0.date()


def test_unicode_titles_roundtrip(engine: Engine) -> None:
    archive = Archive(engine)
    title = "Ｆｕｌｌｗｉｄｔｈ «Ünïcode» 模型 <!channel> @everyone"
    archive.upsert([Paper(title=title, authors=("Zoë Ünal",))], now=T0)
    stored = archive.all()[0]
    assert stored.title == title and stored.authors == ("Zoë Ünal",)
    assert archive.get(title) is not None
