"""Parser of Hugging Face papers-page text dumps: titles and abstracts, no ids, no links."""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

from bot.errors import SourceError
from bot.models import Paper, ParseResult, Rejected
from bot.sources.sniff import Decoded, decode_text, not_format, sniff_text

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
    ("symbol runs", _SYMBOL_RUN := re.compile(r"([^\w\s.])\1{2,}")),
)
# "symbol runs" on ASCII text, where it is faster: the same matches, its class spelled out
# ([^\w\s.] among ASCII characters: controls that are not whitespace, punctuation but "."
# and "_").
_SYMBOL_RUN_ASCII = re.compile(r"([\x00-\x08\x0e-\x1b\x7f!-\-/:-@\[-^`{-~])\1{2,}")
_ASCII_LETTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
NOISE_SHARE = 0.3  # a line this much noise is junk, whatever its letters
# A record ends with a sentence's end (closing quotes and brackets aside) or a link.
_CLOSERS = ")]}\"'»”’"
_FINAL = ".!?…"
# A sentence boundary inside a line: terminal punctuation, space, then a capital or digit.
_SENTENCE_BREAK = re.compile(r"[.!?]\s+[\"'(\[]?[A-Z0-9]")
_MAX_TITLE = 300
# Lines a dump never has and Markdown, code and configuration are made of: headings, fences,
# list items, quotes, table rows, indented lines.
_MARKUP_LINE = re.compile(
    r"^(?:\#{1,6}\s|```|~~~|[ \t]*[-*+][ \t]+\S|[ \t]*\d{1,3}[.)][ \t]+\S|[ \t]*>"
    r"|[ \t]*\|.*\|[ \t]*$|(?:[ ]{4}|\t)[ \t]*\S)",
    re.MULTILINE,
)
MAX_MARKUP_SHARE = 0.1  # of non-blank lines; real dumps have none
MIN_PAIRED_SHARE = 0.7  # of content lines in title/abstract records; real dumps: all
WHAT_A_DUMP_IS = (
    "a papers dump is a copy of the Hugging Face papers page: for each paper its title on "
    "one line and its abstract (a paragraph of sentences) on the next, records optionally "
    "separated by blank lines"
)


def noise(line: str) -> tuple[float, tuple[str, ...]]:
    """The share of a line's visible characters that are escape sequences, markup, control
    characters, U+FFFD replacement characters or runs of one symbol ("@@@"), and which of
    these kinds it has."""
    # Zero-width and control characters are not printable: a printable line has none.
    printable = line.isprintable()
    text = line if printable else _ZERO_WIDTH.sub("", line)
    visible_text = text
    found, kinds = 0, []
    for kind, pattern in _NOISE:
        if not _may_match(kind, text, printable=printable):
            continue
        if pattern is _SYMBOL_RUN and text.isascii():
            pattern = _SYMBOL_RUN_ASCII
        count = sum(len("".join(m.group().split())) for m in pattern.finditer(text))
        if count:
            found += count
            kinds.append(kind)
            text = pattern.sub(" ", text)
    if not found:  # also when nothing is visible (noise counts only visible characters)
        return 0.0, ()
    visible = len("".join(visible_text.split()))  # non-whitespace characters (str.isspace)
    return found / visible, tuple(kinds)


def _may_match(kind: str, text: str, *, printable: bool) -> bool:
    """Whether the `_NOISE` pattern of `kind` can match `text` at all, by a cheap test (most
    lines have no noise): escape sequences have an ESC or a "[", markup a "<", control
    characters are unprintable (and `noise` only ever replaces characters by spaces)."""
    if kind == "escape sequences":
        return "\x1b" in text or "[" in text
    if kind == "markup":
        return "<" in text
    if kind == "control characters":
        return not printable
    if kind == "replacement characters":
        return "\ufffd" in text
    return True


def _split_lines(text: str) -> list[str]:
    """`text` split at CRLF, CR and LF (and nothing else, unlike str.splitlines)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


def clean_line(raw: str) -> str:
    """A raw line as text: escape sequences and invisible characters removed, whitespace
    collapsed."""
    text = _ESCAPE.sub("", raw) if "\x1b" in raw or "[" in raw else raw
    if text.isprintable():  # no invisible characters, and no whitespace but " "
        if "  " not in text and text[:1] != " " and text[-1:] != " ":
            return text  # collapsed already
    else:
        text = _INVISIBLE.sub("", text)
    return " ".join(text.split())  # collapse_ws: split() and \s agree on whitespace


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
    return _shape(clean_line(line))


def _shape(line: str) -> LineKind:
    """`classify` of a line that is not mostly noise, once cleaned (`clean_line`)."""
    if line.isascii():  # ASCII letters are the ASCII characters that are str.isalpha
        letters = len(line) - len(line.encode("ascii").translate(None, _ASCII_LETTERS))
    else:
        letters = sum(map(str.isalpha, line))
    visible = len(line) - line.count(" ")
    if letters < 2 or letters < 0.4 * visible:
        return "junk"
    if len(line) > _MAX_TITLE:  # whatever its sentence breaks
        return "abstract"
    breaks = len(_SENTENCE_BREAK.findall(line))
    ends_period = line.endswith(".")
    if ends_period and breaks >= 1:
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
    for number, raw in enumerate(_split_lines(text), start=1):
        line = clean_line(raw)
        if not line:
            continue
        if _BOILERPLATE.match(line):
            skipped += 1
            continue
        if not out:
            line = _strip_glued_headers(line, number, notes)
        found = noise(raw)
        kind: LineKind = "junk" if found[0] >= NOISE_SHARE else _classify_clean(line, raw, found)
        out.append(_Line(number, line, kind, found))
    if skipped:
        notes.append(f"{skipped} page header/footer line(s) skipped")
    return out


def _classify_clean(line: str, raw: str, raw_noise: tuple[float, tuple[str, ...]]) -> LineKind:
    """`classify(line)` for `line` = `clean_line(raw)` (or a suffix of it after a glued
    header), reusing what is known: the noise of `raw` when the line is `raw` itself, and
    the line as its own `clean_line` unless it has an escape sequence (one that removing
    another joined): a cleaned line has no invisible characters and collapsed spaces."""
    line_noise = raw_noise if line == raw else noise(line)
    if line_noise[0] >= NOISE_SHARE:
        return "junk"
    if ("\x1b" in line or "[" in line) and _ESCAPE.search(line):
        line = clean_line(line)
    return _shape(line)


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
    for raw in _split_lines(text.strip()):
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
    return parse_decoded_dump(decode_text(content, source=source), source=source)


def parse_decoded_dump(decoded: Decoded, *, source: str, detected: bool = False) -> ParseResult:
    """`parse_dump` of content decoded already (`decode_text`).

    `detected`: the format was guessed, not configured or forced (`--kind dump`); then
    content without a dump's structure (`shape_problem`) raises `SourceError` saying what a
    dump looks like, instead of turning prose, Markdown or code into papers.
    """
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
    lines = _content_lines(decoded.text, notes)
    records, rejected = _pair(lines, notes)
    problem = shape_problem(decoded.text, lines, records) if detected else None
    if problem:
        prefix = f"{source}: " if source else ""
        raise SourceError(
            f"{prefix}does not look like a papers dump ({problem}); nothing stored. "
            f"{WHAT_A_DUMP_IS[0].upper()}{WHAT_A_DUMP_IS[1:]}. "
            "If it is one, force it with `paperboy ingest --kind dump`."
        )
    if records and records[-1][2] and looks_cut_off(records[-1][2]):
        notes.append(
            f"line {records[-1][0]}: the last record looks cut off (no final punctuation); "
            "it will be completed by a later ingest"
        )
    papers = _unique_papers(records, source, notes)
    return ParseResult(FORMAT, tuple(papers), tuple(rejected), tuple(notes))


def shape_problem(text: str, lines: list[_Line], records: list[tuple[int, str, str]]) -> str | None:
    """Why `text` is not a papers dump, or None when it has a dump's structure: almost
    no Markdown/code lines (`MAX_MARKUP_SHARE`), and most content lines
    (`MIN_PAIRED_SHARE`) in records of a title and its abstract, as in both layouts.
    Measured: the real seeds and fixtures have no markup lines and pair every line; the
    repository's README pairs 30% of its lines and is 43% Markdown, code under 10%."""
    nonblank = sum(1 for line in _split_lines(text) if line.strip())
    markup = len(_MARKUP_LINE.findall(text))
    if markup >= max(2, MAX_MARKUP_SHARE * nonblank):
        return (
            f"{markup} of its {nonblank} lines are Markdown, code or configuration: "
            "headings, lists, code blocks, tables or indented lines"
        )
    paired = 2 * sum(1 for record in records if record[2])
    if not lines or paired < MIN_PAIRED_SHARE * len(lines):
        return f"only {paired} of its {len(lines)} lines form title/abstract pairs"
    return None


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
