"""The HF Daily Papers API parser, on a synthetic answer and on a recorded real one."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.errors import SourceError
from bot.models import ParseResult, Rejected
from bot.sources.hf_daily import parse_hf_daily


def parse_json(data: object) -> ParseResult:
    return parse_hf_daily(json.dumps(data).encode(), source="hf")


@pytest.fixture
def small(fixtures_dir: Path) -> ParseResult:
    return parse_hf_daily((fixtures_dir / "hf_daily_small.json").read_bytes(), source="hf")


def test_full_entry(small: ParseResult) -> None:
    paper = small.papers[0]
    assert paper.arxiv_id == "2606.10100"
    assert paper.title == "Routing Tokens Through Sparse Experts for Multi-Task Learning"
    assert paper.abstract.startswith("We route tokens")
    assert paper.authors == ("Ada Example", "Wei Zhang", "Wei Zhang")  # namesakes kept
    assert paper.published == datetime(2026, 6, 10, tzinfo=UTC)
    assert paper.daily_date == date(2026, 6, 12)
    assert paper.upvotes == 42
    assert (
        paper.ai_summary == "Sparse expert routing shared across tasks reduces task interference."
    )
    assert paper.ai_keywords == ("mixture of experts", "multi-task learning", "routing")
    assert paper.github_repo == "https://github.com/example/sparse-mtl"
    assert paper.project_page == "https://example.github.io/sparse-mtl/"
    assert paper.sources == ("hf",)
    assert paper.key == "2606.10100"


def test_old_capture_hard_wraps_are_collapsed_and_version_stripped(small: ParseResult) -> None:
    paper = small.papers[1]
    assert paper.arxiv_id == "2410.01230"  # a string: the trailing zero survives
    assert paper.title == "A Hard-Wrapped Title from an Older Capture of the API"
    assert "\n" not in paper.abstract and "  " not in paper.abstract
    assert paper.authors == ("Old Capture Author",)
    assert paper.daily_date is None and paper.ai_summary is None and paper.ai_keywords == ()


def test_only_required_fields(small: ParseResult) -> None:
    paper = small.papers[2]
    assert (paper.arxiv_id, paper.title) == ("2606.10200", "Only the Required Fields")
    assert paper.authors == () and paper.upvotes is None and paper.published is None


def test_bad_optional_fields_are_dropped_with_notes(small: ParseResult) -> None:
    paper = small.papers[3]
    assert paper.title == "Ping <!channel> and @everyone in a Title"
    assert paper.upvotes is None and paper.github_repo is None and paper.published is None
    assert "entry 5: ignored paper.githubRepo (not an http(s) link)" in small.notes
    assert "entry 5: ignored paper.upvotes (not a count)" in small.notes


def test_single_level_items_are_accepted(small: ParseResult) -> None:
    assert small.papers[4].arxiv_id == "2606.10500"
    assert small.papers[4].upvotes == 1


def test_unusable_entries_are_rejected_with_their_index(small: ParseResult) -> None:
    assert small.rejected == (
        Rejected("entry 4", "missing paper.title"),
        Rejected("entry 7", "not an object but str"),
    )
    assert len(small.papers) == 5


@pytest.mark.parametrize(
    ("paper", "reason"),
    [
        ({"title": "T", "summary": "S"}, "missing paper.id"),
        ({"id": 2406.0123, "title": "T", "summary": "S"}, "paper.id is not a string"),
        ({"id": "not-an-id", "title": "T", "summary": "S"}, "paper.id is not an arXiv id"),
        ({"id": "2406.01234", "title": "  \n", "summary": "S"}, "missing paper.title"),
        ({"id": "2406.01234", "title": "T"}, "missing paper.summary"),
    ],
)
def test_required_fields(paper: dict[str, object], reason: str) -> None:
    result = parse_json([{"paper": paper}])
    assert result.papers == ()
    assert result.rejected[0].location == "entry 1"
    assert result.rejected[0].reason.startswith(reason)


def test_outer_title_and_summary_stand_in() -> None:
    item = {"paper": {"id": "2406.01234"}, "title": "Outer Title", "summary": "Outer summary."}
    assert parse_json([item]).papers[0].title == "Outer Title"


def test_repeated_paper_kept_once() -> None:
    item = {"paper": {"id": "2406.01234v1", "title": "T", "summary": "S"}}
    again = {"paper": {"id": "2406.01234v2", "title": "T", "summary": "S"}}
    result = parse_json([item, again])
    assert len(result.papers) == 1
    assert any("repeated" in note for note in result.notes)


def test_an_empty_day_is_a_success() -> None:
    result = parse_json([])
    assert result.papers == () and result.rejected == ()
    assert result.notes == ("the answer lists no papers",)


def test_a_single_object_is_one_item() -> None:
    result = parse_json({"paper": {"id": "2406.01234", "title": "T", "summary": "S"}})
    assert [p.arxiv_id for p in result.papers] == ["2406.01234"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"error": "Invalid date format"}', "the API answered an error: Invalid date format"),
        (b'{"papers": []}', r"expected a JSON array of papers, got an object \(keys: papers\)"),
        (b'"2406.01234"', "expected a JSON array of papers, got str"),
        (b'[{"paper": ', "invalid JSON"),
        (b"<!DOCTYPE html><html><body>Hugging Face is down</body></html>", "HTML page"),
        (b"<?xml version='1.0'?><rss version='2.0'/>", "looks like XML, not the HF Daily"),
        (b"Title\nAbstract.", "looks like plain text, not the HF Daily"),
        (b"", "empty"),
        (b"[" * 100_000, "nested too deeply|invalid JSON"),
    ],
)
def test_not_an_api_answer(content: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        parse_hf_daily(content, source="hf")


@pytest.mark.shared
def test_real_answer(shared_dir: Path) -> None:
    path = shared_dir / "fixtures" / "real" / "hf_daily_papers_2026-06-12.json"
    raw = json.loads(path.read_bytes())
    result = parse_hf_daily(path.read_bytes(), source="hf")
    assert result.rejected == ()
    assert len(result.papers) == len(raw) == 30
    for item, paper in zip(raw, result.papers, strict=True):
        expected = item["paper"]
        assert paper.arxiv_id == expected["id"]
        assert paper.title == " ".join(expected["title"].split())
        assert paper.upvotes == expected["upvotes"]
        assert paper.ai_summary == expected["ai_summary"]
        assert paper.github_repo == expected.get("githubRepo")
        assert paper.project_page == expected.get("projectPage")
        assert paper.daily_date == date(2026, 6, 12)
        assert paper.authors == tuple(a["name"] for a in expected["authors"])
    assert sum(paper.github_repo is not None for paper in result.papers) == 16


# --- an answer cut off by the end of the content ------------------------------------------


def _cut_inside_entry(raw: bytes, index: int) -> bytes:
    """`raw` (an array of entries) cut in the middle of entry `index` (0-based)."""
    items = json.loads(raw)
    head = json.dumps(items[:index])[:-1]  # without the closing bracket
    partial = json.dumps(items[index])
    return (head + (", " if index else "") + partial[: len(partial) // 2]).encode()


@pytest.mark.parametrize(
    "cut",
    [
        'ends mid-string: {"paper": {"id": "2606.00001", "title": "Half a Tit',
        'ends mid-number: {"paper": {"id": "2606.00001", "upvotes": 4',
        'ends mid-literal: {"paper": {"id": "2606.00001", "flag": tr',
        'ends after a key: {"paper": {"id": "2606.00001", "title"',
    ],
)
def test_truncated_answer_keeps_the_complete_entries(fixtures_dir: Path, cut: str) -> None:
    whole = json.loads((fixtures_dir / "hf_daily_small.json").read_bytes())
    text = json.dumps(whole[:2])[:-1] + ", " + cut.split(": ", 1)[1]
    result = parse_hf_daily(text.encode(), source="hf")
    assert [p.arxiv_id for p in result.papers] == ["2606.10100", "2410.01230"]
    assert result.rejected == (Rejected("entry 3", "cut off by the end of the content"),)
    assert any("cut off after 2 complete entries" in note for note in result.notes)


def test_truncated_between_entries_has_no_rejected_tail(fixtures_dir: Path) -> None:
    whole = json.loads((fixtures_dir / "hf_daily_small.json").read_bytes())
    result = parse_hf_daily((json.dumps(whole[:2])[:-1] + ",\n ").encode(), source="hf")
    assert len(result.papers) == 2 and result.rejected == ()
    assert any("cut off after 2 complete entries" in note for note in result.notes)


@pytest.mark.parametrize(
    "content", [b'[{"paper": {"id": "1"}} {"paper": 2}]', b'[{"paper": {"id": "1"}}, }]']
)
def test_invalid_json_in_the_middle_is_still_an_error(content: bytes) -> None:
    with pytest.raises(SourceError, match="invalid JSON"):
        parse_hf_daily(content, source="hf")


@pytest.mark.shared
def test_real_answer_cut_mid_entry_keeps_the_29_before_it(shared_dir: Path) -> None:
    raw = (shared_dir / "fixtures" / "real" / "hf_daily_papers_2026-06-12.json").read_bytes()
    cut = raw[: int(len(raw) * 0.97)]
    result = parse_hf_daily(cut, source="hf")
    assert len(result.papers) == 29
    assert [p.arxiv_id for p in result.papers] == [i["paper"]["id"] for i in json.loads(raw)][:29]
    assert result.rejected == (Rejected("entry 30", "cut off by the end of the content"),)
    with pytest.raises(SourceError, match=r"invalid JSON .*looks cut off"):
        parse_hf_daily(_cut_inside_entry(raw, 0), source="hf")  # nothing complete to keep
