"""The RSS/Atom parser: arXiv listings, the arXiv API, generic feeds, and recorded real feeds."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import SourceError
from bot.models import ParseResult, Rejected
from bot.sources.rss import parse_feed, split_authors


def feed(fixtures_dir: Path, name: str, **options: bool) -> ParseResult:
    return parse_feed((fixtures_dir / name).read_bytes(), source=name, **options)


def test_arxiv_rss_listing(fixtures_dir: Path) -> None:
    result = feed(fixtures_dir, "arxiv_rss_small.xml")
    assert result.format == "rss"
    assert [p.arxiv_id for p in result.papers] == ["2606.01001", "2606.01002", "2606.01003"]
    first = result.papers[0]
    assert first.title == "Qwen2 Technical Report"
    assert first.abstract == (
        "A made-up technical report about an open model family. It exists only to test the parser."
    )
    assert first.authors == ("Ada Example", "Grace Sample", "Alan Placeholder", "Edsger Dummy")
    assert first.categories == ("cs.CL", "cs.AI")
    assert first.published == datetime(2026, 6, 2, 4, 0, tzinfo=UTC)
    assert first.announce_type == "new"
    assert first.sources == ("arxiv_rss_small.xml",)
    assert result.rejected == ()


def test_markup_in_titles_and_abstracts_stays_literal(fixtures_dir: Path) -> None:
    paper = feed(fixtures_dir, "arxiv_rss_small.xml").papers[1]
    assert paper.title == "Ping <!channel> and @everyone: Escaping Markup in Feed Titles"
    assert paper.abstract.startswith("Titles may contain <!channel>, x < y and & characters")
    assert paper.authors == ("Paulo André Exemplo",)  # TeX accent from dc:creator


def test_announce_type_falls_back_to_the_description(fixtures_dir: Path) -> None:
    paper = feed(fixtures_dir, "arxiv_rss_small.xml").papers[2]
    assert (paper.arxiv_id, paper.announce_type) == ("2606.01003", "new")


def test_replacements_are_skipped_and_counted(fixtures_dir: Path) -> None:
    result = feed(fixtures_dir, "arxiv_rss_small.xml")
    assert "2605.09999" not in {p.arxiv_id for p in result.papers}
    assert result.notes == ("2 replacement(s) of already announced papers skipped",)
    assert result.rejected == ()
    everything = feed(fixtures_dir, "arxiv_rss_small.xml", include_replacements=True)
    replaced = {p.arxiv_id: p.announce_type for p in everything.papers if p.announce_type}
    assert replaced["2605.09999"] == "replace"
    assert replaced["2604.08888"] == "replace-cross"
    assert everything.notes == ()


def test_weekend_feed_is_empty_success(fixtures_dir: Path) -> None:
    result = feed(fixtures_dir, "arxiv_rss_weekend.xml")
    assert result.papers == () and result.rejected == ()
    assert "no items" in result.notes[0]


def test_arxiv_atom_listing(fixtures_dir: Path) -> None:
    result = feed(fixtures_dir, "arxiv_atom_small.xml")
    assert [(p.arxiv_id, p.title) for p in result.papers] == [
        ("2606.02001", "Qwen2.5 Technical Report"),
        ("2606.02002", "MH-MoE: Multi-Head Mixture-of-Experts"),
    ]
    assert result.papers[1].authors == ("José Nüñez", "Bjørn Placeholder")
    assert result.papers[1].announce_type == "cross"
    assert result.notes == ("1 replacement(s) of already announced papers skipped",)  # absonly


def test_arxiv_api_answer(fixtures_dir: Path) -> None:
    result = feed(fixtures_dir, "arxiv_api_small.xml")
    first, old = result.papers
    assert first.arxiv_id == "2403.04004"
    assert first.title == "Experts All the Way Down: A Hard-Wrapped Title"
    assert first.abstract.startswith("We stack mixtures of experts inside experts. The abstract")
    assert first.authors == ("Ada Example", "Grace Sample, Jr.", "José Mojibake")
    assert first.categories == ("cs.CL", "cs.LG")  # primary category first
    assert first.published == datetime(2024, 3, 7, 17, 30, tzinfo=UTC)
    assert first.announce_type is None
    assert old.arxiv_id == "hep-th/9901001"


def test_generic_feed(fixtures_dir: Path) -> None:
    result = feed(fixtures_dir, "generic_rss.xml")
    linked, unlinked = result.papers
    assert linked.arxiv_id == "2606.03003"
    assert linked.title == "Our New Paper on Sparse Experts"
    assert linked.abstract == "We wrote a paper about sparse experts & routing. Second paragraph."
    assert linked.published == datetime(2026, 6, 3, 7, 30, tzinfo=UTC)
    assert linked.project_page is None
    assert unlinked.arxiv_id is None
    assert unlinked.key == "notes from a reading group"
    assert unlinked.project_page == "https://lab.example.org/posts/reading-group"
    assert result.rejected == (Rejected("entry 3", "missing title"),)


def test_old_arxiv_titles_lose_their_suffix() -> None:
    content = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>cs.CL</title>
    <item><title>A Paper. (arXiv:2312.00001v2 [cs.CL] UPDATED)</title>
    <link>http://arxiv.org/abs/2312.00001</link>
    <description>&lt;p&gt;An abstract.&lt;/p&gt;</description>
    <dc:creator xmlns:dc="http://purl.org/dc/elements/1.1/">
    &lt;a href="x"&gt;A One&lt;/a&gt;, &lt;a href="y"&gt;B Two&lt;/a&gt;</dc:creator>
    </item></channel></rss>"""
    result = parse_feed(content, source="old", include_replacements=True)
    paper = result.papers[0]
    assert (paper.title, paper.arxiv_id, paper.announce_type) == (
        "A Paper",
        "2312.00001",
        "replace",
    )
    assert paper.abstract == "An abstract."
    assert paper.authors == ("A One", "B Two")


@pytest.mark.parametrize(
    ("joined", "names"),
    [
        ("A One, B Two, C Three", ["A One", "B Two", "C Three"]),
        ("A One, B Two and C Three", ["A One", "B Two", "C Three"]),
        ("A One, B Two, and C Three", ["A One", "B Two", "C Three"]),
        ("A One (Lab of Physics and Astronomy, X), B Two", ["A One", "B Two"]),
        ("Martin King, Jr., B Two", ["Martin King, Jr.", "B Two"]),
        ("Anamta Khan, Ratna Kandala,  Deepti", ["Anamta Khan", "Ratna Kandala", "Deepti"]),
        ("Alexandra Anderson", ["Alexandra Anderson"]),
    ],
)
def test_split_authors(joined: str, names: list[str]) -> None:
    assert split_authors(joined) == names


def test_truncated_feed_keeps_what_was_read(fixtures_dir: Path) -> None:
    content = (fixtures_dir / "arxiv_rss_small.xml").read_bytes()
    cut = content[: content.index(b"<title>A Revised Paper")]
    result = parse_feed(cut, source="cut")
    assert [p.arxiv_id for p in result.papers][:2] == ["2606.01001", "2606.01002"]
    assert any("not well-formed" in note for note in result.notes)


@pytest.mark.parametrize(
    ("fixture", "entry", "marker"),
    [
        ("arxiv_rss_small.xml", b"<item>", b"<description>"),  # cut in the abstract
        ("arxiv_atom_small.xml", b"<entry>", b"</title>"),  # cut after the title
    ],
)
def test_the_entry_a_cut_off_feed_ends_in_is_rejected(
    fixtures_dir: Path, fixture: str, entry: bytes, marker: bytes
) -> None:
    """A feed cut in its second entry: the first is kept, the cut one (its title, abstract
    or authors may be incomplete, and merging never shortens a title) is rejected."""
    content = (fixtures_dir / fixture).read_bytes()
    whole = parse_feed(content, source="f", include_replacements=True)
    second = content.index(entry, content.index(entry) + 1)
    cut = content[: content.index(marker, second) + len(marker) + 40]
    result = parse_feed(cut, source="f", include_replacements=True)
    assert result.papers == whole.papers[:1]
    assert result.rejected == (
        Rejected("entry 2", "cut off by the end of the feed; a later fetch brings it"),
    )


def test_a_feed_cut_after_its_last_entry_loses_nothing(fixtures_dir: Path) -> None:
    content = (fixtures_dir / "arxiv_atom_small.xml").read_bytes()
    cut = content[: content.rindex(b"</entry>") + len(b"</entry>")]
    result = parse_feed(cut, source="f", include_replacements=True)
    assert result.rejected == ()
    whole = parse_feed(content, source="f", include_replacements=True)
    assert result.papers == whole.papers


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<!DOCTYPE html><html><head><title>503</title></head></html>", "HTML page"),
        (b"<html><body>Rate limited</body></html>", "HTML page"),
        (b'{"error": "nope"}', "looks like JSON, not an RSS/Atom feed"),
        (b"<?xml version='1.0'?><opml version='2.0'/>", "looks like XML, not an RSS/Atom feed"),
        (b"Just some text", "looks like plain text, not an RSS/Atom feed"),
        (b"", "empty"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "binary"),
    ],
)
def test_not_a_feed(content: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        parse_feed(content, source="s")


def test_content_naming_a_file_is_not_read(fixtures_dir: Path) -> None:
    """feedparser opens a bytes argument naming a file: the parser must never do I/O."""
    path = str(fixtures_dir / "arxiv_rss_small.xml").encode()
    with pytest.raises(SourceError, match="plain text"):
        parse_feed(path, source="s")


REAL_FEEDS = {
    "arxiv_rss_cs.CL_2026-04-27.xml": 3,
    "arxiv_rss-atom_cs.AI_2025-08-20.xml": 7,
    "arxiv_api_query_all-testing_2026-04-12.xml": 10,
}


@pytest.mark.shared
@pytest.mark.parametrize(("name", "count"), REAL_FEEDS.items())
def test_real_feeds(shared_dir: Path, name: str, count: int) -> None:
    content = (shared_dir / "fixtures" / "real" / name).read_bytes()
    ids = re.findall(
        rb"(?:oai:arXiv.org:|arxiv.org/abs/)(\d{4}\.\d{4,5})v\d+</(?:guid|id)>", content
    )
    result = parse_feed(content, source=name)
    assert result.rejected == () and result.notes == ()
    assert len(result.papers) == len(ids) == count
    assert [p.arxiv_id for p in result.papers] == [i.decode() for i in ids]
    for paper in result.papers:
        assert paper.title and paper.abstract and paper.authors and paper.categories
        assert not paper.abstract.startswith(("arXiv:", "Abstract:"))
        assert paper.published is not None and paper.published.tzinfo is UTC
        assert all("Ã" not in author and "\\" not in author for author in paper.authors)
