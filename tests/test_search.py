"""Archive search (`/papers <query>`): safe FTS5 queries, ranking, acronyms, typos, and no
query string that makes it raise — on small synthetic papers in a real SQLite file, and
again in a PostgreSQL schema (skipped, with the reason, when no server is reachable)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

import bot.search
import pg
from bot.models import Paper, SearchQuery
from bot.pipeline.lexicon import Lexicon, build
from bot.pipeline.match import Matcher
from bot.pipeline.query import understand
from bot.search import CANDIDATES, RERANK, Search, SearchResult, clip, fts_query
from bot.store.archive import Archive
from bot.store.db import make_engine
from bot.store.migrations import migrate

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
FILLER = "We report experiments on standard benchmarks and release our code."

ROUTING = Paper(
    title="Sparse Mixture-of-Experts Routing at Scale",
    abstract=(
        "Mixture-of-Experts (MoE) layers send each token to a few experts. "
        "We balance the load of MoE routers. " + FILLER
    ),
    arxiv_id="2601.00001",
)
ABSTRACT_ONLY = Paper(
    title="Scaling Laws for Conditional Computation",
    abstract=(
        "We fit scaling laws for a mixture of experts and for dense transformers. "
        "Conditional computation lowers the cost. " + FILLER
    ),
    arxiv_id="2601.00002",
)
ACRONYM_ONLY = Paper(
    title="Phone-Sized MoE Inference",
    abstract="We run MoE language models on phones by caching the hot experts. " + FILLER,
    arxiv_id="2601.00003",
)
MOEBIUS = Paper(
    title="Moebius Convolutions on the Riemann Sphere",
    abstract="Moebius transformations give equivariant networks for spherical images. " + FILLER,
    arxiv_id="2601.00004",
)
HUMAN_EXPERTS = Paper(
    title="A Benchmark Curated by Domain Experts",
    abstract="Two hundred domain experts wrote research problems for language models. " + FILLER,
    arxiv_id="2601.00005",
)
SPELLING = Paper(
    title="Spelling Correction with Denoising Transformers",
    abstract="We correct misspellings in search queries with a denoising model. " + FILLER,
    arxiv_id="2601.00006",
    authors=("Ana Lopez", "Tomasz Wroblewski", "Zoë Ærnø"),
)
# Twins: same shape, so the same score; only first_seen and upvotes tell them apart.
TWIN_OLD = Paper(
    title="Quantum Annealing for Protein Folding",
    abstract="Quantum annealing folds small proteins. " + FILLER,
    arxiv_id="2601.00007",
    upvotes=50,
)
TWIN_NEW = Paper(
    title="Quantum Annealing for Protein Docking",
    abstract="Quantum annealing docks small proteins. " + FILLER,
    arxiv_id="2601.00008",
    upvotes=1,
)
TWIN_NEW_UPVOTED = Paper(
    title="Quantum Annealing for Protein Design",
    abstract="Quantum annealing designs small proteins. " + FILLER,
    arxiv_id="2601.00009",
    upvotes=9,
)
PAPERS = [ROUTING, ABSTRACT_ONLY, ACRONYM_ONLY, MOEBIUS, HUMAN_EXPERTS, SPELLING, TWIN_OLD]
LATER = [TWIN_NEW, TWIN_NEW_UPVOTED]

# FTS5 strings of letters and digits, OR-ed: nothing else may reach MATCH.
TERM = re.compile(r"[^\W_]+(?: [^\W_]+)*")  # words of letters and digits, nothing else
NASTY = [
    "",
    "   ",
    '"',
    '"moe',
    "moe\"'",
    "-moe",
    "moe -survey",
    "title:moe",
    "abstract : experts",
    "NOT",
    "moe NOT experts",
    "AND OR NOT",
    "NEAR(moe experts, 2)",
    "moe*",
    "*",
    "^moe",
    "C++",
    "(moe",
    "moe)",
    "{title abstract}: moe",
    "🤖🧠",
    "mixture 🤖 of experts",
    "مزيج من الخبراء",
    "\u202emoe\u202c",
    "<!channel> moe",
    "<@U123> <#C1|general>",
    "moe\x00experts",
    "\x00",
    "a" * 5000,
    "moe " * 1250,
    "ﬁne-tuning",
    "ＭｏＥ",
    "'); DROP TABLE papers; --",
]


@pytest.fixture(scope="module", params=pg.BACKENDS)
def archive_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path_factory.mktemp("search") / "paperboy.db")
        return
    with pg.temporary_schema() as url:
        yield url


@pytest.fixture(scope="module")
def archive(archive_db: str) -> Iterator[Archive]:
    engine = make_engine(archive_db)
    migrate(engine)
    archive = Archive(engine)
    archive.upsert(PAPERS, now=T0)
    archive.upsert(LATER, now=T0 + timedelta(days=1))
    yield archive
    engine.dispose()


@pytest.fixture(scope="module")
def lexicon(archive: Archive) -> Lexicon:
    return build(archive.all())


@pytest.fixture(scope="module")
def search(archive: Archive, lexicon: Lexicon) -> Search:
    return Search(archive, lambda: lexicon)


def titles(result: SearchResult) -> list[str]:
    return [h.paper.title for h in result.hits]


# --- the FTS5 expression ------------------------------------------------------------------


def test_fts_query_quotes_phrasings_and_words(lexicon: Lexicon) -> None:
    query = fts_query(understand("moe", lexicon))
    assert query is not None and all(TERM.fullmatch(t) for t in query.terms), query
    terms = query.terms
    assert "moe" in terms and "mixture of experts" in terms  # the acronym both ways
    assert "mixture" in terms and "experts" in terms  # words apart still match
    assert "of" not in terms  # a stopword alone matches everything


@pytest.mark.parametrize("text", ["", "   ", "!!! ??? ...", "🤖🧠", "---", '"', "\x00"])
def test_fts_query_is_none_when_nothing_is_searchable(lexicon: Lexicon, text: str) -> None:
    assert fts_query(understand(text, lexicon)) is None


@pytest.mark.parametrize("text", NASTY)
def test_fts_query_never_passes_syntax_through(lexicon: Lexicon, text: str) -> None:
    query = fts_query(understand(clip(text)[0], lexicon))
    assert query is None or all(TERM.fullmatch(t) for t in query.terms + query.topic), query


def test_archive_fts_ranks_by_bm25_and_reports_bad_syntax(archive: Archive) -> None:
    found = archive.fts(SearchQuery(("mixture of experts", "experts")), limit=10)
    assert [p.title for p, _ in found][:2] == [ROUTING.title, ABSTRACT_ONLY.title]
    ranks = [r for _, r in found]
    assert ranks == sorted(ranks) and ranks[0] < 0
    assert len(archive.fts(SearchQuery(("experts",)), limit=1)) == 1
    for raw in ("C++", '"moe"', "moe*", "a  b", "title:moe", ""):  # raw user text: no query
        with pytest.raises(ValueError, match="not a search term"):
            SearchQuery((raw,))
    with pytest.raises(ValueError, match="at least one term"):
        SearchQuery(())


# --- ranking ---------------------------------------------------------------------------------


def test_title_ranks_above_abstract(search: Search) -> None:
    result = search.search("mixture of experts")
    assert titles(result)[0] == ROUTING.title
    assert titles(result).index(ROUTING.title) < titles(result).index(ABSTRACT_ONLY.title)
    assert "title: 'mixture of experts'" in result.hits[0].reason
    scores = [h.score for h in result.hits]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)


def test_acronym_finds_the_long_form_and_explains_it(search: Search) -> None:
    result = search.search("moe")
    found = titles(result)
    assert {ROUTING.title, ABSTRACT_ONLY.title, ACRONYM_ONLY.title} <= set(found)
    assert any("'moe' = 'mixture of experts'" in n for n in result.notes)


def test_long_form_finds_the_acronym(search: Search) -> None:
    found = titles(search.search("Mixture-of-Experts", limit=10))
    assert ACRONYM_ONLY.title in found  # says only "MoE" (and "experts")


def test_moe_never_matches_moebius(search: Search) -> None:
    for query in ("moe", "MoE", "moes", "MOE models"):
        assert MOEBIUS.title not in titles(search.search(query, limit=20)), query
    assert titles(search.search("moebius"))[0] == MOEBIUS.title


def test_acronym_hits_rank_above_human_experts(search: Search) -> None:
    found = titles(search.search("moe", limit=20))
    if HUMAN_EXPERTS.title in found:
        assert found.index(HUMAN_EXPERTS.title) > found.index(ACRONYM_ONLY.title)


def test_typo_is_repaired_and_noted(search: Search) -> None:
    result = search.search("mixtrue of experts")
    assert titles(result)[0] == ROUTING.title
    assert "read 'mixtrue' as 'mixture'" in result.notes


def test_no_indexed_word_falls_back_to_similar_titles(search: Search) -> None:
    result = search.search("mixtureofexperts")  # one run-together word: not in the index
    assert titles(result)[:1] == [ROUTING.title]
    assert any("similar titles" in n for n in result.notes)
    assert result.hits[0].reason.startswith("title resembles")
    assert search.search("zzzzqqqq").hits == ()


def test_ties_go_to_the_newest_then_the_most_upvoted(search: Search) -> None:
    result = search.search("quantum annealing")
    assert titles(result) == [TWIN_NEW_UPVOTED.title, TWIN_NEW.title, TWIN_OLD.title]
    assert len({round(h.score, 6) for h in result.hits}) == 1


def test_limit_and_total(search: Search) -> None:
    full = search.search("experts", limit=50)
    assert full.total == len(full.hits) >= 4
    two = search.search("experts", limit=2)
    assert titles(two) == titles(full)[:2] and two.total == full.total
    assert search.search("experts", limit=0).hits == ()
    assert search.search("experts", limit=-3).hits == ()


def test_a_word_search_explains_itself(search: Search) -> None:
    result = search.search("denoising")
    assert titles(result) == [SPELLING.title]
    assert "denoising" in result.hits[0].reason


def test_authors_are_searchable_by_name(search: Search) -> None:
    for query in ("Wroblewski", "wroblewski", "Ana Lopez"):
        result = search.search(query)
        assert titles(result)[:1] == [SPELLING.title], query
    assert "authors: 'wroblewski'" in search.search("Wroblewski").hits[0].reason


def test_accented_author_names_are_searchable(search: Search) -> None:
    assert titles(search.search("Zoë"))[:1] == [SPELLING.title]


def test_long_query_is_cut_with_a_note(search: Search) -> None:
    result = search.search("spelling correction " + "lorem ipsum " * 2500)
    assert titles(result)[0] == SPELLING.title
    assert any(n.startswith("searched only the start") for n in result.notes)
    text, notes = clip("x" * 5000)
    assert len(text) == bot.search.MAX_QUERY_CHARS and notes


def test_matcher_sees_only_the_best_candidates(
    monkeypatch: pytest.MonkeyPatch, search: Search
) -> None:
    sizes: list[int] = []

    def spy(papers: list[Paper], lexicon: Lexicon) -> Matcher:
        sizes.append(len(papers))
        return Matcher(papers, lexicon)

    monkeypatch.setattr(bot.search, "Matcher", spy)
    search.search("experts")
    assert sizes and max(sizes) <= min(RERANK, CANDIDATES)


def test_the_lexicon_is_asked_once_per_search(archive: Archive, lexicon: Lexicon) -> None:
    calls: list[int] = []

    def counted() -> Lexicon:
        calls.append(1)
        return lexicon

    Search(archive, counted).search("moe")
    assert len(calls) == 1


def test_an_empty_archive_finds_nothing(database: str) -> None:
    engine: Engine = make_engine(database)
    migrate(engine)
    result = Search(Archive(engine), lambda: build([])).search("mixture of experts")
    assert result == SearchResult((), (), 0)
    engine.dispose()


# --- no input makes it raise ----------------------------------------------------------------


@pytest.mark.parametrize("text", NASTY)
def test_nasty_queries_do_not_raise(search: Search, text: str) -> None:
    result = search.search(text)
    assert len(result.hits) <= 5 and result.total >= len(result.hits)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.text(),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
        st.lists(
            st.sampled_from([*NASTY[:30], "moe", "experts", "mixture", "of", '"', "*", "-"]),
            max_size=8,
        ).map(" ".join),
    )
)
@example("\ud800 moe")  # a lone surrogate
@example("moe" + "\x00" * 100)
def test_no_query_string_makes_search_raise(search: Search, text: str) -> None:
    result = search.search(text, limit=3)
    assert len(result.hits) <= 3
    assert all(0.0 <= h.score <= 1.0 and h.reason for h in result.hits)
