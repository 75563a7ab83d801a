"""Parser of RSS 2.0 and Atom feeds (arXiv listings, the arXiv API, any feed) via feedparser."""

from __future__ import annotations

import calendar
import codecs
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
# Known HTML elements: removed from titles even when the feed calls them plain text (a
# "<b>" there is markup that leaked, a "<!channel>" or "x < y" is literal text and stays).
_KNOWN_TAG = re.compile(
    r"</?(?:a|abbr|b|big|br|cite|code|div|em|font|h[1-6]|i|img|li|mark|math|mi|mn|mo|mrow"
    r"|msub|msubsup|msup|mfrac|msqrt|ol|p|q|s|small|span|strike|strong|sub|sup|tt|u|ul)"
    r"\b[^<>]*>",
    re.IGNORECASE,
)
# Text decoded with the wrong single-byte code page: C1 controls, U+FFFD, or a run of four
# or more characters from the upper half of Windows-1252/Latin-1 ("Íåéðîííûå", "µ¡³£³Ø"),
# which no language writes (accented letters stand between unaccented ones: "Größe").
_UNREADABLE = re.compile(
    "[\u0080-\u009f\ufffd]|[\u00a1-\u00ff\u0152\u0153\u0160\u0161\u0178\u017d\u017e"
    "\u0192\u02c6\u02dc\u2013-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]{4,}"
)
_BOMS = {
    "utf-16-le": codecs.BOM_UTF16_LE,
    "utf-16-be": codecs.BOM_UTF16_BE,
    "utf-32-le": codecs.BOM_UTF32_LE,
    "utf-32-be": codecs.BOM_UTF32_BE,
}
_API_ERRORS = "arxiv.org/api/errors"
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


def parse_feed(
    content: bytes,
    *,
    source: str,
    include_replacements: bool = False,
    content_type: str | None = None,
) -> ParseResult:
    """Parse an RSS 2.0 or Atom feed into papers.

    Encoding: a BOM, the XML declaration, else the charset of `content_type` (the HTTP
    header); UTF-16/32 without a BOM is recognised. Text that still reads as mojibake (a
    feed in an undeclared encoding that is not UTF-8) is never stored: its entry is
    rejected, saying to declare the encoding.

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

    The `title` wins over `title_detail` when they differ (feedparser fills the detail from
    a nested `<image><title>` too); markup in a plain-text title is removed. An empty
    answer of the arXiv API says that the query matched nothing; an empty arXiv listing
    that it may be a weekend.

    Raises `SourceError` when the content is empty, binary, or not RSS/Atom (an HTML
    error page parses as an empty feed: the missing feed version gives it away), and for
    an arXiv API error answer (an entry "Error" linking to /api/errors), with its reason.
    """
    decoded = decode_text(content, source=source)
    if decoded.bomless:  # feedparser reads UTF-16/32 without a BOM only when declared
        content = _BOMS[decoded.bomless] + content
    headers = {"content-type": content_type} if content_type else {}
    try:
        # A stream, never bytes: feedparser opens a bytes value naming an existing file.
        feed = feedparser.parse(io.BytesIO(content), response_headers=headers)
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
    _raise_api_error(entries, source)
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
        unreadable = _unreadable_field(paper) if paper is not None else None
        if paper is None:
            rejected.append(Rejected(f"entry {number}", "missing title"))
        elif unreadable:
            rejected.append(Rejected(f"entry {number}", unreadable))
        elif paper.announce_type in REPLACEMENT_TYPES and not include_replacements:
            skipped += 1
        elif paper.key in papers:
            repeated += 1
        else:
            papers[paper.key] = paper
    if not feed.get("entries"):
        notes.append(_empty_note(feed, decoded.text))
    if skipped:
        notes.append(f"{skipped} replacement(s) of already announced papers skipped")
    if repeated:
        notes.append(f"{repeated} repeated item(s) kept once")
    return ParseResult(FORMAT, tuple(papers.values()), tuple(rejected), tuple(notes))


def _raise_api_error(entries: list[Any], source: str) -> None:
    """Raise the error an arXiv API answer carries as its one entry, titled "Error", whose
    id and link point to /api/errors#<reason>."""
    for entry in entries:
        links = [entry.get("id"), entry.get("link")]
        links += [
            link.get("href") for link in entry.get("links") or [] if isinstance(link, Mapping)
        ]
        is_error = any(isinstance(link, str) and _API_ERRORS in link.lower() for link in links)
        if is_error and str(entry.get("title", "")).strip().lower() == "error":
            reason = _plain(entry.get("summary_detail"), entry.get("summary"))[:300]
            raise SourceError(
                f"{source}: the arXiv API answered an error: {reason or 'no reason given'}; "
                "fix the query in the source's url (search_query, id_list, start, max_results)"
            )


def _empty_note(feed: Mapping[str, Any], text: str) -> str:
    """Why a feed may have no items: an API query that matched nothing, an arXiv listing
    on a weekend or holiday, or simply nothing new."""
    meta = feed.get("feed") or {}
    total = meta.get("opensearch_totalresults") if isinstance(meta, Mapping) else None
    if total is not None:
        return f"the query matched no papers (opensearch:totalResults {str(total)[:20]})"
    if "<skipdays" in text[:8192].lower() or "rss.arxiv.org" in text[:8192].lower():
        return "the feed has no items (arXiv listings are empty on weekends and holidays)"
    return "the feed has no items"


def _unreadable_field(paper: Paper) -> str | None:
    """Why a paper cannot be stored as read: its title or abstract is mojibake (mojibake
    author names are dropped in `_authors`)."""
    for name, text in (("title", paper.title), ("abstract", paper.abstract)):
        found = _UNREADABLE.search(text)
        if found:
            return (
                f"{name} is not readable text ({found.group()[:12]!r}…): the feed declares no "
                'encoding and is not UTF-8; declare it (<?xml version="1.0" '
                'encoding="…"?> or an HTTP charset) or serve UTF-8'
            )
    return None


def _closed_entries(text: str) -> int:
    """How many items/entries the feed text closes (`</item>`, `</entry>`, any prefix)."""
    return len(_ENTRY_END.findall(text))


def _paper(entry: Mapping[str, Any], source: str) -> Paper | None:
    title = _title(entry)
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


def _title(entry: Mapping[str, Any]) -> str:
    """The entry's title: `title_detail` (it knows the type) when it holds the `title`,
    else the `title` itself (feedparser fills the detail from a nested `<image><title>` or
    `<textInput><title>` too, and keeps the item's own in `title`)."""
    title, detail = entry.get("title"), entry.get("title_detail")
    if isinstance(title, str) and isinstance(detail, Mapping) and detail.get("value") != title:
        detail = None
    return _plain(detail, title)


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
    elif "<" in value:  # plain text that holds markup anyway: known HTML elements go
        value = _KNOWN_TAG.sub("", _BLOCK_TAG.sub(" ", value))
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
    return tuple(_detex(name) for name in texts if name and not _UNREADABLE.search(name))


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
