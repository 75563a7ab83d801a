"""The delivery outbox: the one owner of exactly-once. A digest plans its papers into the
outbox of a channel; the sender (`Outbox.drain`) turns them into confirmed messages.

Each paper of a channel's message is in one state, kept as a row of the posted ledger
(bot.store.ledger; the database's unique (channel, paper) keeps two runs from both
holding a paper):

    (no row) --plan--> PLANNED --sending--> SENDING --posted--> POSTED
                          |                    |
                          +--release--+        +--abandon--> ABANDONED
                                      |        |
                                      v        |
                                  RELEASED <---+ release (the platform refused it)

    =========  =====================================  ============================
    state      ledger row                             meaning
    =========  =====================================  ============================
    PLANNED    pending, "reserved:<token>", lease     held by one run, not sent yet
    SENDING    pending, "sending:<token>:<msg key>"   its message may be on the platform
    POSTED     posted, the platform's message ref     confirmed: never sent again
    ABANDONED  SENDING whose lease ended              the answer was lost: maybe posted
    RELEASED   no row                                 surely not posted: the next cycle
                                                      plans it again
    =========  =====================================  ============================

Transitions (`TRANSITIONS`, enforced by `Outbox._move` for the run's own papers; the ledger
makes each one a transaction that holds only while the run's token still owns the rows):

- plan: a paper with no row is PLANNED with a lease (`digest.lease`). A POSTED paper is
  never planned again.
- sending: just before its message goes out, with the message's idempotency key; it
  renews the lease of everything the run holds. Refused when the lease ran out and another
  run took a paper over: that message is not sent, the rest is left to the other run.
- posted: once the platform confirmed the message.
- abandon: the send failed without a refusal (timeout, 5xx, interruption mid-send) or its
  confirmation could not be recorded; the lease ends now.
- release: papers this run will not send (a failure before their turn, a stop between
  messages), and those of a message the platform refused.

Takeover (a run that died: SIGKILL, power loss, a lost database), decided in `plan` for
the papers of another run whose run is over: its lease ended, or its process is provably
gone (same host and container: bot.store.owner):

- PLANNED: planned again by the new run and sent as new.
- SENDING or ABANDONED: planned again *with every paper of that message* (also those not
  asked for), and sent again as that very message (same papers, same key, `maybe_sent`):
  Discord drops the repeat by nonce within its window ("a few minutes"), Slack looks for
  the key in the channel's history first (bot.delivery.slack).
- A paper held by a run that may still be going is left to it (`Held.deferred`).

Crash points, and what the next run does: killed before `plan` or after `release` —
nothing held; after `plan` — PLANNED rows, taken over and sent; after `sending`, during
the send, or before `posted` — SENDING rows, resent as the same message, looked for first:
a duplicate only when the platform is still processing the dead run's request (Slack) or
the takeover comes after Discord's nonce window (by lease expiry); after `posted` —
nothing is sent again. Tested on their own in tests/test_outbox.py.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import Enum

from bot.delivery.base import Delivery
from bot.errors import DeliveryError, StoreError
from bot.models import Digest, DigestItem, Message
from bot.pipeline.summarize import SUMMARY_CHARS, summarize
from bot.store import aio
from bot.store.aio import Async
from bot.store.archive import Archive
from bot.store.ledger import Ledger, Row

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=15)  # default `digest.lease`: outlives one message's retries


class State(Enum):
    """The state of one paper in one channel's outbox (see the table at the top)."""

    PLANNED = "planned"
    SENDING = "sending"
    POSTED = "posted"
    ABANDONED = "abandoned"
    RELEASED = "released"


# Every move of a run's own paper, and the ledger call that makes it. Takeover (a dead run's
# PLANNED, SENDING or ABANDONED paper planned again) happens inside `Ledger.take`.
TRANSITIONS: dict[tuple[State, State], str] = {
    (State.PLANNED, State.SENDING): "Ledger.sending",
    (State.PLANNED, State.RELEASED): "Ledger.release",
    (State.SENDING, State.POSTED): "Ledger.confirm",
    (State.SENDING, State.ABANDONED): "Ledger.abandon",
    (State.SENDING, State.RELEASED): "Ledger.release",
}


class IllegalMove(RuntimeError):
    """A move that `TRANSITIONS` does not allow (a bug in the caller, never the platform)."""


def idempotency_key(channel: str, message: Message, index: int) -> str:
    """Stable for the same channel and papers: a re-sent message gets the same key. At most
    25 characters (Discord's nonce limit)."""
    basis = "\n".join([channel, str(index), *message.keys]).encode()
    return hashlib.sha256(basis).hexdigest()[:25]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to send, its idempotency key, and whether it may be posted already."""

    message: Message
    key: str
    maybe_sent: bool = False


@dataclass(slots=True)
class Held:
    """What one run holds in one channel's outbox after `Outbox.plan`.

    `keys`: the papers it holds, in the order asked, then any other paper of a taken-over
    message. `resend`: each held paper taken over while SENDING or ABANDONED -> the key of
    its message. `deferred`: the papers asked for that another live run holds. `states`:
    where each held paper is now."""

    channel: str
    token: str
    keys: list[str]
    resend: dict[str, str]
    deferred: list[str]
    states: dict[str, State] = field(default_factory=dict)


@dataclass(slots=True)
class Drained:
    """What the sender did with a run's messages: the papers confirmed on the platform
    (counted even when their confirmation could not be recorded), those left to another run
    whose lease took them over, and why it stopped early (`error`, or `interrupted`)."""

    posted: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    error: str | None = None
    interrupted: bool = False


class Outbox:
    """The channels' outboxes over the posted ledger. `clock` gives aware UTC now; `lease`
    is how long a run holds its papers without renewing. Raises StoreError."""

    def __init__(
        self,
        ledger: Async[Ledger],
        archive: Async[Archive],
        *,
        clock: Callable[[], datetime],
        lease: timedelta = LEASE,
        summary_chars: int = SUMMARY_CHARS,
    ) -> None:
        self._ledger = ledger
        self._archive = archive
        self._clock = clock
        self._lease = lease
        self._summary_chars = summary_chars

    async def plan(self, channel: str, keys: Sequence[str], *, now: datetime) -> Held:
        """Plan `keys` for `channel`: those not posted and not held by a live run, plus the
        takeovers (see the top)."""
        taken = await self._ledger(
            lambda ledger: ledger.take(channel, keys, now=now, lease=self._lease)
        )
        mine = set(taken.keys)
        deferred = [k for k in keys if k not in mine]
        held = Held(channel, taken.token, taken.keys, taken.resend, deferred)
        held.states = dict.fromkeys(taken.keys, State.PLANNED)
        return held

    async def confirmed(
        self, channels: Iterable[str], keys: Iterable[str]
    ) -> dict[str, dict[str, datetime]]:
        """The POSTED papers of `keys` in each of `channels`: channel -> key -> when (what a
        digest leaves out before it plans; a paper posted after this read is refused by
        `plan`)."""
        return await self._ledger(lambda ledger: ledger.posted_in(channels, keys))

    async def state_of(self, channel: str, keys: Sequence[str]) -> dict[str, State]:
        """Where each of `keys` is in `channel`'s outbox now (RELEASED: no row)."""
        now = self._clock()
        rows = await self._ledger(lambda ledger: ledger.rows(channel, keys))
        return {k: _state(rows.get(k), now) for k in keys}

    def _check(self, held: Held, keys: Sequence[str], to: State) -> None:
        for key in keys:
            now = held.states.get(key)
            if now is None or (now, to) not in TRANSITIONS:
                raise IllegalMove(f"{held.channel} {key}: {now} -> {to.name}")

    async def _move(
        self, held: Held, keys: Sequence[str], to: State, write: Callable[[Ledger], bool | None]
    ) -> bool:
        """The one place a paper changes state: checked, written, then recorded."""
        self._check(held, keys, to)
        if await self._ledger(write) is False:
            return False
        held.states.update(dict.fromkeys(keys, to))
        return True

    async def sending(self, held: Held, keys: Sequence[str], message_key: str) -> bool:
        """PLANNED -> SENDING; False (nothing changed) when the lease was lost."""
        now, lease, token = self._clock(), self._lease, held.token
        return await self._move(
            held,
            keys,
            State.SENDING,
            lambda ledger: ledger.sending(
                held.channel, keys, token=token, message_key=message_key, now=now, lease=lease
            ),
        )

    async def posted(self, held: Held, keys: Sequence[str], ref: str) -> None:
        """SENDING -> POSTED: the platform confirmed the message `ref`."""
        now = self._clock()
        await self._move(
            held,
            keys,
            State.POSTED,
            lambda ledger: ledger.confirm(held.channel, keys, ref=ref, now=now),
        )

    async def abandon(self, held: Held, keys: Sequence[str]) -> None:
        """SENDING -> ABANDONED: maybe posted; the next run takes it over at once."""
        now = self._clock()
        await self._move(
            held,
            keys,
            State.ABANDONED,
            lambda ledger: ledger.abandon(held.channel, keys, token=held.token, now=now),
        )

    async def release(self, held: Held, keys: Sequence[str]) -> None:
        """PLANNED or SENDING (refused) -> RELEASED: surely not posted."""
        await self._move(
            held,
            keys,
            State.RELEASED,
            lambda ledger: ledger.release(held.channel, keys, token=held.token),
        )

    async def messages(
        self, held: Held, digest: Digest, delivery: Delivery
    ) -> tuple[list[Outgoing], Digest]:
        """The messages to send for what `held` holds, and the digest they carry (rendered
        in a worker thread: see `_messages`)."""
        return await aio.run(self._messages, held, digest, delivery)

    def _messages(
        self, held: Held, digest: Digest, delivery: Delivery
    ) -> tuple[list[Outgoing], Digest]:
        """First every message an earlier attempt may have posted (it failed or was stopped
        before the platform confirmed it), again as that message (its
        papers together, its key, `maybe_sent`); then the rest of the digest as new
        messages. A paper of such a message that is no longer in the digest (a new ranking,
        a changed profile) is fetched from the archive to travel with it."""
        items = {i.paper.key: i for i in digest.items}
        resent: dict[str, list[DigestItem]] = {}
        for key in held.keys:
            message_key = held.resend.get(key)
            if message_key is None:
                continue
            item = items.get(key) or self._archived_item(key)
            if item is not None:
                resent.setdefault(message_key, []).append(item)
        again = {i.paper.key for group in resent.values() for i in group}
        fresh = tuple(items[k] for k in held.keys if k in items and k not in again)
        plan: list[Outgoing] = []
        for message_key, group in resent.items():
            messages = delivery.render(replace(digest, items=tuple(group), more=0))
            for n, message in enumerate(messages):  # one message (packing keeps room)
                key = message_key if n == 0 else idempotency_key(message_key, message, n)
                plan.append(Outgoing(message, key, maybe_sent=True))
        if resent:
            log.info(
                "sending %d message(s) for %s again: an earlier attempt ended without the "
                "platform's confirmation, so each is looked for or sent once more",
                len(resent),
                held.channel,
            )
        if fresh or not resent:
            rest = replace(digest, items=fresh)
            for index, message in enumerate(delivery.render(rest)):
                plan.append(Outgoing(message, idempotency_key(held.channel, message, index)))
        carried = tuple(i for group in resent.values() for i in group) + fresh
        return plan, replace(digest, items=carried)

    def _archived_item(self, key: str) -> DigestItem | None:
        paper = self._archive.sync.get(key)  # in the worker thread of `messages`
        if paper is None:
            return None
        summary = summarize(paper, max_chars=self._summary_chars)
        return DigestItem(paper=paper, score=0.0, topics=(), summary=summary)

    async def drain(
        self,
        held: Held,
        plan: Sequence[Outgoing],
        send: Callable[[Outgoing], Awaitable[str]],
        stop: Callable[[], bool] = lambda: False,
    ) -> Drained:
        """The sender: each message of `plan` in order, SENDING before it goes out, POSTED
        once `send` returned the platform's reference. Stops at the first failure, at a lost
        lease, or once `stop()` is true between messages; then the message in flight is
        ABANDONED (unless refused) and what was not sent RELEASED. A StoreError or
        DeliveryError ends up in `Drained.error`; an interruption (cancellation) propagates
        after the same clean-up."""
        out = Drained()
        inflight: Sequence[str] = ()
        try:
            for outgoing in plan:
                if stop():
                    out.interrupted = True
                    break
                keys = outgoing.message.keys
                if keys and not await self.sending(held, keys, outgoing.key):
                    sent = set(out.posted)
                    lost = [k for k in held.keys if k not in sent]
                    log.warning("lease on %d paper(s) for %s ran out", len(lost), held.channel)
                    out.deferred += lost
                    break
                inflight = keys
                ref = await send(outgoing)
                if keys:
                    out.posted += keys  # on the platform: counted even if not recorded
                    await self.posted(held, keys, ref)
                inflight = ()
        except DeliveryError as e:
            out.error = str(e)
            if e.permanent:
                inflight = ()  # refused: surely not posted, released below
        except StoreError as e:  # the ledger failed mid-way: what was posted stays counted
            out.error = str(e)
        finally:
            try:
                if inflight:  # maybe posted: the next run looks for it before sending again
                    await self.abandon(held, inflight)
                done = {*out.posted, *out.deferred, *inflight}
                unsent = [k for k in held.keys if k not in done]
                if unsent:
                    await self.release(held, unsent)
            except StoreError as e:  # their lease ends them; the next run takes them over
                log.warning("reservations for %s left to their lease: %s", held.channel, e)
        return out


def _state(row: Row | None, now: datetime) -> State:
    if row is None:
        return State.RELEASED
    if row.posted:
        return State.POSTED
    if row.message_key is None:
        return State.PLANNED
    if row.lease_until is None or row.lease_until <= now:
        return State.ABANDONED
    return State.SENDING
