"""The ports of the source layer: a retriever brings bytes, a parser turns bytes into papers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from bot.models import ParseResult
from bot.models import Validators as Validators  # a domain value: the store records them too


@dataclass(frozen=True, slots=True)
class Fetched:
    """The outcome of one retrieval.

    `not_modified` is True for an HTTP 304 (then `content` is empty and nothing is new).
    `validators` are those to send next time. `content_type` is as the server sent it
    (None for local files).
    """

    location: str
    content: bytes
    content_type: str | None = None
    validators: Validators = field(default_factory=Validators)
    not_modified: bool = False


class Retriever(Protocol):
    """Brings the raw bytes of a source.

    Contract: raises `bot.errors.SourceError` for every failure (network, timeout, HTTP
    status >= 400 after bounded retries, unreadable file), with `retryable` set when a
    later attempt may succeed. Never returns an HTTP error page as content. Holds no
    open connection between calls unless it owns a session it closes in `aclose()`.
    """

    async def fetch(self, location: str, validators: Validators | None = None) -> Fetched: ...


class Parser(Protocol):
    """Turns one document into papers. Pure: no I/O, no clock.

    Contract: never raises on bad content; a document that is not of this format at all
    raises `bot.errors.SourceError` with a message saying what it looks like instead
    (HTML page, binary, empty). Records that cannot be parsed are returned in
    `ParseResult.rejected` with their location and reason; the good ones are kept.
    """

    def __call__(self, content: bytes, *, source: str) -> ParseResult: ...
