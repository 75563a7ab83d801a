"""What `paperboy status` and the health endpoint report: sources, channels, failures."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from bot.app import App
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


@dataclass(frozen=True, slots=True)
class Status:
    """A snapshot of the service's health. `failing` lists channels whose last digest
    failed and sources whose last fetch failed."""

    papers: int
    sources: tuple[SourceStatus, ...]
    channels: tuple[ChannelHealth, ...]

    @property
    def failing(self) -> list[str]:
        bad = [f"source {s.name}" for s in self.sources if s.consecutive_failures]
        bad += [
            f"channel {c.channel}"
            for c in self.channels
            if c.status in (DigestRuns.FAILED, DigestRuns.PARTIAL)
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
            "failing": self.failing,
            "degraded": bool(self.failing),
        }


def collect_status(app: App) -> Status:
    """Read the status from the database (blocking: call from a thread in async code)."""
    sources = tuple(app.source_state.all())
    channels = []
    for profile in app.profiles.all():
        last = app.runs.last(profile.ref)
        done = app.runs.last_complete(profile.ref)
        channels.append(
            ChannelHealth(
                channel=profile.ref,
                last_run=last.started_at if last else None,
                status=last.status if last else None,
                posted=last.posted if last else 0,
                error=last.error if last else None,
                last_complete=done.started_at if done else None,
            )
        )
    return Status(app.archive.count(), sources, tuple(channels))


def format_status(status: Status) -> str:
    """The status as text for a terminal."""

    def when(value: datetime | None) -> str:
        return value.strftime("%Y-%m-%d %H:%M UTC") if value else "never"

    lines = [f"archive: {status.papers} papers", "sources:"]
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
        lines.append(f"  {c.channel}: last digest {when(c.last_run)} — {result}")
    failing = status.failing
    lines.append("failing: " + (", ".join(failing) if failing else "nothing"))
    return "\n".join(lines)
