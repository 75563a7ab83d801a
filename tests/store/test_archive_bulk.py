"""The archive's bulk write path: many new papers in one batch (multi-row inserts), the
full-text index they get, and merges inside a batch that keep first_seen and title keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from bot.errors import StoreError
from bot.models import Paper, SearchQuery
from bot.store.archive import BATCH, Archive

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "kilo")


def _word(i: int) -> str:
    """A distinct searchable word per number ("alphabravo…"), digits spelled out."""
    return "".join(WORDS[int(d)] for d in str(i))


def test_a_large_batch_is_stored_in_order_and_indexed(engine: Engine) -> None:
    archive = Archive(engine)
    papers = [
        Paper(
            title=f"Study {i} of {_word(i)}",
            abstract=f"We look at {_word(i)} closely.",
            authors=(f"Zoë {i}",) if i % 2 else (),
            sources=("dump",),
        )
        for i in range(BATCH * 2 + 7)
    ]
    result = archive.upsert(papers, now=T0)
    assert result.new == len(papers) and result.new_keys == [p.key for p in papers]
    stored = archive.all()
    assert [p.key for p in stored] == [p.key for p in papers]  # ids follow the input
    assert all(p.first_seen == T0 for p in stored)
    assert [p.authors for p in stored] == [p.authors for p in papers]
    for i in (0, BATCH - 1, BATCH, len(papers) - 1):
        found = archive.fts(SearchQuery((_word(i),)), limit=10)
        assert [p.key for p, _ in found] == [papers[i].key]
    assert [p.key for p, _ in archive.fts(SearchQuery(("zoë",)), limit=5000)] != []
    again = archive.upsert(papers, now=T0 + timedelta(days=1))
    assert (again.new, again.known, again.updated) == (0, len(papers), 0)
    assert archive.count() == len(papers)


def test_a_paper_new_in_the_batch_gets_now_as_first_seen_before_merging(engine: Engine) -> None:
    archive = Archive(engine)
    later = T0 + timedelta(hours=5)
    earlier = T0 - timedelta(days=3)
    result = archive.upsert(
        [
            Paper(title="Late Merge", sources=("a",)),
            Paper(title="Late merge", abstract="longer", sources=("b",), first_seen=later),
            Paper(title="Early Merge", sources=("a",)),
            Paper(title="Early merge", sources=("b",), first_seen=earlier),
        ],
        now=T0,
    )
    assert (result.new, result.known) == (2, 0)
    late, early = archive.get("late merge"), archive.get("early merge")
    assert late is not None and late.first_seen == T0 and late.abstract == "longer"
    assert early is not None and early.first_seen == earlier


def test_a_title_adopted_from_an_arxiv_record_keys_later_records_of_the_batch(
    engine: Engine,
) -> None:
    archive = Archive(engine)
    archive.upsert([Paper(title="Old Stored Paper", sources=("dump",))], now=T0)
    result = archive.upsert(
        [
            Paper(title="Fresh Paper", sources=("dump",)),
            Paper(title="FRESH paper!", arxiv_id="2501.00009", sources=("hf",)),
            Paper(title="fresh paper", abstract="Seen again.", sources=("rss",)),
            Paper(title="OLD stored paper?", arxiv_id="2501.00010", sources=("hf",)),
            Paper(title="Old stored paper", abstract="Again.", sources=("rss",)),
        ],
        now=T0 + timedelta(hours=1),
    )
    assert (result.new, result.known, result.updated) == (1, 2, 1)
    assert result.rekeyed == [("old stored paper", "2501.00010")]
    fresh, old = archive.get("2501.00009"), archive.get("2501.00010")
    assert fresh is not None and fresh.title == "FRESH paper!" and fresh.abstract == "Seen again."
    assert fresh.sources == ("dump", "hf", "rss")
    assert old is not None and old.title == "OLD stored paper?" and old.abstract == "Again."
    assert archive.count() == 2


def test_a_value_the_store_cannot_write_fails_the_batch_with_store_error(engine: Engine) -> None:
    archive = Archive(engine)
    good = Paper(title="Good Paper", sources=("dump",))
    bad = [Paper(title="Naive Time", first_seen=datetime(2026, 1, 1))]
    if engine.dialect.name == "sqlite":  # psycopg raises the JSON encoder's TypeError itself
        bad.append(Paper(title="Odd Author", authors=(object(),)))  # type: ignore[arg-type]
    for paper in bad:
        with pytest.raises(StoreError, match="archive write failed: StatementError"):
            archive.upsert([good, paper], now=T0)
        assert archive.count() == 0
