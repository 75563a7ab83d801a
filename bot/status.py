"""What `paperboy status` and the health endpoint report: sources, channels, failures.

Only what the configuration runs is reported: a source no longer configured (or disabled)
is not listed, whatever its last fetch did, and neither is a removed channel; a paused
channel is listed as paused and never counts as failing."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from bot.app import App
from bot.errors import StoreError
from bot.store.db import describe, integrity_problem
from bot.store.profile_rules import ACTIVE, PAUSED, ChannelEntry
from bot.store.runs import DigestRuns
from bot.store.source_state import SourceStatus


@dataclass(frozen=True, slots=True)
class ChannelHealth:
    channel: str
    last_run: datetime | None
    status: str | None
    posted: int
    error: str | None
    last_complete: datetime | None
    state: str = ACTIVE  # active or paused (removed channels are not reported)


@dataclass(frozen=True, slots=True)
class Status:
    """A snapshot of the service's health. `failing` lists a damaged or failing database,
    channels whose last digest failed and sources whose last fetch failed."""

    papers: int | None  # None: the database could not be read
    sources: tuple[SourceStatus, ...]
    channels: tuple[ChannelHealth, ...]
    database: str | None = None  # what is wrong with the database, when something is

    @property
    def failing(self) -> list[str]:
        bad = ["database"] if self.database else []
        bad += [f"source {s.name}" for s in self.sources if s.consecutive_failures]
        bad += [
            f"channel {c.channel}"
            for c in self.channels
            if c.state == ACTIVE and c.status in (DigestRuns.FAILED, DigestRuns.PARTIAL)
        ]
        return bad

    def as_json(self) -> dict[str, object]:
        def plain(value: object) -> object:
            if isinstance(value, datetime):
                return value.isoformat()
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            return value

        return {
            "papers": self.papers,
            "sources": [plain(asdict(s)) for s in self.sources],
            "channels": [plain(asdict(c)) for c in self.channels],
            "database": self.database,
            "failing": self.failing,
            "degraded": bool(self.failing),
        }


def collect_status(app: App, *, check_database: bool = False) -> Status:
    """Read the status from the database (blocking: call from a thread in async code).

    With `check_database` the database is also checked for damage (SQLite: every page
    read once, see integrity_problem), and a database that fails to answer is reported in
    `database` instead of raising; without it (the health endpoint, polled often) such a
    failure raises."""
    problem = integrity_problem(app.engine) if check_database else None
    try:
        status = _read_status(app)
    except (StoreError, SQLAlchemyError) as e:
        if not check_database:
            raise
        return Status(None, (), (), database=problem or describe(e))
    return replace(status, database=problem)


def _channels(app: App) -> list[ChannelEntry]:
    """Every channel with its state as the configuration makes it: stored, or in a read-only
    app (not seeded) the stored channels merged with the configuration as seeding would."""
    if app.read_only:
        return list(app.profiles.preview(app.settings.profiles()).channels)
    return app.profiles.channels()


def _read_status(app: App) -> Status:
    configured = {s.name for s in app.settings.sources if s.enabled}
    sources = tuple(s for s in app.source_state.all() if s.name in configured)
    channels = []
    for entry in _channels(app):
        if entry.state not in (ACTIVE, PAUSED):
            continue
        last = app.runs.last(entry.ref)
        done = app.runs.last_complete(entry.ref)
        channels.append(
            ChannelHealth(
                channel=entry.ref,
                last_run=last.started_at if last else None,
                status=last.status if last else None,
                posted=last.posted if last else 0,
                error=last.error if last else None,
                last_complete=done.started_at if done else None,
                state=entry.state,
            )
        )
    return Status(app.archive.count(), sources, tuple(channels))


def format_status(status: Status) -> str:
    """The status as text for a terminal."""

    def when(value: datetime | None) -> str:
        return value.strftime("%Y-%m-%d %H:%M UTC") if value else "never"

    lines = [f"database: {status.database}"] if status.database else []
    archive = "unknown (the database could not be read)" if status.papers is None else ""
    lines += [f"archive: {archive or f'{status.papers} papers'}", "sources:"]
    if not status.sources:
        lines.append("  (never fetched)")
    for s in status.sources:
        result = (
            f"failed ({s.consecutive_failures}×): {s.last_error}"
            if s.consecutive_failures
            else (s.last_result or "-")
        )
        lines.append(f"  {s.name}: last fetch {when(s.last_attempt)} — {result}")
    lines.append("channels:")
    if not status.channels:
        lines.append("  (none)")
    for c in status.channels:
        result = c.status or "no digest yet"
        if c.error:
            result += f": {c.error}"
        elif c.status:
            result += f", {c.posted} posted"
        paused = " (paused)" if c.state != ACTIVE else ""
        lines.append(f"  {c.channel}{paused}: last digest {when(c.last_run)} — {result}")
    failing = status.failing
    lines.append("failing: " + (", ".join(failing) if failing else "nothing"))
    return "\n".join(lines)
