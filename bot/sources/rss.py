"""Parser of RSS 2.0 and Atom feeds (arXiv listings, the arXiv API, any feed) via feedparser."""

from __future__ import annotations

import calendar
import html
import io
import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import feedparser

from bot.errors import SourceError
from bot.models import Paper, ParseResult, Rejected, collapse_ws, parse_arxiv_id
from bot.sources.sniff import decode_text, not_format, sniff_text

FORMAT = "rss"
# Announce types of papers already announced before: not new, skipped by default.
REPLACEMENT_TYPES = frozenset({"replace", "replace-cross", "absonly"})

# arXiv listing descriptions: "arXiv:2406.01234v1 Announce Type: new \nAbstract: ...".
_ANNOUNCE = re.compile(
    r"^\s*arXiv:\s*(?P<id>\S+)\s+Announce\s+Type:\s*(?P<type>[A-Za-z-]+)\s*", re.IGNORECASE
)
_ABSTRACT_LABEL = re.compile(r"^\s*Abstract:\s*", re.IGNORECASE)
# Pre-2024 arXiv titles: "Title. (arXiv:2401.01234v2 [cs.CL] UPDATED)".
_OLD_TITLE_SUFFIX = re.compile(
    r"\.?\s*\(arXiv:[^()\s]+(?:\s+\[[^\]]*\])?(?P<updated>\s+UPDATED)?\)\s*$", re.IGNORECASE
)
_ARXIV_HINTS = ("arxiv", "huggingface.co/papers/")
_ENTRY_END = re.compile(r"</(?:[\w.-]+:)?(?:item|entry)\s*>", re.IGNORECASE)
_CUT_OFF = "cut off by the end of the feed; a later fetch brings it"
_BLOCK_TAG = re.compile(r"<(?:br|/?p|/?div|/?li|/?tr|/?h\d)\b[^<>]*>", re.IGNORECASE)
_TAG = re.compile(r"<!--.*?-->|</?[A-Za-z][^<>]*>", re.DOTALL)
_MOJIBAKE = re.compile("[\u00c2-\u00f4][\u0080-\u00bf\u0152-\u0192\u02c6-\u02dc\u2013-\u2122]")
_AUTHOR_SEPARATOR = re.compile(r"[()\[\]]|[,;]|\s+and\s+")
_AFFILIATION = re.compile(r"\s*[(\[][^()\[\]]*[)\]]\s*$")
_NAME_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})
_TEX_ACCENT = re.compile(
    r"\{?\\(?P<sym>[`'^\"~=.])\s*\{?(?P<a>[A-Za-z])\}?\}?|\{?\\(?P<cmd>[cvuHk])\{(?P<b>[A-Za-z])\}\}?"
)
_TEX_LETTER = re.compile(r"\{?\\(?P<l>ss|aa|AA|ae|AE|oe|OE|o|O|l|L)(?![A-Za-z])(?:\}|\s)?")
_COMBINING = {
    "`": "\u0300", "'": "\u0301", "^": "\u0302", "~": "\u0303", "=": "\u0304",
    ".": "\u0307", '"': "\u0308", "H": "\u030b", "v": "\u030c", "u": "\u0306",
    "c": "\u0327", "k": "\u0328",
}  # fmt: skip
_LETTERS = {"ss": "ß", "aa": "å", "AA": "Å", "ae": "æ", "AE": "Æ", "oe": "œ", "OE": "Œ"}
_LETTERS |= {"o": "ø", "O": "Ø", "l": "ł", "L": "Ł"}


def parse_feed(content: bytes, *, source: str, include_replacements: bool = False) -> ParseResult:
    """Parse an RSS 2.0 or Atom feed into papers.

    The arXiv id (versionless) comes from the guid/id or an arXiv or HF-papers link, else
    from an `arXiv:ID Announce Type:` description; items without one are keyed by title.
    The announce type comes from `arxiv:announce_type` or the description; `replace`,
    `replace-cross` and `absonly` items announce papers already announced: skipped unless
    `include_replacements`, and counted in a note. Abstracts keep only the text after
    "Abstract:"; HTML is reduced to text and entities decoded, so a title reading
    `<!channel>` stays those literal characters. Authors: an Atom author list, else the
    one comma-joined `dc:creator` split on top-level commas and "and"; TeX accents and
    UTF-8 read as Latin-1 (mojibake) are repaired. Published: UTC. For an item without an
    arXiv id, its link becomes `project_page`. An item without a title is rejected as
    ("entry N", reason), N counting from 1. A feed with no items is a success with a note.
    A feed cut off by the end of the content keeps what was read, with a note; the item it
    cuts (never closed: its title, abstract or authors may be incomplete, and merging would
    keep a cut title) is rejected.

    Raises `SourceError` when the content is empty, binary, or not RSS/Atom (an HTML
    error page parses as an empty feed: the missing feed version gives it away).
    """
    decoded = decode_text(content, source=source)
    try:
        # A stream, never bytes: feedparser opens a bytes value naming an existing file.
        feed = feedparser.parse(io.BytesIO(content))
    except Exception as e:  # feedparser's own bugs on broken input: translate, never leak
        raise SourceError(f"{source}: unreadable feed ({type(e).__name__}: {e})") from e
    if not feed.get("version"):
        raise not_format(sniff_text(decoded.text), "an RSS/Atom feed", source=source)
    notes: list[str] = []
    if feed.get("bozo"):
        notes.append(f"feed is not well-formed ({feed.get('bozo_exception')}); kept what was read")
    papers: dict[str, Paper] = {}
    rejected: list[Rejected] = []
    skipped = repeated = 0
    entries = feed.get("entries", [])
    cut = len(entries) if feed.get("bozo") and _closed_entries(decoded.text) < len(entries) else 0
    for number, entry in enumerate(entries, start=1):
        if number == cut:
            rejected.append(Rejected(f"entry {number}", _CUT_OFF))
            continue
        try:
            paper = _paper(entry, source)
        except (ValueError, TypeError, OverflowError, AttributeError, RecursionError) as e:
            rejected.append(Rejected(f"entry {number}", f"unreadable value ({type(e).__name__})"))
            continue
        if paper is None:
            rejected.append(Rejected(f"entry {number}", "missing title"))
        elif paper.announce_type in REPLACEMENT_TYPES and not include_replacements:
            skipped += 1
        elif paper.key in papers:
            repeated += 1
        else:
            papers[paper.key] = paper
    if not feed.get("entries"):
        notes.append("the feed has no items (arXiv feeds are empty on weekends and holidays)")
    if skipped:
        notes.append(f"{skipped} replacement(s) of already announced papers skipped")
    if repeated:
        notes.append(f"{repeated} repeated item(s) kept once")
    return ParseResult(FORMAT, tuple(papers.values()), tuple(rejected), tuple(notes))


def _closed_entries(text: str) -> int:
    """How many items/entries the feed text closes (`</item>`, `</entry>`, any prefix)."""
    return len(_ENTRY_END.findall(text))


def _paper(entry: Mapping[str, Any], source: str) -> Paper | None:
    title = _plain(entry.get("title_detail"), entry.get("title"))
    announce: str | None = None
    old_suffix = _OLD_TITLE_SUFFIX.search(title)
    if old_suffix:
        title = title[: old_suffix.start()].strip()
        announce = "replace" if old_suffix.group("updated") else None
    if not title:
        return None
    description = _description(entry)
    listing = _ANNOUNCE.match(description)
    if listing:
        description = description[listing.end() :]
    abstract = _ABSTRACT_LABEL.sub("", description, count=1)
    tagged = entry.get("arxiv_announce_type")
    if isinstance(tagged, str) and tagged.strip():
        announce = tagged.strip().lower()
    elif listing:
        announce = listing.group("type").lower()
    arxiv_id = _arxiv_id(entry, listing.group("id") if listing else None)
    link = entry.get("link")
    return Paper(
        title=title,
        abstract=abstract,
        arxiv_id=arxiv_id,
        authors=_authors(entry),
        published=_published(entry),
        categories=_categories(entry),
        announce_type=announce,
        project_page=link if not arxiv_id and _is_web_link(link) else None,
        sources=(source,),
    )


def _plain(detail: object, fallback: object) -> str:
    """Text of a feedparser text construct: HTML reduced to text, whitespace collapsed."""
    if isinstance(detail, Mapping) and isinstance(detail.get("value"), str):
        value, kind = detail["value"], str(detail.get("type") or "text/html")
    elif isinstance(fallback, str):
        value, kind = fallback, "text/html"
    else:
        return ""
    if "html" in kind:
        value = html.unescape(_TAG.sub("", _BLOCK_TAG.sub(" ", value)))
    return collapse_ws(_demojibake(value))


def _description(entry: Mapping[str, Any]) -> str:
    text = _plain(entry.get("summary_detail"), entry.get("summary"))
    contents = entry.get("content")
    if not text and isinstance(contents, list) and contents:
        text = _plain(contents[0], None)
    return text


def _demojibake(text: str) -> str:
    """Repair UTF-8 that was read as Latin-1/Windows-1252 ("RamÃ\xadrez" -> "Ramírez")."""
    if not _MOJIBAKE.search(text):
        return text
    for codec in ("latin-1", "cp1252"):
        try:
            return text.encode(codec).decode("utf-8")
        except UnicodeError:
            continue
    return text


def _arxiv_id(entry: Mapping[str, Any], listed: str | None) -> str | None:
    links = entry.get("links")
    hrefs = [link.get("href") for link in links if isinstance(link, Mapping)] if links else []
    for candidate in (entry.get("id"), entry.get("link"), *hrefs):
        if isinstance(candidate, str) and any(h in candidate.lower() for h in _ARXIV_HINTS):
            found = parse_arxiv_id(candidate)
            if found:
                return found
    return parse_arxiv_id(listed) if listed else None


def _is_web_link(link: object) -> bool:
    return isinstance(link, str) and link.lower().startswith(("https://", "http://"))


def _published(entry: Mapping[str, Any]) -> datetime | None:
    for key in ("published_parsed", "updated_parsed"):
        # `in` first: feedparser maps a missing updated_parsed to published_parsed, warning.
        parsed = entry.get(key) if key in entry else None
        if parsed:
            try:
                return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
            except (TypeError, ValueError, OverflowError):
                continue
    return None


def _categories(entry: Mapping[str, Any]) -> tuple[str, ...]:
    primary = entry.get("arxiv_primary_category")
    terms = [primary.get("term")] if isinstance(primary, Mapping) else []
    tags = entry.get("tags")
    terms += [tag.get("term") for tag in tags if isinstance(tag, Mapping)] if tags else []
    return tuple(dict.fromkeys(collapse_ws(t) for t in terms if isinstance(t, str) and t.strip()))


def _authors(entry: Mapping[str, Any]) -> tuple[str, ...]:
    listed = entry.get("authors")
    names = [a.get("name") for a in listed if isinstance(a, Mapping)] if listed else []
    texts = [_plain(None, name) for name in names if isinstance(name, str)]
    texts = [text for text in texts if text]
    if not texts and isinstance(entry.get("author"), str):
        texts = [_plain(None, entry["author"])]
    if len(texts) == 1:
        texts = split_authors(texts[0])
    return tuple(_detex(name) for name in texts if name)


def split_authors(text: str) -> list[str]:
    """Split one joined author string ("A, B (X, Y) and C") on top-level commas and "and".

    A trailing parenthesised affiliation is dropped: `B (X, Y)` -> `B`.
    """
    parts: list[str] = []
    depth = start = 0
    for match in _AUTHOR_SEPARATOR.finditer(text):
        token = match.group()
        if token in "([":
            depth += 1
        elif token in ")]":
            depth = max(0, depth - 1)
        elif depth == 0:
            parts.append(text[start : match.start()])
            start = match.end()
    parts.append(text[start:])
    names: list[str] = []
    for part in (collapse_ws(_AFFILIATION.sub("", part)) for part in parts):
        if names and part.lower().rstrip(".") in _NAME_SUFFIXES:
            names[-1] = f"{names[-1]}, {part}"
        elif part:
            names.append(part)
    return names


def _detex(name: str) -> str:
    """TeX accents in a name to Unicode: `Andr\\'e` -> `André`, `{\\o}` -> `ø`."""
    if "\\" not in name:
        return name

    def accent(match: re.Match[str]) -> str:
        mark = match.group("sym") or match.group("cmd")
        return (match.group("a") or match.group("b")) + _COMBINING[mark]

    text = _TEX_ACCENT.sub(accent, name)
    text = _TEX_LETTER.sub(lambda m: _LETTERS[m.group("l")], text)
    return unicodedata.normalize("NFC", text)
