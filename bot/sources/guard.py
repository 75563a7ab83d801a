"""The one gate between parsers and the archive: every field of every parsed paper checked
(types, numeric ranges, dates), and unexpected exceptions turned into a source's failure.

A bad value costs its field (dropped, with a note) or, for a required field, its entry
(rejected); never the other entries, never the source, never a digest.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from bot.models import Paper, ParseResult, Rejected
from bot.sources.retrieve import redact_url

# What the archive columns and every renderer can hold. A count beyond it is not a count
# the source meant (HF upvotes are in the thousands); it is dropped, not stored.
MAX_COUNT = 2**31 - 1
# Dates outside these years are not publication dates (and some overflow on conversion).
MIN_YEAR, MAX_YEAR = 1900, 2200
MAX_TEXT = 100_000  # characters of one text field (an abstract is a few thousand)
MAX_ITEMS = 1_000  # authors, keywords, categories of one paper
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")

_OPTIONAL_TEXT = ("ai_summary", "github_repo", "project_page", "announce_type")
_TUPLES = ("authors", "ai_keywords", "categories", "sources")


class _Bad(Exception):
    """A required field that cannot be stored: the entry is rejected."""


def valid_count(value: object) -> int | None:
    """`value` as a count the archive can hold (0..MAX_COUNT), else None (bool, float,
    NaN, negative, too large, any other type)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= MAX_COUNT else None


def _valid_moment(value: object) -> bool:
    if isinstance(value, datetime):
        return value.tzinfo is not None and MIN_YEAR <= value.year <= MAX_YEAR
    return isinstance(value, date) and MIN_YEAR <= value.year <= MAX_YEAR


def _text_ok(value: object) -> bool:
    return isinstance(value, str) and len(value) <= MAX_TEXT


def _checked(paper: Paper, dropped: list[str]) -> Paper:
    """`paper` with every unusable optional field dropped (named in `dropped`); raises
    `_Bad` when a required field is unusable."""
    if not _text_ok(paper.title) or not paper.title.strip():
        raise _Bad("title is not usable text")
    if paper.arxiv_id is not None and not (isinstance(paper.arxiv_id, str) and paper.arxiv_id):
        raise _Bad("arXiv id is not a string")
    changes: dict[str, Any] = {}
    if not _text_ok(paper.abstract):
        changes["abstract"] = ""
    if paper.upvotes is not None and valid_count(paper.upvotes) is None:
        changes["upvotes"] = None
    for name in ("published", "daily_date", "first_seen"):
        value = getattr(paper, name)
        if value is not None and not _valid_moment(value):
            changes[name] = None
    for name in _OPTIONAL_TEXT:
        value = getattr(paper, name)
        if value is not None and not _text_ok(value):
            changes[name] = None
    for name in _TUPLES:
        value = getattr(paper, name)
        if not isinstance(value, tuple) or len(value) > MAX_ITEMS:
            changes[name] = ()
        elif not all(_text_ok(item) for item in value):
            changes[name] = tuple(item for item in value if _text_ok(item))
    dropped.extend(changes)
    return replace(paper, **changes) if changes else paper


def checked_result(result: ParseResult) -> ParseResult:
    """`result` with every paper checked: unusable optional fields dropped (one note per
    paper naming them), papers with an unusable title or id moved to `rejected`."""
    papers: list[Paper] = []
    rejected = list(result.rejected)
    notes = list(result.notes)
    for number, paper in enumerate(result.papers, start=1):
        dropped: list[str] = []
        try:
            papers.append(_checked(paper, dropped))
        except _Bad as e:
            rejected.append(Rejected(f"paper {number}", str(e)))
            continue
        if dropped:
            notes.append(f"paper {number}: ignored unusable {', '.join(dropped)}")
    if len(papers) == len(result.papers) and len(notes) == len(result.notes):
        return result
    return ParseResult(result.format, tuple(papers), tuple(rejected), tuple(notes))


def finite_number(text: str) -> float | str:
    """A JSON number as a float when finite, else the text itself (never a float that the
    archive or arithmetic cannot use: NaN, ±Infinity, 1e999)."""
    value = float(text)
    return value if math.isfinite(value) else text


def bounded_int(text: str) -> int | str:
    """A JSON integer as an int when it has at most 18 digits (fits 64 bits), else the text
    itself: Python refuses to convert over 4300 digits (ValueError), and SQLite anything
    beyond 64 bits (OverflowError)."""
    return int(text) if len(text.lstrip("-")) <= 18 else text


def unexpected_error(error: BaseException) -> str:
    """The message of a source's failure caused by an exception no contract allows (a bug
    in Paperboy or a library): what happened and what to do; URLs in it redacted."""
    detail = _URL.sub(lambda m: redact_url(m.group()), str(error))[:200]
    what = f"{type(error).__name__}: {detail}" if detail else type(error).__name__
    return (
        f"unexpected error while fetching or reading this source ({what}); this is a bug "
        "in Paperboy, not in the source or your configuration: the other sources and the "
        "digests are unaffected; please report it with the traceback from the log"
    )
