"""Property tests: corrupted content raises only SourceError; junk never costs a good record."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.errors import SourceError
from bot.models import ParseResult, collapse_ws, normalize_title
from bot.sources.detect import parse_any
from bot.sources.dump import parse_dump
from bot.sources.hf_daily import parse_hf_daily
from bot.sources.rss import parse_feed
from bot.sources.sniff import sniff_text

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SAMPLES = {
    name: (FIXTURES / name).read_bytes()
    for name in (
        "dump_layout_a.txt",
        "dump_layout_b.txt",
        "hf_daily_small.json",
        "arxiv_rss_small.xml",
        "arxiv_atom_small.xml",
        "generic_rss.xml",
    )
}
Parser = Callable[[bytes], ParseResult]
PARSERS: dict[str, Parser] = {
    "dump": lambda content: parse_dump(content, source="p"),
    "hf-daily": lambda content: parse_hf_daily(content, source="p"),
    "rss": lambda content: parse_feed(content, source="p", include_replacements=True),
    "any": lambda content: parse_any(content, source="p"),
}
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_contract(parser: Parser, content: bytes) -> None:
    """Either SourceError, or a result whose papers satisfy the Paper invariants."""
    try:
        result = parser(content)
    except SourceError:
        return
    for paper in result.papers:
        assert paper.title and paper.title == collapse_ws(paper.title)
        assert paper.key
    assert len({paper.key for paper in result.papers}) == len(result.papers)


@st.composite
def corrupted(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(sorted(SAMPLES.values()))))
    for _ in range(draw(st.integers(0, 4))):
        action = draw(st.sampled_from(["flip", "truncate", "insert", "unicode"]))
        where = draw(st.integers(0, len(data)))
        if action == "flip" and data:
            data[min(where, len(data) - 1)] = draw(st.integers(0, 255))
        elif action == "truncate":
            del data[where:]
        elif action == "insert":
            data[where:where] = draw(st.binary(max_size=40)) + b"\n"
        else:
            data[where:where] = draw(st.text(max_size=40)).encode("utf-8", "surrogatepass")
    return bytes(data)


@FAST
@given(content=corrupted(), parser=st.sampled_from(sorted(PARSERS)))
def test_corrupted_content_raises_only_source_error(content: bytes, parser: str) -> None:
    check_contract(PARSERS[parser], content)


@FAST
@given(content=st.binary(max_size=300), parser=st.sampled_from(sorted(PARSERS)))
def test_random_bytes_raise_only_source_error(content: bytes, parser: str) -> None:
    check_contract(PARSERS[parser], content)


@FAST
@given(text=st.text(max_size=300), parser=st.sampled_from(sorted(PARSERS)))
def test_random_unicode_raises_only_source_error(text: str, parser: str) -> None:
    check_contract(PARSERS[parser], text.encode("utf-8", "surrogatepass"))


VOCABULARY = (
    "sparse expert routing token model language speech translation medical clinical "
    "retrieval benchmark graph vision scaling attention layer adapter reward agent"
)
WORDS = st.sampled_from(VOCABULARY.split())
TITLES = st.builds(
    lambda name, words: f"{name}: " + " ".join(w.capitalize() for w in words),
    st.from_regex(r"[A-Z][A-Za-z0-9\-]{1,10}", fullmatch=True),
    st.lists(WORDS, min_size=3, max_size=12),
)
SENTENCE = st.lists(WORDS, min_size=4, max_size=20).map(lambda ws: " ".join(ws).capitalize() + ".")
ABSTRACTS = st.lists(SENTENCE, min_size=2, max_size=8).map(" ".join)
JUNK = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\x85"),
    max_size=120,
)


@settings(max_examples=120, deadline=None)
@given(
    records=st.lists(st.tuples(TITLES, ABSTRACTS), min_size=1, max_size=8),
    before=st.lists(JUNK, max_size=4),
    between=st.lists(st.lists(JUNK, max_size=2), min_size=8, max_size=8),
    after=st.lists(JUNK, max_size=4),
    separator=st.sampled_from(["\n\n", "\r\n\r\n", "\n", "\r\n", "  \n \n"]),
)
def test_junk_between_records_loses_no_record(
    records: list[tuple[str, str]],
    before: list[str],
    between: list[list[str]],
    after: list[str],
    separator: str,
) -> None:
    """Layout b (and a): junk lines before, between and after records cost no record."""
    blocks = [*before]
    for (title, abstract), junk in zip(records, between, strict=False):
        blocks += [title, abstract, *junk]
    blocks += after
    text = separator.join(blocks)
    assume(sniff_text(text) == "text")  # junk that opens like JSON/HTML/XML is another test
    parsed = {paper.key: paper for paper in parse_dump(text.encode(), source="p").papers}
    first: dict[str, tuple[str, str]] = {}
    for title, abstract in records:
        first.setdefault(normalize_title(title), (title, abstract))
    for key, (title, abstract) in first.items():
        assert (parsed[key].title, parsed[key].abstract) == (title, abstract)
