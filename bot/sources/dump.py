"""Parser of Hugging Face papers-page text dumps: titles and abstracts, no ids, no links."""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

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
_ZERO_WIDTH = re.compile(r"[\u200b-\u200d\u2060\ufeff]")
# What a line of junk is made of (terminal colours, leftover HTML, bytes lost in decoding),
# in the order they are counted. A colour code that lost its ESC still reads "[31m".
_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]?|\[\d{1,3}(?:;\d{1,3})*m(?![\w\]])")
_NOISE = (
    ("escape sequences", _ESCAPE),
    ("markup", re.compile(r"<!--.*?-->|</?[A-Za-z][\w:-]*(?:\s[^<>]*)?/?>")),
    ("control characters", re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")),
    ("replacement characters", re.compile("\ufffd+")),
    ("symbol runs", re.compile(r"([^\w\s.])\1{2,}")),
)
NOISE_SHARE = 0.3  # a line this much noise is junk, whatever its letters
# A record ends with a sentence's end (closing quotes and brackets aside) or a link.
_CLOSERS = ")]}\"'»”’"
_FINAL = ".!?…"
# A sentence boundary inside a line: terminal punctuation, space, then a capital or digit.
_SENTENCE_BREAK = re.compile(r"[.!?]\s+[\"'(\[]?[A-Z0-9]")
_MAX_TITLE = 300


def noise(line: str) -> tuple[float, tuple[str, ...]]:
    """The share of a line's visible characters that are escape sequences, markup, control
    characters, U+FFFD replacement characters or runs of one symbol ("@@@"), and which of
    these kinds it has."""
    text = _ZERO_WIDTH.sub("", line)
    visible = sum(not ch.isspace() for ch in text)
    if not visible:
        return 0.0, ()
    found, kinds = 0, []
    for kind, pattern in _NOISE:
        count = sum(len("".join(m.group().split())) for m in pattern.finditer(text))
        if count:
            found += count
            kinds.append(kind)
            text = pattern.sub(" ", text)
    return found / visible, tuple(kinds)


def clean_line(raw: str) -> str:
    """A raw line as text: escape sequences and invisible characters removed, whitespace
    collapsed."""
    return collapse_ws(_INVISIBLE.sub("", _ESCAPE.sub("", raw)))


def classify(line: str) -> LineKind:
    """Whether a line reads as a title, an abstract, either, or neither, by its shape.

    Titles are one short line that does not end with a period (they may end with "?" or
    "!"), with at most one inner sentence break ("Can LLMs Learn by Teaching? A Preliminary
    Study"). Abstracts are long or multi-sentence prose ending with a period. A short single
    sentence ending with a period is "either". "junk" is a line with almost no letters, or
    one that is mostly noise (`noise`: markup, escape sequences, replacement characters…).
    """
    if noise(line)[0] >= NOISE_SHARE:
        return "junk"
    line = clean_line(line)
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


class _Line(NamedTuple):
    number: int  # 1-based
    text: str  # cleaned (`clean_line`)
    kind: LineKind
    noise: tuple[float, tuple[str, ...]]  # of the raw line


def _content_lines(text: str, notes: list[str]) -> list[_Line]:
    """Numbered non-blank lines, page chrome removed, glued headers split off, classified."""
    out: list[_Line] = []
    skipped = 0
    for number, raw in enumerate(_LINE_BREAK.split(text), start=1):
        line = clean_line(raw)
        if not line:
            continue
        if _BOILERPLATE.match(line):
            skipped += 1
            continue
        if not out:
            line = _strip_glued_headers(line, number, notes)
        found = noise(raw)
        kind: LineKind = "junk" if found[0] >= NOISE_SHARE else classify(line)
        out.append(_Line(number, line, kind, found))
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

    Lines are told apart by their shape (`classify`): junk lines, mostly markup, escape
    sequences, replacement characters or symbols, are rejected with their line and reason
    and never shift the title/abstract pairs.

    Decisions, chosen to lose nothing:
    - A title with no abstract (the dump's last line, or a title followed by another
      title) is kept with an empty abstract, and a note names its line.
    - An abstract with no title before it, and a line of junk (almost no letters, or
      mostly noise), is rejected as `Rejected("line N", reason)`.
    - A paper repeated in the same dump (same key) is kept once; a note names the lines.
    - A last abstract that stops mid-sentence (a cut-off dump, `looks_cut_off`) is kept
      with a note: the archive keeps the longer abstract, so a later complete ingest of
      the paper completes it.

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
    if records and records[-1][2] and looks_cut_off(records[-1][2]):
        notes.append(
            f"line {records[-1][0]}: the last record looks cut off (no final punctuation); "
            "it will be completed by a later ingest"
        )
    papers = _unique_papers(records, source, notes)
    return ParseResult(FORMAT, tuple(papers), tuple(rejected), tuple(notes))


def _junk_reason(line: _Line) -> str:
    share, kinds = line.noise
    what = f"mostly {', '.join(kinds)} ({share:.0%}), " if share >= NOISE_SHARE else ""
    return f"{what}not a title or an abstract: {line.text[:60]!r}"


def looks_cut_off(abstract: str) -> bool:
    """Whether an abstract stops mid-sentence: it ends neither with a sentence's final
    punctuation (closing quotes and brackets aside) nor with a link."""
    text = abstract.rstrip().rstrip(_CLOSERS)
    if not text or text[-1] in _FINAL:
        return False
    last = text.rsplit(None, 1)[-1].lower()
    return "://" not in last and not last.startswith("www.")


def _pair(
    lines: list[_Line], notes: list[str]
) -> tuple[list[tuple[int, str, str]], list[Rejected]]:
    """(line, title, abstract) records and the rejected lines, from the numbered lines."""
    records: list[tuple[int, str, str]] = []
    rejected: list[Rejected] = []
    title_only: list[int] = []
    pending: tuple[int, str] | None = None
    for index, (number, line, kind, _) in enumerate(lines):
        if kind == "junk":
            rejected.append(Rejected(f"line {number}", _junk_reason(lines[index])))
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
