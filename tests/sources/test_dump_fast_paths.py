"""The dump parser's line functions skip work that cannot change their answer (a printable
line has no invisible characters, a line without "<" has no markup…): they must answer as
the plain definitions below do, for any text."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.models import collapse_ws
from bot.sources import dump
from bot.sources.dump import NOISE_SHARE, LineKind, classify, clean_line, noise

_ZERO_WIDTH = re.compile(r"[\u200b-\u200d\u2060\ufeff]")
_INVISIBLE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\u200b-\u200d\u2060\ufeff]")
_SENTENCE_BREAK = re.compile(r"[.!?]\s+[\"'(\[]?[A-Z0-9]")


def plain_noise(line: str) -> tuple[float, tuple[str, ...]]:
    text = _ZERO_WIDTH.sub("", line)
    visible = sum(not ch.isspace() for ch in text)
    if not visible:
        return 0.0, ()
    found, kinds = 0, []
    for kind, pattern in dump._NOISE:
        count = sum(len("".join(m.group().split())) for m in pattern.finditer(text))
        if count:
            found += count
            kinds.append(kind)
            text = pattern.sub(" ", text)
    return found / visible, tuple(kinds)


def plain_clean_line(raw: str) -> str:
    return collapse_ws(_INVISIBLE.sub("", dump._ESCAPE.sub("", raw)))


def plain_classify(line: str) -> LineKind:
    if plain_noise(line)[0] >= NOISE_SHARE:
        return "junk"
    line = plain_clean_line(line)
    letters = sum(ch.isalpha() for ch in line)
    visible = len(line.replace(" ", ""))
    if letters < 2 or letters < 0.4 * visible:
        return "junk"
    breaks = len(_SENTENCE_BREAK.findall(line))
    ends_period = line.endswith(".")
    if len(line) > 300 or (ends_period and breaks >= 1):
        return "abstract"
    if not ends_period and breaks <= 1:
        return "title"
    return "either"


# Pieces that exercise every shortcut: escapes with and without ESC, markup, controls and
# whitespace controls (\x1c-\x1f), zero-width and replacement characters, symbol runs,
# non-ASCII letters and digits, sentence breaks.
PIECES = st.sampled_from(
    [
        "Learning", "models", "the", "of", "LLMs", "Is it?", "A", "2.5", "Zoë", "Ⅻ", "²", "٣",
        " ", "  ", "\t", "\u00a0", "\u3000", "\x1c", "\x1f", "\x85", "\u2028",
        "\x1b[31m", "\x1b", "[0m", "[1;32m", "[12]", "\x00", "\x07", "\x7f",
        "\u200b", "\ufeff", "\u2060", "\ufffd", "<b>", "</i>", "<!-- c -->", "<",
        "@@@", "###", "---", "...", "___", "\x1c\x1c\x1c", "!!", ".", ". ", ". The", "? 3",
    ]
)  # fmt: skip
LINES = st.one_of(
    st.text(max_size=80),
    st.lists(PIECES, max_size=60).map("".join),
    st.lists(st.one_of(PIECES, st.text(max_size=3)), max_size=120).map(" ".join),
)


@settings(max_examples=600, deadline=None)
@given(LINES)
def test_line_functions_answer_as_their_plain_definitions(line: str) -> None:
    assert noise(line) == plain_noise(line)
    assert clean_line(line) == plain_clean_line(line)
    assert classify(line) == plain_classify(line)


@settings(max_examples=150, deadline=None)
@given(st.lists(LINES, min_size=1, max_size=12), st.sampled_from(["\n", "\r\n", "\r"]))
def test_dump_lines_are_classified_as_classify_does(lines: list[str], eol: str) -> None:
    notes: list[str] = []
    for line in dump._content_lines(eol.join(lines), notes):
        assert line.kind == ("junk" if line.noise[0] >= NOISE_SHARE else classify(line.text))


def test_every_ascii_character_runs_as_the_unicode_symbol_pattern_does() -> None:
    for code in range(128):
        for text in (chr(code) * 3, f"a{chr(code) * 4}b", chr(code) * 2):
            fast = [m.span() for m in dump._SYMBOL_RUN_ASCII.finditer(text)]
            assert fast == [m.span() for m in dump._SYMBOL_RUN.finditer(text)], repr(text)


def test_line_breaks_are_crlf_cr_and_lf_only() -> None:
    text = "a\r\nb\rc\nd\x0be\x1cf\u2028g\r\n\r\n"
    assert dump._split_lines(text) == re.split(r"\r\n|\r|\n", text)
