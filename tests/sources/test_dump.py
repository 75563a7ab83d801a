"""The HF papers-page text dump parser, on synthetic dumps and on the real seeds."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from bot.errors import SourceError
from bot.models import ParseResult, Rejected
from bot.sources.dump import classify, parse_dump

RECORD = (
    "{title}\n"
    "We study an invented problem with an invented method and report invented numbers. "
    "The method improves on every baseline we could imagine.\n"
)


def parse(text: str) -> ParseResult:
    return parse_dump(text.encode(), source="test-dump")


def titles(result: ParseResult) -> list[str]:
    return [paper.title for paper in result.papers]


def test_layout_a(fixtures_dir: Path) -> None:
    result = parse_dump((fixtures_dir / "dump_layout_a.txt").read_bytes(), source="a")
    assert result.format == "dump"
    assert titles(result) == [
        "Qwen2 Technical Report",  # "Subscribe" glued by the page is gone
        "Multi-Head Mixture-of-Experts",
        "Spelling Correction for Low-Resource Scripts with Character Transformers",
        "Ping <!channel> and @everyone: Mention Injection in Paper Titles",
        "Can Small Models Teach? A Preliminary Study",
    ]
    assert all(paper.abstract.endswith(".") for paper in result.papers)
    assert all(paper.sources == ("a",) and paper.arxiv_id is None for paper in result.papers)
    assert result.rejected == ()
    assert any("layout a" in note for note in result.notes)
    assert any("glued" in note for note in result.notes)


def test_layout_b(fixtures_dir: Path) -> None:
    result = parse_dump((fixtures_dir / "dump_layout_b.txt").read_bytes(), source="b")
    assert titles(result) == [
        "Qwen2.5 Technical Report",
        "MH-MoE: Multi-Head Mixture-of-Experts",
        "Multilingual Speech Translation with Shared Phoneme Units",
        "Multi-Head Mixture-of-Experts",
        "Clinical Note Summarization with Retrieval-Augmented Models",
    ]
    assert result.rejected == ()
    assert any("layout b" in note for note in result.notes)
    assert any("5 page header/footer" in note for note in result.notes)


def test_similar_titles_are_different_papers_and_overlap_is_one(fixtures_dir: Path) -> None:
    a = parse_dump((fixtures_dir / "dump_layout_a.txt").read_bytes(), source="a")
    b = parse_dump((fixtures_dir / "dump_layout_b.txt").read_bytes(), source="b")
    keys = {paper.key for paper in (*a.papers, *b.papers)}
    similar = {
        "qwen2 technical report",
        "qwen2 5 technical report",
        "multi head mixture of experts",
        "mh moe multi head mixture of experts",
    }
    assert similar <= keys
    assert len(keys) == len(a.papers) + len(b.papers) - 1  # Multi-Head MoE is in both


def test_markup_in_titles_stays_literal(fixtures_dir: Path) -> None:
    result = parse_dump((fixtures_dir / "dump_layout_a.txt").read_bytes(), source="a")
    assert any("<!channel>" in t and "@everyone" in t for t in titles(result))


def test_bom_crlf_and_trailing_spaces_change_nothing(fixtures_dir: Path) -> None:
    for name in ("dump_layout_a.txt", "dump_layout_b.txt"):
        plain = (fixtures_dir / name).read_bytes()
        messy = codecs.BOM_UTF8 + plain.replace(b"\n", b"  \t\r\n")
        assert parse_dump(messy, source="s").papers == parse_dump(plain, source="s").papers


def test_truncated_mid_abstract_keeps_the_partial_abstract(fixtures_dir: Path) -> None:
    text = (fixtures_dir / "dump_layout_b.txt").read_text()
    cut = text[: text.index("Clinicians spend a large part") + len("Clinicians spend")]
    result = parse(cut)
    assert result.papers[-1].title.startswith("Clinical Note Summarization")
    assert result.papers[-1].abstract == "Clinicians spend"
    assert len(result.papers) == 5


def test_truncated_mid_title_keeps_what_is_there(fixtures_dir: Path) -> None:
    text = (fixtures_dir / "dump_layout_b.txt").read_text()
    cut = text[: text.index("Clinical Note") + len("Clinical Note")]
    result = parse(cut)
    assert len(result.papers) == 5
    assert result.papers[-1].title == "Clinical Note"
    assert result.papers[-1].abstract == ""
    assert any("title without abstract" in note for note in result.notes)


def test_missing_final_abstract_keeps_the_paper_with_a_note() -> None:
    text = RECORD.format(title="First Paper Title") + "A Final Title Without Abstract\n"
    result = parse(text)
    assert titles(result) == ["First Paper Title", "A Final Title Without Abstract"]
    assert result.papers[1].abstract == ""
    assert result.rejected == ()
    assert any("line(s) 3" in note for note in result.notes)


def test_title_followed_by_title_in_the_middle() -> None:
    text = "Lonely Title Without Abstract\n" + RECORD.format(title="Next Paper") * 1
    result = parse(text)
    assert [(p.title, bool(p.abstract)) for p in result.papers] == [
        ("Lonely Title Without Abstract", False),
        ("Next Paper", True),
    ]


def test_abstract_without_title_is_rejected_with_its_line() -> None:
    orphan = RECORD.format(title="Gone").split("\n")[1]
    text = RECORD.format(title="Kept One") + orphan + "\n" + RECORD.format(title="Kept Two")
    result = parse(text)
    assert titles(result) == ["Kept One", "Kept Two"]
    assert result.rejected == (Rejected("line 3", "abstract without a title"),)


def test_junk_lines_are_rejected_and_records_kept() -> None:
    text = "#### ----\n" + RECORD.format(title="Kept Paper") + "42\n*** %%% ***\n"
    result = parse(text)
    assert titles(result) == ["Kept Paper"]
    assert [r.location for r in result.rejected] == ["line 1", "line 5"]
    assert "not a title or an abstract" in result.rejected[0].reason


def test_page_chrome_inside_records_is_skipped() -> None:
    text = "Published on Mar 11\n" + RECORD.format(title="A Paper").replace("\n", "\n17\n", 1)
    result = parse(text)
    assert titles(result) == ["A Paper"]
    assert result.papers[0].abstract.startswith("We study")


def test_a_paper_repeated_in_one_dump_is_kept_once() -> None:
    result = parse(RECORD.format(title="Same Title") + RECORD.format(title="Same  title"))
    assert titles(result) == ["Same Title"]
    assert any("repeated" in note and "line(s) 3" in note for note in result.notes)


def test_a_title_starting_with_subscribe_is_not_cut() -> None:
    result = parse(RECORD.format(title="Subscribers Matter: A Study"))
    assert titles(result) == ["Subscribers Matter: A Study"]


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("Qwen2.5 Technical Report", "title"),
        ("Can LLMs Learn by Teaching? A Preliminary Study", "title"),
        ("LLMs cannot find reasoning errors, but can correct them!", "title"),
        ("Are We Done with MMLU?", "title"),
        ("We propose a method. It works well on every benchmark.", "abstract"),
        ("x" * 301, "abstract"),
        ("We propose a neural architecture search method.", "either"),
        ("---- 12 ----", "junk"),
        ("", "junk"),
    ],
)
def test_classify(line: str, kind: str) -> None:
    assert classify(line) == kind


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the content is empty"),
        (b"\n \n\t", "the content is empty"),
        (b"Title\x00\x00\x00\x00", "binary"),
        (
            b"<!DOCTYPE html>\n<html><body>Papers</body></html>",
            "looks like an HTML page, not a text dump",
        ),
        (b'[{"paper": {"id": "2406.01234"}}]', "looks like JSON, not a text dump"),
        (b"<?xml version='1.0'?>\n<rss version='2.0'/>", "looks like XML, not a text dump"),
    ],
)
def test_content_that_is_not_a_dump(content: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        parse_dump(content, source="s")


@pytest.mark.shared
def test_real_seeds_give_268_distinct_papers_with_every_labeled_title(shared_dir: Path) -> None:
    results = {
        name: parse_dump((shared_dir / "seeds" / name).read_bytes(), source=name)
        for name in ("hf-papers-dump-a.txt", "hf-papers-dump-b.txt", "hf-papers-dump-c.txt")
    }
    papers = [paper for result in results.values() for paper in result.papers]
    assert {name: len(r.papers) for name, r in results.items()} == {
        "hf-papers-dump-a.txt": 119,
        "hf-papers-dump-b.txt": 61,
        "hf-papers-dump-c.txt": 95,
    }
    assert all(result.rejected == () for result in results.values())
    assert len({paper.key for paper in papers}) == 268
    assert all(paper.abstract for paper in papers)
    labels = (shared_dir / "relevance" / "dev-labels.jsonl").read_text().splitlines()
    labeled = [json.loads(line)["title"] for line in labels if line.strip()]
    assert len(labeled) == 268
    assert set(labeled) <= {paper.title for paper in papers}


# --- junk between records, and cut-off dumps ----------------------------------------------

JUNK_LINES = (
    "\ufffd\ufffd@@@ \x1b[31m garbage ###",
    "\ufffd\ufffd@@@ [31m garbage ###",  # the same after a copy lost the ESC
    "<div>oops</div>",
    '<span class="upvote"></span><a href="/papers">x</a>',
    "\ufffd\ufffd\ufffd\ufffd Cafe \ufffd\ufffd\ufffd",
)


@pytest.mark.parametrize("line", JUNK_LINES)
def test_markup_escapes_and_replacement_characters_are_junk(line: str) -> None:
    assert classify(line) == "junk"


@pytest.mark.parametrize(
    "line",
    [
        "Ping <!channel> and @everyone: Mention Injection in Paper Titles",
        "Handling <unk> Tokens in Byte-Level Models",
        "Caf\ufffd Talk: Noisy Speech Recognition in Public Places",
    ],
)
def test_a_little_markup_or_one_bad_byte_does_not_make_junk(line: str) -> None:
    assert classify(line) == "title"


@pytest.mark.parametrize("separator", ["\n\n", "\n"])
def test_junk_paragraphs_are_rejected_and_every_paper_keeps_its_abstract(
    fixtures_dir: Path, separator: str
) -> None:
    """Junk between records, and even between a title and its abstract, is rejected with
    its line and reason; it neither becomes a paper nor shifts the title/abstract pairs."""
    clean = parse_dump((fixtures_dir / "dump_layout_b.txt").read_bytes(), source="b")
    blocks = [f"{p.title}{separator}{p.abstract}" for p in clean.papers]
    blocks[1] = blocks[1].replace(separator, f"{separator}{JUNK_LINES[2]}{separator}", 1)
    text = separator.join([JUNK_LINES[0], blocks[0], JUNK_LINES[1], JUNK_LINES[2], *blocks[1:]])
    result = parse(text)
    assert [(p.title, p.abstract) for p in result.papers] == [
        (p.title, p.abstract) for p in clean.papers
    ]
    step = len(separator)
    assert [r.location for r in result.rejected] == [
        f"line {n}" for n in (1, 1 + 3 * step, 1 + 4 * step, 1 + 6 * step)
    ]
    reasons = [r.reason for r in result.rejected]
    assert "escape sequences" in reasons[0] and "replacement characters" in reasons[0]
    assert "markup" in reasons[2] and "'<div>oops</div>'" in reasons[2]
    assert all("not a title or an abstract" in reason for reason in reasons)


def test_an_abstract_cut_off_at_the_end_is_kept_with_a_note() -> None:
    text = RECORD.format(title="Whole Paper") + "Model Editing at Scale\nModel editing aims to ef"
    result = parse(text)
    assert result.papers[-1].abstract == "Model editing aims to ef"
    assert any(
        note.startswith("line 3: the last record looks cut off (no final punctuation)")
        and "completed by a later ingest" in note
        for note in result.notes
    )


@pytest.mark.parametrize(
    "ending",
    [
        "It works.",
        "Does it work?",
        'We call it "the law of the weakest link."',
        "(See the appendix.)",
        "Code: https://github.com/example/project",
    ],
)
def test_a_complete_last_abstract_gets_no_cut_off_note(ending: str) -> None:
    result = parse(RECORD.format(title="Whole Paper") + f"Last Paper\nWe study things. {ending}\n")
    assert not any("cut off" in note for note in result.notes)
