"""Parser of Hugging Face papers-page text dumps: titles and abstracts, no ids, no links."""

from __future__ import annotations

import re
from typing import Literal

from bot.models import Paper, ParseResult, Rejected, collapse_ws
from bot.sources.sniff import decode_text, not_format, sniff_text

FORMAT = "dump"
LineKind = Literal["title", "abstract", "either", "junk"]

# Page chrome that a copy of the papers page carries around (and sometimes inside) records.
_BOILERPLATE = re.compile(
    r"""^(?:
        new | subscribe | daily\ papers | papers | trending | search | previous | next | upvote
      | get\ trending\ papers\ in\ your\ email\ inbox(?:\ once\ a\ day)?!?
      | by\s?ak\ and\ the\ research\ community
      | (?:submitted\ by|published\ on)\ .{1,60}
      | [·•]?\s*\d+\ authors?
      | \d+
      | (?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\ \d{1,2}(?:,?\ \d{4})?
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
# Header text the page glues to the first title ("SubscribeAudioGenie: ...").
_GLUED_HEADERS = (
    "Get trending papers in your email inbox once a day!",
    "Get trending papers in your email inbox!",
    "Subscribe",
)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_INVISIBLE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\u200b-\u200d\u2060\ufeff]")
# A sentence boundary inside a line: terminal punctuation, space, then a capital or digit.
_SENTENCE_BREAK = re.compile(r"[.!?]\s+[\"'(\[]?[A-Z0-9]")
_MAX_TITLE = 300


def classify(line: str) -> LineKind:
    """Whether a (whitespace-collapsed) line reads as a title, an abstract, either, or neither.

    Titles are short and do not end with a period (they may end with "?" or "!"), with at
    most one inner sentence break ("Can LLMs Learn by Teaching? A Preliminary Study").
    Abstracts are long or multi-sentence prose ending with a period. A short single sentence
    ending with a period is "either"; a line with almost no letters is "junk".
    """
    letters = sum(ch.isalpha() for ch in line)
    visible = len(line.replace(" ", ""))
    if letters < 2 or letters < 0.4 * visible:
        return "junk"
    breaks = len(_SENTENCE_BREAK.findall(line))
    ends_period = line.endswith(".")
    if len(line) > _MAX_TITLE or (ends_period and breaks >= 1):
        return "abstract"
    if not ends_period and breaks <= 1:
        return "title"
    return "either"


def _content_lines(text: str, notes: list[str]) -> list[tuple[int, str]]:
    """Numbered (1-based) non-blank lines, page chrome removed, glued headers split off."""
    out: list[tuple[int, str]] = []
    skipped = 0
    for number, raw in enumerate(_LINE_BREAK.split(text), start=1):
        line = collapse_ws(_INVISIBLE.sub("", raw))
        if not line:
            continue
        if _BOILERPLATE.match(line):
            skipped += 1
            continue
        if not out:
            line = _strip_glued_headers(line, number, notes)
        out.append((number, line))
    if skipped:
        notes.append(f"{skipped} page header/footer line(s) skipped")
    return out


def _strip_glued_headers(line: str, number: int, notes: list[str]) -> str:
    stripped = line
    changed = True
    while changed:
        changed = False
        for header in _GLUED_HEADERS:
            rest = stripped[len(header) :]
            if stripped.startswith(header) and (rest[:1].isupper() or rest[:1].isdigit()):
                stripped, changed = rest, True
    if stripped != line:
        notes.append(f"line {number}: page header glued to the first title removed")
    return stripped


def _layout(text: str) -> str:
    """Which layout: "a" (title and abstract on alternate lines) or "b" (blank-line records)."""
    gaps = blank_gaps = 0
    previous_blank: bool | None = None
    for raw in _LINE_BREAK.split(text.strip()):
        blank = not raw.strip()
        if previous_blank is not None and not blank:
            gaps += 1
            blank_gaps += int(previous_blank)
        previous_blank = blank
    return "b" if gaps and 2 * blank_gaps >= gaps else "a"


def parse_dump(content: bytes, *, source: str) -> ParseResult:
    """Parse a text dump of the Hugging Face papers page into papers (title and abstract).

    Both layouts are read line by line, so CRLF, BOM, trailing spaces, page chrome (header
    and footer lines, dates, upvote counts) and the page's "Subscribe" glued to the first
    title are tolerated. Each title takes the next line as its abstract unless that line
    is itself a title (see `classify`); the file's last line, though, is taken as the
    abstract of a title before it whatever it looks like, as a truncated abstract may look
    like a title. The layout found is named in a note.

    Decisions, chosen to lose nothing:
    - A title with no abstract (the dump's last line, or a title followed by another
      title) is kept with an empty abstract, and a note names its line.
    - An abstract with no title before it, and a line of junk (almost no letters), is
      rejected as `Rejected("line N", reason)`.
    - A paper repeated in the same dump (same key) is kept once; a note names the lines.

    Raises `SourceError` when the content is empty, binary, HTML, JSON or XML.
    """
    decoded = decode_text(content, source=source)
    kind = sniff_text(decoded.text)
    if kind != "text":
        raise not_format(kind, "a text dump", source=source)
    layout = _layout(decoded.text)
    notes = [
        *decoded.notes,
        "layout a: title and abstract on alternate lines"
        if layout == "a"
        else "layout b: blank-line separated records",
    ]
    records, rejected = _pair(_content_lines(decoded.text, notes), notes)
    papers = _unique_papers(records, source, notes)
    return ParseResult(FORMAT, tuple(papers), tuple(rejected), tuple(notes))


def _pair(
    lines: list[tuple[int, str]], notes: list[str]
) -> tuple[list[tuple[int, str, str]], list[Rejected]]:
    """(line, title, abstract) records and the rejected lines, from the numbered lines."""
    records: list[tuple[int, str, str]] = []
    rejected: list[Rejected] = []
    title_only: list[int] = []
    pending: tuple[int, str] | None = None
    for index, (number, line) in enumerate(lines):
        kind = classify(line)
        if kind == "junk":
            reason = f"not a title or an abstract: {line[:60]!r}"
            rejected.append(Rejected(f"line {number}", reason))
        elif pending is None and kind == "abstract":
            rejected.append(Rejected(f"line {number}", "abstract without a title"))
        elif pending is None:
            pending = (number, line)
        elif kind == "title" and index < len(lines) - 1:
            records.append((*pending, ""))
            title_only.append(pending[0])
            pending = (number, line)
        else:
            records.append((*pending, line))
            pending = None
    if pending is not None:
        records.append((*pending, ""))
        title_only.append(pending[0])
    if title_only:
        where = ", ".join(map(str, title_only))
        notes.append(f"title without abstract kept with an empty abstract: line(s) {where}")
    return records, rejected


def _unique_papers(
    records: list[tuple[int, str, str]], source: str, notes: list[str]
) -> list[Paper]:
    papers: dict[str, Paper] = {}
    repeated: list[int] = []
    for number, title, abstract in records:
        paper = Paper(title=title, abstract=abstract, sources=(source,))
        if paper.key in papers:
            repeated.append(number)
        else:
            papers[paper.key] = paper
    if repeated:
        where = ", ".join(map(str, repeated))
        notes.append(f"{len(repeated)} repeated paper(s) kept once: line(s) {where}")
    return list(papers.values())
