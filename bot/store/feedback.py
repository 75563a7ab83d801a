"""Each channel's feedback on papers (issue 16): who said "more like this" (+1) or "not for
us" (-1) about which paper, when and how. One row per (channel, user, paper), enforced by
the database: a person's later vote on a paper replaces the earlier one, and a removed
reaction withdraws the vote it gave (`withdraw`).

Also the one read a reaction needs from the posted ledger: which papers a posted message
carries (`papers_of_message`, by the platform's message ref the ledger recorded).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from bot.errors import StoreError
from bot.models import Feedback, Vote
from bot.store.db import IN_CHUNK, chunks, transaction
from bot.store.ledger import POSTED
from bot.store.schema import feedback, posted


def rekey_feedback(conn: Connection, old: str, new: str) -> None:
    """Follow a paper's re-keying (title key -> arXiv id) in every channel's feedback,
    inside the caller's transaction. Where a person voted on both keys, the newer vote wins."""
    rows = conn.execute(
        select(feedback.c.id, feedback.c.channel, feedback.c.user, feedback.c.at).where(
            feedback.c.paper_key.in_((old, new))
        )
    ).all()
    newest: dict[tuple[str, str], Any] = {}
    for row in sorted(rows, key=lambda r: (r.at, r.id)):
        newest[(row.channel, row.user)] = row
    keep = {row.id for row in newest.values()}
    drop = [row.id for row in rows if row.id not in keep]
    if drop:
        conn.execute(delete(feedback).where(feedback.c.id.in_(drop)))
    conn.execute(update(feedback).where(feedback.c.paper_key == old).values(paper_key=new))


def _feedback(row: Any) -> Feedback:
    return Feedback(
        channel_ref=row.channel,
        user=row.user,
        paper_key=row.paper_key,
        vote=1 if row.vote > 0 else -1,
        at=row.at,
        via=row.via,
    )


class FeedbackStore:
    """The feedback table. Every method is one transaction and raises StoreError on a
    database failure. Datetimes are aware UTC in and out."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _run(self, what: str, work: Any) -> Any:
        try:
            return transaction(self._engine, work)
        except SQLAlchemyError as e:
            raise StoreError(f"feedback {what} failed: {e.__class__.__name__}: {e}") from e

    def record(self, fb: Feedback) -> bool:
        """Store `fb` as its user's vote on its paper in its channel, replacing an earlier
        one (upsert). True when it replaced an earlier vote."""
        values = {
            "channel": fb.channel_ref,
            "user": fb.user,
            "paper_key": fb.paper_key,
            "vote": int(fb.vote),
            "at": fb.at,
            "via": fb.via,
        }

        def work(conn: Connection) -> bool:
            earlier = conn.execute(
                select(feedback.c.id).where(
                    feedback.c.channel == fb.channel_ref,
                    feedback.c.user == fb.user,
                    feedback.c.paper_key == fb.paper_key,
                )
            ).first()
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            stmt = dialect.insert(feedback).values(**values)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["channel", "user", "paper_key"],
                    set_={"vote": values["vote"], "at": values["at"], "via": values["via"]},
                )
            )
            return earlier is not None

        return bool(self._run("record", work))

    def withdraw(
        self,
        channel_ref: str,
        user: str,
        paper_key: str,
        *,
        vote: Vote | None = None,
        via: str | None = None,
    ) -> bool:
        """Delete `user`'s vote on `paper_key` in the channel, only when it is `vote` (when
        given) and was given `via` (when given): a removed reaction withdraws the vote that
        reaction gave, never the one the person gave later by a button or a command. True
        when a vote was deleted."""
        where = [
            feedback.c.channel == channel_ref,
            feedback.c.user == user,
            feedback.c.paper_key == paper_key,
        ]
        if vote is not None:
            where.append(feedback.c.vote > 0 if vote > 0 else feedback.c.vote < 0)
        if via is not None:
            where.append(feedback.c.via == via)

        def work(conn: Connection) -> bool:
            return bool(conn.execute(delete(feedback).where(*where)).rowcount)

        return bool(self._run("withdraw", work))

    def votes(self, channel_ref: str) -> list[Feedback]:
        """The channel's votes, oldest first."""
        return self.votes_of([channel_ref]).get(channel_ref, [])

    def votes_of(self, channel_refs: Iterable[str]) -> dict[str, list[Feedback]]:
        """The votes of each of `channel_refs` that has any, oldest first (channels without
        feedback are absent: a digest of thousands of channels reads them in one query)."""
        refs = sorted(set(channel_refs))

        def work(conn: Connection) -> dict[str, list[Feedback]]:
            out: dict[str, list[Feedback]] = {}
            for part in chunks(refs, IN_CHUNK):
                rows = conn.execute(
                    select(feedback)
                    .where(feedback.c.channel.in_(part))
                    .order_by(feedback.c.at, feedback.c.id)
                )
                for row in rows:
                    out.setdefault(row.channel, []).append(_feedback(row))
            return out

        result: dict[str, list[Feedback]] = self._run("read", work)
        return result

    def clear(self, channel_ref: str, paper_key: str | None = None) -> int:
        """Delete the channel's votes (on `paper_key` only, when given); how many."""
        where = [feedback.c.channel == channel_ref]
        if paper_key is not None:
            where.append(feedback.c.paper_key == paper_key)

        def work(conn: Connection) -> int:
            return int(conn.execute(delete(feedback).where(*where)).rowcount or 0)

        return int(self._run("clear", work))

    def recent(self, channel_ref: str, user: str, since: datetime) -> int:
        """How many of the user's votes in the channel were given at or after `since` (a
        vote changed later counts once, at its latest time): for the rate limit."""

        def work(conn: Connection) -> int:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(feedback)
                    .where(
                        feedback.c.channel == channel_ref,
                        feedback.c.user == user,
                        feedback.c.at >= since,
                    )
                ).scalar_one()
            )

        return int(self._run("read", work))

    def papers_of_message(self, channel_ref: str, message_ref: str) -> list[str]:
        """The keys of the papers the posted message `message_ref` (Slack ts, Discord message
        id) carries in the channel, from the posted ledger; [] for a message the bot did not
        post (or not yet confirmed)."""

        def work(conn: Connection) -> list[str]:
            rows = conn.execute(
                select(posted.c.paper_key)
                .where(
                    posted.c.channel == channel_ref,
                    posted.c.message_ref == message_ref,
                    posted.c.status == POSTED,
                )
                .order_by(posted.c.paper_key)
            )
            return [str(k) for k in rows.scalars()]

        result: list[str] = self._run("read", work)
        return result
