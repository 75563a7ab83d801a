"""The posted ledger: the table under the delivery outbox (bot.outbox owns the protocol, its
states and transitions; this module is its storage). Each row is one paper of one channel:
pending while a digest run holds it, posted once the platform confirmed its message.

The database enforces "one post per (channel, paper)" with a unique constraint: a post is
first *reserved* (a pending row with a lease: the outbox's PLANNED), then marked *sending*
with the idempotency key of the message that carries it (SENDING; ABANDONED once its lease
ended), then *confirmed* once the platform accepted the message (POSTED), or *released*
(the row deleted) when it surely was not posted. Two live runs can never both hold a paper.

A run that dies (SIGKILL, power loss) leaves its rows pending. The next run takes them over
at once when it can tell that the owning process is gone (same host, see bot.store.owner),
else once their lease has expired. Rows that were only reserved are simply posted again.
Rows that were *sending* may be on the platform already: the run that takes them over gets
their message key (`Reservation.resend`) and all the papers of that message, so it can
send the very same message again (Discord drops it by nonce; Slack looks for it first).

Locks (PostgreSQL): every write transaction locks the rows it changes in paper-key order
before changing them (`take` inserts in that order and locks other runs' rows with
SELECT … ORDER BY paper_key FOR UPDATE; the others lock the run's rows the same way
first), so two runs of one channel do not wait for each other in a cycle. A transaction
PostgreSQL still rolls back as a deadlock victim or serialization failure is run again
(bot.store.db.transaction). SQLite has one writer at a time and needs neither.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from bot.errors import StoreError
from bot.store.db import IN_CHUNK, chunks, insert_ignore, transaction
from bot.store.owner import gone, this_process
from bot.store.schema import posted

PENDING, POSTED = "pending", "posted"
# A pending row's `message_ref`: "reserved:<token>" while its run holds it, then
# "sending:<token>:<message key>" from just before its message is sent.
RESERVED, SENDING = "reserved", "sending"
# Up to this many channels the ledger is read by (channel, paper): the rows of other
# channels are not read. Beyond it, by paper: every channel's rows of the papers, once.
FEW_CHANNELS = 50


def rekey_posted(conn: Connection, old: str, new: str) -> None:
    """Follow a paper's re-keying (title key -> arXiv id) in every channel's ledger, inside
    the caller's transaction. Where a channel has both keys, the new one's row wins."""
    taken = select(posted.c.channel).where(posted.c.paper_key == new).scalar_subquery()
    conn.execute(delete(posted).where(posted.c.paper_key == old, posted.c.channel.in_(taken)))
    conn.execute(update(posted).where(posted.c.paper_key == old).values(paper_key=new))


def _lock_in_order(conn: Connection, *where: Any) -> None:
    """Lock the rows matching `where` in paper-key order before they are changed (on
    PostgreSQL; SQLite has one writer at a time, and a read before the write there would
    only risk SQLITE_BUSY on upgrading the lock)."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            select(posted.c.paper_key)
            .where(*where)
            .order_by(posted.c.channel, posted.c.paper_key)
            .with_for_update()
        ).all()


class _Lost(Exception):
    """A run's reservation was taken over by another run (its lease ran out)."""


def _reserved(token: str) -> str:
    return f"{RESERVED}:{token}"


def _sending(token: str, message_key: str) -> str:
    return f"{SENDING}:{token}:{message_key}"


class _RunOver:
    """Whether the run holding a pending row is over: its lease ended by `now`, or its
    process provably died (asked once per process)."""

    def __init__(self, now: datetime) -> None:
        self._now = now
        self._gone: dict[str, bool] = {}

    def __call__(self, ref: str | None, lease_until: datetime | None) -> bool:
        if lease_until is None or lease_until <= self._now:
            return True
        parts = (ref or "").split(":")  # reserved:<token> / sending:<token>:<key>
        owner = parts[1].partition("@")[2] if len(parts) > 1 else ""
        if not owner:
            return False
        if owner not in self._gone:
            self._gone[owner] = gone(owner)
        return self._gone[owner]


def _message_key(ref: str | None) -> str | None:
    """The message key of a "sending" row's `message_ref`, else None."""
    if ref is None or not ref.startswith(SENDING + ":"):
        return None
    parts = ref.split(":", 2)
    return parts[2] if len(parts) == 3 and parts[2] else None


@dataclass(frozen=True, slots=True)
class Row:
    """One paper's row as it stands: confirmed or pending, the key of the message it was
    being sent in (None while only reserved), and its lease."""

    posted: bool
    message_key: str | None
    lease_until: datetime | None


@dataclass(frozen=True, slots=True)
class Reservation:
    """What one run holds in one channel after `Ledger.take`.

    `token` marks the run's rows. `keys`: the papers it now holds, in the order asked, then
    any other paper of a taken-over message (below). `resend` maps every held key that was
    taken over from a run that stopped while *sending* it to that message's idempotency
    key: the message may be on the platform already, so it must go out again as the same
    message (those papers together, under that key), looked for first.
    """

    token: str
    keys: list[str]
    resend: dict[str, str] = field(default_factory=dict)


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

    def rows(self, channel: str, keys: Iterable[str]) -> dict[str, Row]:
        """The rows of `keys` in `channel` (a key without one is absent)."""
        q = select(
            posted.c.paper_key, posted.c.status, posted.c.message_ref, posted.c.lease_until
        ).where(posted.c.channel == channel)
        out: dict[str, Row] = {}
        try:
            with self._engine.connect() as conn:
                for chunk in chunks(list(dict.fromkeys(keys)), IN_CHUNK):
                    for key, status, ref, until in conn.execute(
                        q.where(posted.c.paper_key.in_(chunk))
                    ):
                        pending = status == PENDING
                        out[key] = Row(not pending, _message_key(ref) if pending else None, until)
        except SQLAlchemyError as e:
            raise StoreError(f"cannot read the posted ledger: {e.__class__.__name__}") from e
        return out

    def posted_in(
        self, channels: Iterable[str], keys: Iterable[str]
    ) -> dict[str, dict[str, datetime]]:
        """Confirmed posts of `keys` in each of `channels`: channel -> paper key -> when
        (channels without any are absent). A digest cycle's one read: by channel and paper
        for a few channels (a scheduled job's), else by paper for all of them at once."""
        wanted = list(dict.fromkeys(channels))
        few = len(wanted) <= FEW_CHANNELS
        if not wanted:
            return {}
        out: dict[str, dict[str, datetime]] = {}
        q = select(posted.c.channel, posted.c.paper_key, posted.c.posted_at).where(
            posted.c.status == POSTED
        )
        if few:
            q = q.where(posted.c.channel.in_(wanted))
        asked = set(wanted)
        try:
            with self._engine.connect() as conn:
                for chunk in chunks(list(dict.fromkeys(keys)), IN_CHUNK):
                    for channel, key, at in conn.execute(q.where(posted.c.paper_key.in_(chunk))):
                        if channel in asked:
                            out.setdefault(channel, {})[key] = at
        except SQLAlchemyError as e:
            raise StoreError(f"cannot read the posted ledger: {e.__class__.__name__}") from e
        return out

    def reserve(
        self, channel: str, keys: Sequence[str], *, now: datetime, lease: timedelta
    ) -> list[str]:
        """Reserve `keys` for posting to `channel`; returns those now reserved, in order
        (`take` says more: which ones a dead run may have posted)."""
        return self.take(channel, keys, now=now, lease=lease).keys

    def take(
        self, channel: str, keys: Sequence[str], *, now: datetime, lease: timedelta
    ) -> Reservation:
        """Reserve `keys` for posting to `channel` until `now + lease`.

        A key already posted, or held by another run that may still be running, is not
        taken. A key whose run is over is taken over: its lease expired, or its process
        provably died (same host: see bot.store.owner). When that run was sending it, every
        other paper of the same message is taken over with it (also when not asked for) and
        listed in `resend`.
        """
        owner = this_process()
        token = uuid.uuid4().hex + (f"@{owner}" if owner else "")
        asked = list(dict.fromkeys(keys))
        if not asked:
            return Reservation(token, [])
        mine = _reserved(token)
        pending = {"status": PENDING, "lease_until": now + lease, "message_ref": mine}
        others = and_(
            posted.c.channel == channel,
            posted.c.status == PENDING,
            posted.c.message_ref != mine,
        )
        # in key order, as every other write of the ledger locks rows (see the top)
        rows = [{"channel": channel, "paper_key": k, **pending} for k in sorted(asked)]

        def work(conn: Connection) -> tuple[dict[str, str | None], set[str]]:
            insert_ignore(conn, posted, rows)  # (takes SQLite's write lock)
            held_elsewhere = conn.execute(
                select(posted.c.paper_key, posted.c.message_ref, posted.c.lease_until)
                .where(others, posted.c.paper_key.in_(asked))
                .order_by(posted.c.paper_key)
                .with_for_update()
            )
            over = _RunOver(now)
            stale = {k: ref for k, ref, until in held_elsewhere if over(ref, until)}
            refs = {ref for ref in stale.values() if _message_key(ref) is not None}
            if refs:  # the rest of each interrupted message travels with it
                group = conn.execute(
                    select(posted.c.paper_key, posted.c.message_ref)
                    .where(others, posted.c.message_ref.in_(refs))
                    .order_by(posted.c.paper_key)
                    .with_for_update()
                )
                stale.update({k: ref for k, ref in group})
            if stale:
                conn.execute(
                    update(posted)
                    .where(
                        others,
                        posted.c.paper_key.in_(list(stale)),
                        posted.c.message_ref.in_(set(stale.values())),
                    )
                    .values(**pending)
                )
            return stale, self._pending_mine(conn, channel, [*asked, *stale], mine)

        try:
            stale, held = transaction(self._engine, work)
        except SQLAlchemyError as e:
            raise StoreError(f"ledger reservation failed: {e.__class__.__name__}") from e
        wanted = set(asked)
        extra = [k for k in stale if k not in wanted]
        resend = {
            k: m for k, ref in stale.items() if k in held and (m := _message_key(ref)) is not None
        }
        return Reservation(token, [k for k in [*asked, *extra] if k in held], resend)

    @staticmethod
    def _pending_mine(conn: Connection, channel: str, keys: Sequence[str], ref: str) -> set[str]:
        rows = conn.execute(
            select(posted.c.paper_key).where(
                posted.c.channel == channel,
                posted.c.paper_key.in_(list(keys)),
                posted.c.status == PENDING,
                posted.c.message_ref == ref,
            )
        )
        return {r[0] for r in rows}

    @staticmethod
    def _held_by(token: str) -> Any:
        return or_(
            posted.c.message_ref == _reserved(token),
            posted.c.message_ref.like(f"{SENDING}:{token}:%"),
        )

    def sending(
        self,
        channel: str,
        keys: Sequence[str],
        *,
        token: str,
        message_key: str,
        now: datetime,
        lease: timedelta,
    ) -> bool:
        """Record that `keys` are about to be sent in the message `message_key`, and renew
        the lease of everything `token` holds in `channel` until `now + lease`.

        False (and nothing is renewed) when `token` no longer holds all of `keys`: its
        lease ran out and another run took them over; the message must not be sent."""
        wanted, until = list(set(keys)), now + lease
        mine = and_(posted.c.channel == channel, posted.c.status == PENDING, self._held_by(token))

        def work(conn: Connection) -> None:
            _lock_in_order(conn, mine)  # all of them first, in key order, as `take` does
            marked = conn.execute(
                update(posted)
                .where(mine, posted.c.paper_key.in_(wanted))
                .values(message_ref=_sending(token, message_key), lease_until=until)
            ).rowcount
            if marked != len(wanted):
                raise _Lost  # rolls the marks back
            conn.execute(update(posted).where(mine).values(lease_until=until))

        try:
            transaction(self._engine, work)
        except _Lost:
            return False
        except SQLAlchemyError as e:
            raise StoreError(f"ledger update failed: {e.__class__.__name__}") from e
        return True

    def confirm(self, channel: str, keys: Sequence[str], *, ref: str, now: datetime) -> None:
        """Record `keys` as posted to `channel` by the confirmed message `ref`."""
        these = (posted.c.channel == channel, posted.c.paper_key.in_(list(keys)))

        def work(conn: Connection) -> None:
            _lock_in_order(conn, *these)
            conn.execute(
                update(posted)
                .where(*these)
                .values(status=POSTED, posted_at=now, message_ref=ref, lease_until=None)
            )

        try:
            transaction(self._engine, work)
        except SQLAlchemyError as e:
            raise StoreError(f"ledger confirmation failed: {e.__class__.__name__}") from e

    def release(self, channel: str, keys: Sequence[str], *, token: str | None = None) -> None:
        """Drop the reservations of `keys` (held by `token`, when given): they surely were
        not posted, and the next cycle retries them."""
        where = [
            posted.c.channel == channel,
            posted.c.paper_key.in_(list(keys)),
            posted.c.status == PENDING,
        ]
        if token is not None:
            where.append(self._held_by(token))

        def work(conn: Connection) -> None:
            _lock_in_order(conn, *where)
            conn.execute(delete(posted).where(*where))

        try:
            transaction(self._engine, work)
        except SQLAlchemyError as e:
            raise StoreError(f"ledger release failed: {e.__class__.__name__}") from e

    def abandon(self, channel: str, keys: Sequence[str], *, token: str, now: datetime) -> None:
        """Give up `keys` whose message may or may not have been posted (the answer was
        lost, or the run was interrupted mid-send): their lease ends `now`, so the next run
        takes them over at once and looks for the message before sending it again."""
        where = (
            posted.c.channel == channel,
            posted.c.paper_key.in_(list(keys)),
            posted.c.status == PENDING,
            self._held_by(token),
        )

        def work(conn: Connection) -> None:
            _lock_in_order(conn, *where)
            conn.execute(update(posted).where(*where).values(lease_until=now))

        try:
            transaction(self._engine, work)
        except SQLAlchemyError as e:
            raise StoreError(f"ledger update failed: {e.__class__.__name__}") from e
