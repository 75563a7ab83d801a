"""The posted ledger (which paper went to which channel) and digest runs with their claims.

The database enforces "one post per (channel, paper)" with a unique constraint: a post is
first *reserved* (a pending row with a lease), then *confirmed* once the platform accepted
the message, or *released* when it failed. Two processes can never both reserve a paper.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.errors import StoreError
from bot.store.schema import digest_runs, posted

PENDING, POSTED = "pending", "posted"
# A run still marked running after this long died with its process: its claim is retaken.
STALE_RUN = timedelta(hours=2)


def _insert_ignore(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """INSERT … ON CONFLICT DO NOTHING on SQLite and PostgreSQL."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(table).on_conflict_do_nothing(), rows)


def rekey_posted(conn: Connection, old: str, new: str) -> None:
    """Follow a paper's re-keying (title key -> arXiv id) in every channel's ledger, inside
    the caller's transaction. Where a channel has both keys, the new one's row wins."""
    taken = select(posted.c.channel).where(posted.c.paper_key == new).scalar_subquery()
    conn.execute(delete(posted).where(posted.c.paper_key == old, posted.c.channel.in_(taken)))
    conn.execute(update(posted).where(posted.c.paper_key == old).values(paper_key=new))


class Ledger:
    """Reads and writes `posted`. Each call is one transaction. Raises StoreError."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def posted(self, channel: str, keys: Iterable[str] | None = None) -> dict[str, datetime]:
        """Confirmed posts in `channel` (of `keys`, or all): paper key -> when."""
        q = select(posted.c.paper_key, posted.c.posted_at).where(
            posted.c.channel == channel, posted.c.status == POSTED
        )
        if keys is not None:
            q = q.where(posted.c.paper_key.in_(list(keys)))
        with self._engine.connect() as conn:
            return {k: t for k, t in conn.execute(q)}

    def reserve(
        self, channel: str, keys: Sequence[str], *, now: datetime, lease: timedelta
    ) -> list[str]:
        """Reserve `keys` for posting to `channel`; returns those now reserved, in order.

        A key already posted, or reserved by another run whose lease has not expired,
        is not returned. An expired reservation (a run that died) is taken over.
        """
        if not keys:
            return []
        until, token = now + lease, f"reserved:{uuid.uuid4().hex}"
        pending = {"status": PENDING, "lease_until": until, "message_ref": token}
        try:
            with self._engine.begin() as conn:
                rows = [{"channel": channel, "paper_key": k, **pending} for k in keys]
                _insert_ignore(conn, posted, rows)
                conn.execute(
                    update(posted)
                    .where(
                        posted.c.channel == channel,
                        posted.c.paper_key.in_(list(keys)),
                        posted.c.status == PENDING,
                        posted.c.lease_until < now,
                    )
                    .values(**pending)
                )
                mine = self._pending_mine(conn, channel, keys, token)
        except SQLAlchemyError as e:
            raise StoreError(f"ledger reservation failed: {e.__class__.__name__}") from e
        return [k for k in keys if k in mine]

    @staticmethod
    def _pending_mine(conn: Connection, channel: str, keys: Sequence[str], token: str) -> set[str]:
        rows = conn.execute(
            select(posted.c.paper_key).where(
                posted.c.channel == channel,
                posted.c.paper_key.in_(list(keys)),
                posted.c.status == PENDING,
                posted.c.message_ref == token,
            )
        )
        return {r[0] for r in rows}

    def confirm(self, channel: str, keys: Sequence[str], *, ref: str, now: datetime) -> None:
        """Record `keys` as posted to `channel` by the confirmed message `ref`."""
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    update(posted)
                    .where(posted.c.channel == channel, posted.c.paper_key.in_(list(keys)))
                    .values(status=POSTED, posted_at=now, message_ref=ref, lease_until=None)
                )
        except SQLAlchemyError as e:
            raise StoreError(f"ledger confirmation failed: {e.__class__.__name__}") from e

    def release(self, channel: str, keys: Sequence[str]) -> None:
        """Drop the reservations of `keys` (their post failed): the next cycle retries them."""
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    delete(posted).where(
                        posted.c.channel == channel,
                        posted.c.paper_key.in_(list(keys)),
                        posted.c.status == PENDING,
                    )
                )
        except SQLAlchemyError as e:
            raise StoreError(f"ledger release failed: {e.__class__.__name__}") from e

    def rekey(self, old: str, new: str) -> None:
        """Follow a paper's re-keying (title key -> arXiv id) in every channel's ledger."""
        taken = select(posted.c.channel).where(posted.c.paper_key == new).scalar_subquery()
        with self._engine.begin() as conn:
            conn.execute(
                delete(posted).where(posted.c.paper_key == old, posted.c.channel.in_(taken))
            )
            conn.execute(update(posted).where(posted.c.paper_key == old).values(paper_key=new))


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
        self, run_id: int, *, status: str, posted_count: int, now: datetime, error: str | None
    ) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(digest_runs)
                .where(digest_runs.c.id == run_id)
                .values(status=status, posted=posted_count, finished_at=now, error=error)
            )

    def _latest(self, *conditions: Any) -> Run | None:
        q = select(digest_runs).where(and_(*conditions)).order_by(digest_runs.c.id.desc())
        with self._engine.connect() as conn:
            row = conn.execute(q.limit(1)).first()
        return Run(**row._mapping) if row else None

    def last_complete(self, channel: str) -> Run | None:
        """The latest run that delivered everything it had (its window is consumed)."""
        return self._latest(
            digest_runs.c.channel == channel,
            digest_runs.c.status.in_([self.DONE, self.EMPTY]),
        )

    def last(self, channel: str) -> Run | None:
        """The latest run of any outcome."""
        return self._latest(digest_runs.c.channel == channel)
