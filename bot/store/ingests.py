"""Archive writes in progress, and the low watermark that keeps digest windows behind them.

A paper's `first_seen` is stamped before its transaction commits, and that commit may wait
(SQLite's write lock, up to the busy timeout; PostgreSQL's archive lock; and PostgreSQL
commits in any order). A digest whose window ended at "now" could pass a stamp whose
papers it cannot see yet, and the next window would start after them: never posted.

So a write registers itself first — a committed row with its start, an owner and a lease —
and only then takes the stamp of its papers (so every stamp is at or after the start), and
it deletes the row once its papers are committed (`Archive.ingest` does all three). A
digest takes `now`, then reads the registrations: its window ends at the start of the
oldest write still alive, or at `now`:

- a write registered before that read: the window ends at or before its stamps;
- a write registered after it: its stamps are taken after that, so after `now`;
- a write whose row is gone: its papers were committed before the read, and the archive
  is read after it.

Whatever the database's commit order, every stamped paper is in the window that covers
its stamp, or in a later one (windows may overlap at their ends: the posted ledger drops
what was posted). A write whose process died leaves its row: it stops counting at once
when its owner provably is gone (same host: bot.store.owner), else when its lease
(`INGEST_LEASE`, longer than one write can wait for its locks) runs out; until then the
windows stop at its start, and the papers after it are posted late, not lost.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, delete, insert, select
from sqlalchemy.exc import SQLAlchemyError

from bot.errors import StoreError
from bot.store.owner import gone, this_process
from bot.store.schema import ingests

log = logging.getLogger(__name__)

# One registered write stores one chunk of papers (bot.ingest): a few batches, each of
# which may wait up to the busy timeout (30 s) for the write lock.
INGEST_LEASE = timedelta(minutes=10)


class Ingests:
    """Registrations of archive writes in progress. Each call is one transaction; times are
    timezone-aware UTC. Raises StoreError."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def begin(self, *, now: datetime, lease: timedelta = INGEST_LEASE) -> str:
        """Register a write starting at `now` (committed when this returns); its token. The
        caller takes its papers' stamp after this returns."""
        token = uuid.uuid4().hex
        row = {
            "token": token,
            "owner": this_process(),
            "started_at": now,
            "lease_until": now + lease,
        }
        try:
            with self._engine.begin() as conn:
                self._sweep(conn, now)
                conn.execute(insert(ingests).values(**row))
        except SQLAlchemyError as e:
            raise StoreError(f"cannot register the ingest: {e.__class__.__name__}") from e
        return token

    def end(self, token: str) -> None:
        """The write is committed (or failed): windows may pass its start."""
        try:
            with self._engine.begin() as conn:
                conn.execute(delete(ingests).where(ingests.c.token == token))
        except SQLAlchemyError as e:
            raise StoreError(f"cannot end the ingest: {e.__class__.__name__}") from e

    def watermark(self, now: datetime) -> datetime:
        """`now`, or the start of the oldest write still in progress when it is earlier:
        every paper stamped before the returned time is committed. Read-only: a dead
        write's row is skipped here, and deleted by the next `begin`."""
        try:
            with self._engine.connect() as conn:
                rows = conn.execute(
                    select(ingests.c.owner, ingests.c.started_at, ingests.c.lease_until).where(
                        ingests.c.started_at < now, ingests.c.lease_until > now
                    )
                ).all()
        except SQLAlchemyError as e:
            raise StoreError(f"cannot read ingests in progress: {e.__class__.__name__}") from e
        dead: dict[str, bool] = {}
        low = now
        for owner, started, _ in rows:
            if owner and dead.setdefault(owner, gone(owner)):
                continue
            low = min(low, started)
        return low

    @staticmethod
    def _sweep(conn: Connection, now: datetime) -> None:
        """Delete the rows of writes that are over: lease ended, or owner provably gone."""
        rows = conn.execute(select(ingests.c.token, ingests.c.owner, ingests.c.lease_until))
        over = [t for t, owner, until in rows if until <= now or (owner and gone(owner))]
        if over:
            conn.execute(delete(ingests).where(ingests.c.token.in_(over)))
            log.info("%d ingest(s) of stopped processes no longer hold digest windows", len(over))
