"""A bad value in one source entry costs that entry at most: every numeric, date and text
field of every parsed paper passes one gate (bot.sources.guard) before the archive, and
the papers that pass are storable in a real SQLite archive."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.models import Paper, ParseResult
from bot.sources.detect import parse_any
from bot.sources.guard import MAX_COUNT, checked_result
from bot.store.archive import Archive
from bot.store.db import make_engine
from bot.store.migrations import migrate

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
HUGE = "9" * 5000


def answer(field: str, raw_value: str, *, entries: int = 30) -> bytes:
    items = [
        {
            "paper": {
                "id": f"2611.{i + 100:05d}",
                "title": f"Paper number {i}",
                "summary": "An abstract.",
                "upvotes": i,
            }
        }
        for i in range(entries)
    ]
    items[3]["paper"][field] = "@@POISON@@"
    return json.dumps(items).replace('"@@POISON@@"', raw_value).encode()


POISONS = {
    "int64 upvotes": ("upvotes", str(2**63)),
    "5000-digit upvotes": ("upvotes", HUGE),
    "negative 5000-digit upvotes": ("upvotes", "-" + HUGE),
    "NaN upvotes": ("upvotes", "NaN"),
    "Infinity upvotes": ("upvotes", "Infinity"),
    "1e999 upvotes": ("upvotes", "1e999"),
    "float upvotes": ("upvotes", "3.5"),
    "list upvotes": ("upvotes", "[1, 2]"),
    "bool upvotes": ("upvotes", "true"),
    "5000-digit id": ("id", HUGE),
    "object title": ("title", '{"text": "x"}'),
    "date overflowing in UTC": ("submittedOnDailyAt", '"9999-12-31T23:59:59-23:59"'),
    "date underflowing in UTC": ("publishedAt", '"0001-01-01T00:00:00+23:59"'),
    "5000-digit date": ("publishedAt", HUGE),
    "nested junk authors": ("authors", '[[[[[{"name": [[{"x": {}}]]}]]]], 5, null]'),
    "junk keywords": ("ai_keywords", '{"a": [1, {"b": NaN}]}'),
    "number summary": ("summary", "1e400"),
}


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    engine = make_engine(str(tmp_path / "p.db"))
    migrate(engine)
    return Archive(engine)


@pytest.mark.parametrize("poison", POISONS, ids=list(POISONS))
def test_a_poisoned_value_costs_at_most_its_entry(poison: str, archive: Archive) -> None:
    field, raw = POISONS[poison]
    result = parse_any(answer(field, raw), source="hf")
    assert len(result.papers) + len(result.rejected) == 30, (result.rejected, result.notes)
    assert len(result.papers) >= 29, result.rejected
    for paper in result.papers:
        assert paper.upvotes is None or 0 <= paper.upvotes <= MAX_COUNT
    stored = archive.upsert(result.papers, now=NOW)  # real SQLite accepts every paper
    assert stored.new == len(result.papers)


def test_the_gate_drops_or_rejects_every_unusable_field() -> None:
    good = Paper(title="A good paper", abstract="Fine.", arxiv_id="2611.00001", upvotes=3)
    bad = [
        Paper(title="Huge count", upvotes=2**63),
        Paper(title="Negative count", upvotes=-1),
        Paper(title="Float count", upvotes=float("nan")),  # type: ignore[arg-type]
        Paper(title="Far future", published=datetime(9999, 1, 1, tzinfo=UTC)),
        Paper(title="Naive date", published=datetime(2026, 1, 1)),
        Paper(title="Old day", daily_date=date(1, 1, 1)),
        Paper(title="Junk authors", authors=("A", 5, None)),  # type: ignore[arg-type]
        Paper(title="Junk link", github_repo=["x"]),  # type: ignore[arg-type]
        Paper(title=12345),  # type: ignore[arg-type]
        Paper(title="Id number", arxiv_id=2611.00001),  # type: ignore[arg-type]
    ]
    result = checked_result(ParseResult("x", (good, *bad)))
    assert result.papers[0] is good
    kept = {p.title: p for p in result.papers}
    assert kept["Huge count"].upvotes is None and kept["Negative count"].upvotes is None
    assert kept["Float count"].upvotes is None
    assert kept["Far future"].published is None and kept["Naive date"].published is None
    assert kept["Old day"].daily_date is None
    assert kept["Junk authors"].authors == ("A",)
    assert kept["Junk link"].github_repo is None
    assert [r.location for r in result.rejected] == ["paper 10", "paper 11"]
    assert any("ignored unusable upvotes" in note for note in result.notes)


def test_cli_ingest_of_an_int64_count_stores_all_30_entries(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"database: {tmp_path / 'p.db'}\n")
    dump = tmp_path / "hf.json"
    dump.write_bytes(answer("upvotes", str(2**63)))
    result = CliRunner().invoke(cli, ["--config", str(config), "ingest", str(dump)])
    assert result.exit_code == 0, result.output
    assert "parsed 30, new 30" in result.output
    assert "ignored paper.upvotes" in result.output
    assert "archive: 30 papers (30 new)" in result.output
