"""One ingest of a source: retrieve (I/O), parse (pure, in a thread), store, record the outcome."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from bot.errors import SourceError, StoreError
from bot.models import Paper, ParseResult, Rejected
from bot.sources.base import Fetched, Retriever, Validators
from bot.sources.detect import parse_any
from bot.sources.guard import unexpected_error
from bot.sources.retrieve import redact_url
from bot.store import aio
from bot.store.archive import BATCH, Archive
from bot.store.source_state import SourceStateStore

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called with (papers stored so far, papers parsed) while a large input is stored."""
ProgressFor = Callable[[str], AbstractContextManager[Progress | None]]
"""The progress callback of one location, as a context manager around its storing."""


@dataclass(slots=True)
class SourceReport:
    """What one ingest of one source did. `error` is set when the source failed entirely."""

    name: str
    location: str
    format: str | None = None
    parsed: int = 0
    new: int = 0
    known: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    not_modified: bool = False
    error: str | None = None
    validators: Validators | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None

    def count(self, parsed: ParseResult) -> None:
        """Add one parsed input: its format, papers, rejected records and notes."""
        self.format = parsed.format
        self.parsed += len(parsed.papers)
        self.rejected += parsed.rejected
        self.notes += parsed.notes

    def summary(self) -> str:
        """One line for logs and `status`: counts, or the error."""
        if self.error:
            return f"failed: {self.error}"
        if self.not_modified:
            return "not modified"
        return (
            f"parsed {self.parsed}, new {self.new}, known {self.known}, "
            f"rejected {len(self.rejected)}"
        )


class SourceSpec(Protocol):
    """A configured source as an ingest reads it (bot.settings.SourceSettings is one: the
    application layer does not import the configuration)."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def location(self) -> str: ...
    @property
    def days(self) -> int: ...
    @property
    def include_replacements(self) -> bool: ...


async def parse_fetched(
    fetched: Fetched, *, source: str, kind: str | None, include_replacements: bool = False
) -> ParseResult:
    """Parse a fetched body in a worker thread (`kind`, else the format detected)."""
    return await asyncio.to_thread(
        parse_any,
        fetched.content,
        source=source,
        kind=kind,
        include_replacements=include_replacements,
        content_type=fetched.content_type,
    )


def expand_locations(src: SourceSpec, today: datetime) -> list[str]:
    """The locations one fetch of `src` reads: `{date}` filled for each of the last `days`
    days (oldest first), else the location itself."""
    if "{date}" not in src.location:
        return [src.location]
    days = [(today - timedelta(days=i)).date().isoformat() for i in range(src.days)]
    return [src.location.replace("{date}", d) for d in reversed(days)]


class Ingestor:
    """Runs ingests. Owns nothing: the retriever, archive and state store are injected.

    `clock` returns the current time (timezone-aware UTC). Never raises for a failing
    source: the failure is in the report (and in the state store for configured sources).
    """

    def __init__(
        self,
        archive: Archive,
        state: SourceStateStore,
        retriever: Retriever,
        clock: Callable[[], datetime],
    ) -> None:
        self._archive = archive
        self._state = state
        self._retriever = retriever
        self._clock = clock

    async def ingest_source(
        self, src: SourceSpec, *, progress: Progress | None = None
    ) -> SourceReport:
        """Fetch every location of a configured source, using and updating its validators."""
        now = self._clock()
        report = SourceReport(src.name, redact_url(src.location))
        locations = expand_locations(src, now)
        for location in locations:
            validators = await aio.run(self._state.validators, src.name, location)
            await self._ingest_one(
                report,
                location,
                kind=src.kind,
                validators=validators,
                include_replacements=src.include_replacements,
                progress=progress,
            )
            if report.failed:
                break
        try:
            if report.failed:
                await aio.run(
                    self._state.record_failure, src.name, error=report.error or "", now=now
                )
            else:
                await aio.run(
                    self._state.record_success,
                    src.name,
                    location=locations[-1],
                    validators=report.validators,
                    result=report.summary(),
                    now=now,
                )
        except StoreError as e:
            report.notes.append(f"could not record source state: {e}")
        return report

    async def ingest_location(
        self, location: str, *, kind: str | None = None, progress: Progress | None = None
    ) -> SourceReport:
        """Ingest a path or URL given on the command line (format detected from content)."""
        report = SourceReport(redact_url(location), redact_url(location))
        await self._ingest_one(report, location, kind=kind, validators=None, progress=progress)
        return report

    async def ingest_locations(
        self,
        locations: Sequence[str],
        *,
        kind: str | None = None,
        progress: ProgressFor | None = None,
    ) -> AsyncIterator[SourceReport]:
        """`ingest_location` for each of `locations`, in order, yielding each one's report
        once it is stored. While one is stored, the next is already read and parsed (in
        worker threads: the database works with the interpreter lock released, the parser
        holds it), one location ahead at most. The archive sees the same papers in the same
        order as with `ingest_location` one after the other. `progress(location)` gives
        each location's progress callback (a context manager, entered while it is stored).
        """
        ahead: tuple[SourceReport, asyncio.Task[ParseResult | None]] | None = None
        try:
            for i, location in enumerate(locations):
                report, reading = ahead or self._start_reading(location, kind)
                parsed = await reading
                ahead = None
                if i + 1 < len(locations):
                    ahead = self._start_reading(locations[i + 1], kind)
                if parsed is not None:
                    with progress(location) if progress else nullcontext() as callback:
                        await self._store_parsed(report, parsed, callback)
                yield report
        finally:
            if ahead is not None:
                ahead[1].cancel()

    def _start_reading(
        self, location: str, kind: str | None
    ) -> tuple[SourceReport, asyncio.Task[ParseResult | None]]:
        report = SourceReport(redact_url(location), redact_url(location))
        reading = asyncio.ensure_future(self._read(report, location, kind=kind, validators=None))
        return report, reading

    async def _ingest_one(
        self,
        report: SourceReport,
        location: str,
        *,
        kind: str | None,
        validators: Validators | None,
        include_replacements: bool = False,
        progress: Progress | None,
    ) -> None:
        parsed = await self._read(
            report,
            location,
            kind=kind,
            validators=validators,
            include_replacements=include_replacements,
        )
        if parsed is not None:
            await self._store_parsed(report, parsed, progress)

    async def _read(
        self,
        report: SourceReport,
        location: str,
        *,
        kind: str | None,
        validators: Validators | None,
        include_replacements: bool = False,
    ) -> ParseResult | None:
        """Fetch and parse `location`; None (with `report.error` set, or `not_modified`)
        when there is nothing to store."""
        try:
            fetched = await self._retriever.fetch(location, validators)
            report.validators = fetched.validators
            if fetched.not_modified:
                report.not_modified = True
                return None
            return await parse_fetched(
                fetched, source=report.name, kind=kind, include_replacements=include_replacements
            )
        except SourceError as e:
            report.error = str(e).removeprefix(f"{report.name}: ")
        except Exception as e:  # a bug (here or in a library): this source's failure only
            log.exception("unexpected error reading %s", report.location)
            report.error = unexpected_error(e)
        return None

    async def _store_parsed(
        self, report: SourceReport, parsed: ParseResult, progress: Progress | None
    ) -> None:
        report.count(parsed)
        if parsed.rejected and not parsed.papers:  # e.g. the API changed its answers
            first = parsed.rejected[0]
            report.error = (
                f"none of its {len(parsed.rejected)} {parsed.format} record(s) could be read "
                f"({first.location}: {first.reason}); has the format changed? "
                f"`paperboy ingest {report.location}` lists every rejected record"
            )
            return
        try:
            await self._store(parsed.papers, progress, report)
        except StoreError as e:  # what was stored before it is counted in the report
            report.error = str(e)

    async def _store(
        self, papers: Sequence[Paper], progress: Progress | None, report: SourceReport
    ) -> None:
        """Store `papers` one archive batch (one transaction) at a time, counting each in
        `report` once committed: when one fails (a full disk), the counts say exactly what
        was stored before it."""
        for start in range(0, len(papers), BATCH):
            chunk = papers[start : start + BATCH]
            # stamped inside, after the write is registered (bot.store.ingests)
            stored = await aio.run(self._archive.ingest, chunk, clock=self._clock)
            report.new += stored.new
            report.known += stored.known
            if progress:
                progress(start + len(chunk), len(papers))
