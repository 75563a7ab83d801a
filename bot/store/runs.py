"""Digest runs per channel: the window each consumed, and the claim that keeps a scheduled
run to one execution across firings and replicas."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.errors import StoreError
from bot.store.db import IN_CHUNK, chunks
from bot.store.schema import digest_runs

# A run still marked running after this long died with its process: its claim is retaken.
STALE_RUN = timedelta(hours=2)


@dataclass(frozen=True, slots=True)
class Run:
    """One digest run of a channel (times UTC)."""

    id: int
    channel: str
    scheduled_for: datetime | None
    started_at: datetime
    finished_at: datetime | None
    window_start: datetime | None
    window_end: datetime | None
    status: str
    posted: int
    error: str | None


class DigestRuns:
    """Digest runs per channel and the claims on scheduled runs. Raises StoreError."""

    DONE, PARTIAL, FAILED, RUNNING, EMPTY = "done", "partial", "failed", "running", "empty"

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def start(
        self,
        channel: str,
        *,
        now: datetime,
        window: tuple[datetime, datetime],
        scheduled_for: datetime | None = None,
    ) -> int | None:
        """Record a run that starts now. For a scheduled run this is the claim: None when
        that (channel, scheduled time) was already claimed by another firing or process."""
        values = {
            "channel": channel,
            "scheduled_for": scheduled_for,
            "started_at": now,
            "window_start": window[0],
            "window_end": window[1],
            "status": self.RUNNING,
            "posted": 0,
        }
        try:
            with self._engine.begin() as conn:
                result = conn.execute(insert(digest_runs).values(**values))
                pk = result.inserted_primary_key
                assert pk is not None
                return int(pk[0])
        except IntegrityError:
            return self._take_over(channel, scheduled_for, values, now)
        except SQLAlchemyError as e:
            raise StoreError(f"cannot record digest run: {e.__class__.__name__}") from e

    def _take_over(
        self, channel: str, scheduled_for: datetime | None, values: dict[str, Any], now: datetime
    ) -> int | None:
        """Retake the claim of a scheduled run that did not deliver everything: one that
        failed, was interrupted, or died while running (its start older than STALE_RUN).
        A run that completed, or one still running elsewhere, keeps its claim: None."""
        if scheduled_for is None:
            return None
        claim = and_(digest_runs.c.channel == channel, digest_runs.c.scheduled_for == scheduled_for)
        retakable = or_(
            digest_runs.c.status.in_([self.FAILED, self.PARTIAL]),
            and_(digest_runs.c.status == self.RUNNING, digest_runs.c.started_at < now - STALE_RUN),
        )
        try:
            with self._engine.begin() as conn:
                taken = conn.execute(
                    update(digest_runs)
                    .where(claim, retakable)
                    .values(**{k: v for k, v in values.items() if k != "channel"}, error=None)
                )
                if taken.rowcount != 1:
                    return None
                row = conn.execute(select(digest_runs.c.id).where(claim)).one()
                return int(row.id)
        except SQLAlchemyError as e:
            raise StoreError(f"cannot record digest run: {e.__class__.__name__}") from e

    def finish(
        self,
        run_id: int,
        *,
        status: str,
        posted_count: int,
        now: datetime,
        error: str | None,
        window_end: datetime | None = None,
    ) -> None:
        """Record how a run ended. `window_end` replaces the end of its window: a run that
        left papers of its window to another run gives its start, so that the window is
        not consumed (the next run looks at it again; the ledger drops what was posted)."""
        values: dict[str, Any] = {
            "status": status,
            "posted": posted_count,
            "finished_at": now,
            "error": error,
        }
        if window_end is not None:
            values["window_end"] = window_end
        try:
            with self._engine.begin() as conn:
                conn.execute(update(digest_runs).where(digest_runs.c.id == run_id).values(values))
        except SQLAlchemyError as e:
            raise StoreError(f"cannot record digest run: {e.__class__.__name__}") from e

    def _latest(self, *conditions: Any) -> Run | None:
        q = select(digest_runs).where(and_(*conditions)).order_by(digest_runs.c.id.desc())
        with self._engine.connect() as conn:
            row = conn.execute(q.limit(1)).first()
        return Run(**row._mapping) if row else None

    def last_complete_of(self, channels: Iterable[str]) -> dict[str, Run]:
        """`last_complete` of each of `channels` (those that have one), in a few reads."""
        out: dict[str, Run] = {}
        complete = digest_runs.c.status.in_([self.DONE, self.EMPTY])
        try:
            with self._engine.connect() as conn:
                for chunk in chunks(list(dict.fromkeys(channels)), IN_CHUNK):
                    latest = (
                        select(func.max(digest_runs.c.id))
                        .where(digest_runs.c.channel.in_(chunk), complete)
                        .group_by(digest_runs.c.channel)
                    )
                    rows = conn.execute(select(digest_runs).where(digest_runs.c.id.in_(latest)))
                    out.update((row.channel, Run(**row._mapping)) for row in rows)
        except SQLAlchemyError as e:
            raise StoreError(f"cannot read digest runs: {e.__class__.__name__}") from e
        return out

    def last_complete(self, channel: str) -> Run | None:
        """The latest run that delivered everything it had (its window is consumed)."""
        return self._latest(
            digest_runs.c.channel == channel,
            digest_runs.c.status.in_([self.DONE, self.EMPTY]),
        )

    def last(self, channel: str) -> Run | None:
        """The latest run of any outcome."""
        return self._latest(digest_runs.c.channel == channel)
