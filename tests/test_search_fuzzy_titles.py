"""The fuzzy title fallback of `/papers <query>` (no word of the query is in the index)
reads the archive's titles once per lexicon, not once per query (250,000 titles take
seconds to read), and reads them again with a lexicon learned anew. Real SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz, process, utils

from bot.models import Paper
from bot.pipeline.lexicon import build
from bot.search import FUZZY_CUTOFF, Search, could_resemble
from bot.store.archive import Archive
from bot.store.db import make_engine
from bot.store.migrations import migrate

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
FILLER = "We report experiments on standard benchmarks and release our code."


def _paper(n: int, title: str) -> Paper:
    return Paper(title=title, abstract=f"On {title.lower()}. {FILLER}", arxiv_id=f"2601.{n:05d}")


class CountingArchive(Archive):
    """The real archive, counting how often search reads every title."""

    reads = 0

    def titles(self) -> list[tuple[str, str]]:
        self.reads += 1
        return super().titles()


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[CountingArchive]:
    engine = make_engine(str(tmp_path / "paperboy.db"))
    migrate(engine)
    archive = CountingArchive(engine)
    archive.upsert(
        [_paper(1, "Sparse Mixture-of-Experts Routing"), _paper(2, "Speech Recognition")], now=T0
    )
    yield archive
    engine.dispose()


def test_titles_are_read_once_per_lexicon_and_anew_with_a_new_one(
    archive: CountingArchive,
) -> None:
    lexicon = build(archive.all())
    search = Search(archive, lambda: lexicon)
    first = search.search("mixtureofexperts")
    assert [h.paper.arxiv_id for h in first.hits] == ["2601.00001"]
    assert search.search("mixtureofexperts") == first
    assert search.search("speechrecognition").hits[0].paper.arxiv_id == "2601.00002"
    assert archive.reads == 1

    archive.upsert([_paper(3, "Mixture-of-Experts Routing Revisited")], now=T0 + timedelta(1))
    lexicon = build(archive.all())  # what LexiconCache does when the archive grew
    again = search.search("mixtureofexperts", limit=5)
    assert {h.paper.arxiv_id for h in again.hits} == {"2601.00001", "2601.00003"}
    assert archive.reads == 2


def test_the_fallback_scores_as_rapidfuzz_with_its_default_processing(
    archive: CountingArchive,
) -> None:
    """Titles are processed once, the query each time: the same similarities as letting
    rapidfuzz process both (punctuation, case)."""
    lexicon = build(archive.all())
    hit = Search(archive, lambda: lexicon).search("MIXTUREOFEXPERTS!").hits[0]
    expected = fuzz.partial_ratio(
        "mixtureofexperts", hit.paper.title, processor=utils.default_process
    )
    assert hit.score == pytest.approx(expected / 100.0)


_TEXT = st.text(alphabet="abx y", max_size=30)


@settings(max_examples=400, deadline=None)
@given(query=st.text(alphabet="abx y", min_size=1, max_size=40), titles=st.lists(_TEXT))
def test_the_prefilter_keeps_every_title_that_can_reach_the_cutoff(
    query: str, titles: list[str]
) -> None:
    """`could_resemble` drops only titles whose partial_ratio is below the cutoff, so the
    fallback's answer is the same with it as without it (same scores, same order)."""
    kept = set(could_resemble(query, titles, FUZZY_CUTOFF))
    for i, title in enumerate(titles):
        if i not in kept:
            assert fuzz.partial_ratio(query, title) < FUZZY_CUTOFF, (query, title)
    everything = process.extract(
        query, titles, scorer=fuzz.partial_ratio, score_cutoff=FUZZY_CUTOFF, limit=5
    )
    indexes = sorted(kept)
    some = process.extract(
        query,
        [titles[i] for i in indexes],
        scorer=fuzz.partial_ratio,
        score_cutoff=FUZZY_CUTOFF,
        limit=5,
    )
    assert [(s, i) for _, s, i in everything] == [(s, indexes[j]) for _, s, j in some]


def test_a_query_of_few_characters_still_finds_the_title_it_resembles(
    archive: CountingArchive,
) -> None:
    archive.upsert([_paper(4, "Model 11112222 Sleeps")], now=T0 + timedelta(1))
    lexicon = build(archive.all())
    result = Search(archive, lambda: lexicon).search("111 2222")  # no indexed word, nor joined
    assert [h.paper.arxiv_id for h in result.hits] == ["2601.00004"]
    expected = fuzz.partial_ratio("111 2222", "model 11112222 sleeps") / 100.0
    assert result.hits[0].score == pytest.approx(expected)
    assert any("similar titles" in n for n in result.notes)
