"""Which format raw source content is in, and dispatch to its parser."""

from __future__ import annotations

from dataclasses import replace

from bot.errors import SourceError
from bot.models import ParseResult, read_tex
from bot.sources.dump import parse_decoded_dump, parse_dump
from bot.sources.guard import checked_result
from bot.sources.hf_daily import parse_hf_daily
from bot.sources.rss import parse_feed
from bot.sources.sniff import decode_text, not_format, sniff, sniff_text, with_source

FORMATS = ("hf-daily", "rss", "dump")


def detect_format(content: bytes) -> str:
    """The format that reads `content`: "hf-daily" (JSON), "rss" (RSS/Atom XML) or "dump".

    Raises `SourceError` for empty, binary or HTML content, which no parser reads.
    """
    return _format_of(sniff(content))


def _format_of(kind: str) -> str:
    if kind == "html":
        raise not_format(kind, "a feed, a text dump or an HF API answer")
    return {"json": "hf-daily", "xml": "rss"}.get(kind, "dump")


def parse_any(
    content: bytes,
    *,
    source: str,
    kind: str | None = None,
    include_replacements: bool = False,
    content_type: str | None = None,
) -> ParseResult:
    """Parse `content` with the parser of `kind` (a configured format), else the detected one.
    `content_type` is the HTTP header, whose charset a feed without a declared encoding
    is read in.

    Every parsed paper passes `bot.sources.guard.checked_result`: a value the archive
    cannot hold (a count beyond 32 bits, a date out of range, a wrong type) is dropped, or
    its entry rejected, whatever the parser.

    Every source's titles, abstracts and author names are read from TeX into text here
    (`$\\pi$-Tuning` -> `π-Tuning`, `Andr\\'e` -> `André`: `tex_to_text`), the reading the
    title identity uses too.

    Raises `SourceError` for an unknown `kind`, and whatever the parser raises: content that
    is empty, binary, HTML, or not of the format at all.
    """
    result = checked_result(
        _parse(
            content,
            source=source,
            kind=kind,
            include_replacements=include_replacements,
            content_type=content_type,
        )
    )
    return replace(result, papers=tuple(map(read_tex, result.papers)))


def _parse(
    content: bytes,
    *,
    source: str,
    kind: str | None,
    include_replacements: bool,
    content_type: str | None,
) -> ParseResult:
    if kind is None:  # detect_format, keeping the decoded text for a dump (decoded once)
        decoded = decode_text(content)
        fmt = _format_of(sniff_text(decoded.text))
        if fmt == "dump":
            return parse_decoded_dump(decoded, source=source, detected=True)
    else:
        fmt = kind
    if fmt == "hf-daily":
        return parse_hf_daily(content, source=source)
    if fmt == "rss":
        return parse_feed(
            content,
            source=source,
            include_replacements=include_replacements,
            content_type=content_type,
        )
    if fmt == "dump":
        return parse_dump(content, source=source)
    raise SourceError(
        with_source(source, f"unknown source format {fmt!r}; expected one of {FORMATS}")
    )
