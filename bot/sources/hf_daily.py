"""Parser of the Hugging Face Daily Papers API answer (`/api/daily_papers`, a JSON array)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from bot.errors import SourceError
from bot.models import Paper, ParseResult, Rejected, collapse_ws, parse_arxiv_id
from bot.sources.guard import bounded_int, finite_number, valid_count
from bot.sources.sniff import decode_text, not_format, sniff_text

FORMAT = "hf-daily"
_EXPECTED = "the HF Daily Papers JSON"


class _Reject(Exception):
    """An entry that cannot become a paper; its message is the reason."""


def _decoder() -> json.JSONDecoder:
    """A JSON decoder whose numbers never poison an entry: integers beyond 64 bits (or the
    4300 digits Python refuses to convert), NaN, Infinity and 1e999 stay text, which no
    field accepts as a number (see bot.sources.guard)."""
    return json.JSONDecoder(
        parse_int=bounded_int, parse_float=finite_number, parse_constant=lambda text: text
    )


def parse_hf_daily(content: bytes, *, source: str) -> ParseResult:
    """Parse an HF Daily Papers answer: a JSON array of `{paper: {...}, ...}` items.

    Per entry, `paper.id` (the arXiv id, kept as a string, version stripped), `paper.title`
    and `paper.summary` are required (the item's own `title`/`summary` stand in when the
    paper's are missing); an entry without them is rejected as `("entry N", "missing
    paper.title")`, N counting from 1. Every other field is optional: authors, publishedAt,
    submittedOnDailyAt (the digest day, UTC), upvotes, ai_summary, ai_keywords, githubRepo,
    projectPage (http(s) links only); an unreadable optional field is dropped with a note.
    Whitespace is collapsed (old captures hard-wrap titles). Items with the paper fields at
    top level, and a single item instead of an array, are accepted. A paper listed twice is
    kept once. An array cut off by the end of the content (a truncated download) keeps its
    complete entries, with a note; the entry it cuts is rejected as ("entry N", "cut off by
    the end of the content").

    Raises `SourceError` for empty, binary, HTML or invalid JSON content (also a cut-off
    array without one complete entry), an API error object (`{"error": ...}`) or any other
    JSON that is not a list of papers.
    """
    decoded = decode_text(content, source=source)
    notes = list(decoded.notes)
    rejected: list[Rejected] = []
    try:
        data = _decoder().decode(decoded.text)
    except RecursionError as e:
        raise SourceError(f"{source}: JSON nested too deeply to be a list of papers") from e
    except json.JSONDecodeError as e:
        kind = sniff_text(decoded.text)
        if kind != "json":
            raise not_format(kind, _EXPECTED, source=source) from e
        where = f"{e.msg} at line {e.lineno} column {e.colno}"
        cut = _cut_array(decoded.text)
        if cut is None:
            raise SourceError(f"{source}: invalid JSON ({where})") from e
        data, partial = cut
        if not data:
            raise SourceError(f"{source}: invalid JSON ({where}; the content looks cut off)") from e
        notes.append(
            f"the answer is cut off after {len(data)} complete entries ({where}); "
            "they are kept, a later fetch brings the rest"
        )
        if partial:
            rejected.append(Rejected(f"entry {len(data) + 1}", "cut off by the end of the content"))
    items = _items(data, source, notes)
    papers: dict[str, Paper] = {}
    repeated: list[str] = []
    for number, item in enumerate(items, start=1):
        location = f"entry {number}"
        try:
            paper = _paper(item, source, location, notes)
        except _Reject as e:
            rejected.append(Rejected(location, str(e)))
            continue
        except (ValueError, TypeError, OverflowError, RecursionError) as e:  # a value no
            # reader foresaw: it costs this entry only
            rejected.append(Rejected(location, f"unreadable value ({type(e).__name__})"))
            continue
        if paper.key in papers:
            repeated.append(paper.key)
        else:
            papers[paper.key] = paper
    if repeated:
        notes.append(f"{len(repeated)} repeated paper(s) kept once: {', '.join(repeated)}")
    if not items:
        notes.append("the answer lists no papers")
    return ParseResult(FORMAT, tuple(papers.values()), tuple(rejected), tuple(notes))


_LITERALS = ("true", "false", "null")


def _cut_array(text: str) -> tuple[list[object], bool] | None:
    """The complete entries of a JSON array that the end of `text` cuts off, and whether an
    entry was cut in the middle; None when `text` is not such an array (the JSON is broken
    somewhere else, which no later fetch repairs by itself)."""
    decoder = _decoder()
    pos = len(text) - len(text.lstrip())
    if not text.startswith("[", pos):
        return None
    items: list[object] = []
    pos += 1
    while True:
        pos = _skip_space(text, pos)
        if pos == len(text):
            return items, False
        try:
            item, pos = decoder.raw_decode(text, pos)
        except RecursionError:
            return None
        except json.JSONDecodeError as e:
            return (items, True) if _ends_inside(text, e) else None
        items.append(item)
        pos = _skip_space(text, pos)
        if pos == len(text):
            return items, False
        if text[pos] != ",":
            return None
        pos += 1


def _ends_inside(text: str, error: json.JSONDecodeError) -> bool:
    """Whether decoding failed because the text ended (not because of a bad character)."""
    if error.msg.startswith("Unterminated string"):
        return True
    rest = text[error.pos :].strip()
    return not rest or any(lit.startswith(rest) for lit in _LITERALS)


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _items(data: object, source: str, notes: list[str]) -> list[object]:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        if isinstance(data.get("paper"), dict) or ("id" in data and "title" in data):
            notes.append("a single item instead of an array")
            return [data]
        if "error" in data:
            raise SourceError(f"{source}: the API answered an error: {data['error']!s:.200}")
        keys = ", ".join(sorted(map(str, data))[:8]) or "none"
        raise SourceError(
            f"{source}: expected a JSON array of papers, got an object (keys: {keys})"
        )
    raise SourceError(f"{source}: expected a JSON array of papers, got {type(data).__name__}")


def _paper(item: object, source: str, location: str, notes: list[str]) -> Paper:
    if not isinstance(item, dict):
        raise _Reject(f"not an object but {type(item).__name__}")
    nested = "paper" in item
    paper = item.get("paper") if nested else item
    if not isinstance(paper, dict):
        raise _Reject("paper is not an object")
    prefix = "paper." if nested else ""
    raw_id = paper.get("id")
    if raw_id is None or raw_id == "":
        raise _Reject(f"missing {prefix}id")
    if not isinstance(raw_id, str):
        raise _Reject(f"{prefix}id is not a string: {raw_id!r}")
    arxiv_id = parse_arxiv_id(raw_id)
    if arxiv_id is None:
        raise _Reject(f"{prefix}id is not an arXiv id: {raw_id[:40]!r}")
    title = _text(paper.get("title")) or _text(item.get("title"))
    if not title:
        raise _Reject(f"missing {prefix}title")
    abstract = _text(paper.get("summary")) or _text(item.get("summary"))
    if not abstract:
        raise _Reject(f"missing {prefix}summary")
    optional = _Optional(paper, prefix, location, notes)
    return Paper(
        title=title,
        abstract=abstract,
        arxiv_id=arxiv_id,
        authors=optional.authors(),
        published=optional.moment("publishedAt"),
        daily_date=_day(optional.moment("submittedOnDailyAt")),
        upvotes=optional.count("upvotes"),
        ai_summary=_text(paper.get("ai_summary")) or None,
        ai_keywords=optional.keywords(),
        github_repo=optional.link("githubRepo"),
        project_page=optional.link("projectPage"),
        sources=(source,),
    )


def _text(value: object) -> str:
    return collapse_ws(value) if isinstance(value, str) else ""


def _day(moment: datetime | None) -> date | None:
    return moment.date() if moment else None


class _Optional:
    """Readers of the optional fields of one entry; a bad value is dropped with a note."""

    def __init__(self, paper: Mapping[str, Any], prefix: str, location: str, notes: list[str]):
        self._paper, self._prefix, self._location, self._notes = paper, prefix, location, notes

    def _drop(self, name: str, why: str) -> None:
        self._notes.append(f"{self._location}: ignored {self._prefix}{name} ({why})")

    def moment(self, name: str) -> datetime | None:
        value = self._paper.get(name)
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value) if isinstance(value, str) else None
            if moment is not None and moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            moment = moment.astimezone(UTC) if moment is not None else None
        except (ValueError, OverflowError):  # not a date, or beyond year 1..9999 in UTC
            moment = None
        if moment is None:
            self._drop(name, "not an ISO date")
            return None
        return moment

    def count(self, name: str) -> int | None:
        value = self._paper.get(name)
        if value is None:
            return None
        count = valid_count(value)
        if count is None:
            self._drop(name, "not a count")
        return count

    def link(self, name: str) -> str | None:
        value = _text(self._paper.get(name))
        if not value:
            return None
        if not value.lower().startswith(("https://", "http://")):
            self._drop(name, "not an http(s) link")
            return None
        return value

    def authors(self) -> tuple[str, ...]:
        value = self._paper.get("authors")
        if not isinstance(value, list):
            return ()
        names = (_text(a.get("name")) if isinstance(a, dict) else _text(a) for a in value)
        return tuple(name for name in names if name)

    def keywords(self) -> tuple[str, ...]:
        value = self._paper.get("ai_keywords")
        if not isinstance(value, list):
            return ()
        return tuple(dict.fromkeys(kw for kw in map(_text, value) if kw))
