"""One digest cycle: the only place where the pure steps (match, dedupe, rank, summarize,
render) meet I/O (archive, ledger, delivery).

Crash safety (`paperboy digest` killed with SIGKILL at any instant, then run again):

- A paper is recorded as posted only after the platform confirmed its message, so nothing
  confirmed is ever posted again, and nothing is lost: a killed run's papers stay reserved
  until the next run takes them over, at once when it can tell the killed process is gone
  (same host and container: bot.store.owner), else when their lease (`digest.lease`,
  renewed before each message) has run out. A run that finds papers held by a run that
  may still be going leaves them to it *without consuming its window*, so whichever run
  comes after the holder's end posts what the holder did not.
- Only the message in flight at the kill is uncertain. Before sending a message the run
  records its idempotency key with its papers; the run that takes them over sends that
  same message again (same papers, same key, `maybe_sent=True`). Discord drops the repeat
  by nonce (`enforce_nonce`), but only within its nonce window ("a few minutes"): a
  takeover by lease expiry (15 min by default) comes later, and may then repost that one
  message. Slack looks for the key in the channel's recent history first; a duplicate is
  possible only when Slack is still processing the killed run's request while the new run
  looks: at most that one message, once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from bot.delivery.base import Delivery
from bot.delivery.retry import send_with_retry
from bot.errors import DeliveryError, StoreError
from bot.models import Digest, DigestItem, Message, Paper, Profile
from bot.pipeline.lexicon import Lexicon
from bot.pipeline.match import Matcher
from bot.pipeline.plan import plan_digest
from bot.pipeline.summarize import SUMMARY_CHARS, summarize
from bot.store.archive import Archive
from bot.store.db import chunks
from bot.store.ledger import Ledger, Reservation
from bot.store.runs import DigestRuns

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
LEASE = timedelta(minutes=15)  # default `digest.lease`: outlives one message's retries
# Channels of one run sending at once. One: a run posts channel after channel (what the
# crash-safety tests and an operator watching see), but a channel waiting out a Retry-After
# or a backoff, or an answer slower than SLOW_ANSWER, hands its turn to the next channel
# meanwhile (see `_Turn`).
SENDING_AT_ONCE = 1
SLOW_ANSWER = 5.0  # seconds a platform's answer may take before the next channel goes on
# Channels whose digests are chosen in one worker thread: few enough that a batch takes
# well under a second, many enough that 10,000 channels are not 10,000 thread hops.
SELECT_BATCH = 64
INTERRUPTED = "interrupted by shutdown: the rest is posted at the next start"


@dataclass(slots=True)
class ChannelOutcome:
    """What one channel's digest did. `status`: done, empty, partial, failed, claimed
    (another firing already ran this scheduled digest), dry-run."""

    profile: Profile
    status: str
    digest: Digest | None = None
    posted: list[str] = field(default_factory=list)
    error: str | None = None
    # Papers of this digest another live run holds: it posts them, or the next run does.
    deferred: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status in {DigestRuns.FAILED, DigestRuns.PARTIAL}


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


class MatcherCache:
    """Builds a digest run's Matcher, or reuses the previous run's when it is asked for the
    same papers with the same lexicon: digest jobs that fire together (one per channel
    schedule) then understand and evaluate each topic once, not once per job. Digest runs
    use it in worker threads, one at a time: they hold `lock` while they build and use its
    Matcher (a Matcher's caches are not safe to fill from two threads at once)."""

    def __init__(self) -> None:
        self._last: tuple[Lexicon, list[Paper], Matcher] | None = None
        self.lock = threading.Lock()

    def __call__(self, papers: list[Paper], lexicon: Lexicon) -> Matcher:
        last = self._last
        if last is not None and last[0] is lexicon and last[1] == papers:
            return last[2]
        matcher = Matcher(papers, lexicon)
        self._last = (lexicon, papers, matcher)
        return matcher


class DigestCycle:
    """Runs digests for channels. Everything is injected; `clock` gives aware UTC now,
    `sleep` waits between send attempts (tests pass a fake).

    The event loop it runs on also answers chat commands, the Discord gateway and the
    health check: it never blocks it. Every store call and every step whose work grows with
    the papers or channels (matching, planning, rendering) runs in a worker thread; the loop
    only awaits them and the platforms (tests/reliability/test_event_loop.py)."""

    def __init__(
        self,
        *,
        archive: Archive,
        ledger: Ledger,
        runs: DigestRuns,
        lexicon: Callable[[], Lexicon],
        deliveries: Mapping[str, Delivery],
        clock: Callable[[], datetime],
        sleep: Sleep = asyncio.sleep,
        summary_chars: int = SUMMARY_CHARS,
        lease: timedelta = LEASE,
        matchers: Callable[[list[Paper], Lexicon], Matcher] = Matcher,
    ) -> None:
        self._archive = archive
        self._ledger = ledger
        self._runs = runs
        self._lexicon = lexicon
        self._deliveries = deliveries
        self._clock = clock
        self._sleep = sleep
        self._summary_chars = summary_chars
        self._lease = lease
        self._matchers = matchers
        # a shared MatcherCache brings its lock; a Matcher built per run needs none
        self._matching: threading.Lock = getattr(matchers, "lock", None) or threading.Lock()

    def window(
        self, profile: Profile, now: datetime, since: datetime | None
    ) -> tuple[datetime, datetime]:
        """The window of one profile (see `windows`)."""
        return self.windows([profile], now, since)[profile.ref]

    def windows(
        self, profiles: Sequence[Profile], now: datetime, since: datetime | None
    ) -> dict[str, tuple[datetime, datetime]]:
        """Each profile's window, papers first stored in [start, end]: since its last
        complete digest, or the look-back for a channel that never had one; `since` widens
        it on request. `end` is `now`, or earlier while an ingest that started before `now`
        is still committing (Archive.complete_until): its papers, stamped at or after its
        start, fall in the next window, not between two. `now` must be taken before this
        is called, and the papers read after it returns. Raises StoreError."""
        end = self._archive.complete_until(now)
        if since is not None:
            return {p.ref: (since, max(since, end)) for p in profiles}
        last = self._runs.last_complete_of(p.ref for p in profiles)
        out = {}
        for p in profiles:
            run = last.get(p.ref)
            start = run.window_end if run is not None else None
            if start is None:
                start = now - p.lookback
            out[p.ref] = (start, max(start, end))
        return out

    async def run(
        self,
        profiles: Sequence[Profile],
        *,
        dry_run: bool = False,
        since: datetime | None = None,
        scheduled_for: datetime | None = None,
        stop: asyncio.Event | None = None,
    ) -> list[ChannelOutcome]:
        """One digest for each profile. A failing channel is reported in its outcome and
        the others go on. `dry_run` posts and records nothing. Once `stop` is set (the
        service shuts down) no further message is sent: what was confirmed stays recorded,
        the rest of the run fails as interrupted and is posted by the next run."""
        now = self._clock()
        windows = await asyncio.to_thread(self.windows, profiles, now, since)
        if not windows:
            return []
        earliest = min(start for start, _ in windows.values())
        latest = max(end for _, end in windows.values())
        papers = await asyncio.to_thread(self._archive.since, earliest, latest)
        lexicon = await asyncio.to_thread(self._lexicon)
        try:
            ledger = await asyncio.to_thread(
                lambda: self._ledger.posted_in(windows, [p.key for p in papers])
            )
        except StoreError as e:
            return [ChannelOutcome(p, DigestRuns.FAILED, error=str(e)) for p in profiles]
        outcomes: list[ChannelOutcome] = []
        # Each channel's delivery is a task taking turns (SENDING_AT_ONCE): a channel
        # waiting before a retry lets the next ones send, its own messages stay in order,
        # and the next batch is chosen while this one sends.
        sending = _Sending(SENDING_AT_ONCE)
        try:
            for batch in chunks(profiles, SELECT_BATCH):
                if stop is not None and stop.is_set():
                    break
                digests = await asyncio.to_thread(
                    self._select, batch, papers, lexicon, windows, ledger, now
                )
                for profile, digest in zip(batch, digests, strict=True):
                    if dry_run:
                        outcomes.append(ChannelOutcome(profile, "dry-run", digest))
                        continue
                    sending.start(
                        self._deliver_one(
                            sending, profile, digest, windows[profile.ref], now, scheduled_for, stop
                        )
                    )
            outcomes += await sending.results()
        finally:
            await sending.cancel()  # interrupted: no channel goes on sending on its own
        done = {o.profile.ref for o in outcomes}
        outcomes += [
            ChannelOutcome(p, DigestRuns.FAILED, error=INTERRUPTED)
            for p in profiles
            if p.ref not in done
        ]
        return outcomes

    def _select(
        self,
        profiles: Sequence[Profile],
        papers: list[Paper],
        lexicon: Lexicon,
        windows: Mapping[str, tuple[datetime, datetime]],
        ledger: Mapping[str, Mapping[str, datetime]],
        now: datetime,
    ) -> list[Digest]:
        """The digest of each of `profiles`: its best matches in its window that it was not
        sent yet (a paper another run posts after the ledger was read is refused by `take`).
        In a worker thread, holding the Matcher's lock."""
        out = []
        with self._matching:
            matcher = self._matchers(papers, lexicon)
            for profile in profiles:
                start, end = windows[profile.ref]
                posted = {
                    i for k in ledger.get(profile.ref, ()) if (i := matcher.index_of(k)) is not None
                }
                matches, matched = matcher.best(
                    profile, drop=(matcher.outside(start, end), posted), limit=profile.max_posts
                )
                day = now.astimezone(ZoneInfo(profile.timezone)).date()
                out.append(
                    plan_digest(
                        profile,
                        matches,
                        day=day,
                        summary_chars=self._summary_chars,
                        matched=matched,
                    )
                )
        return out

    async def _deliver_one(
        self,
        sending: _Sending,
        profile: Profile,
        digest: Digest,
        window: tuple[datetime, datetime],
        now: datetime,
        scheduled_for: datetime | None,
        stop: asyncio.Event | None,
    ) -> ChannelOutcome | None:
        """One channel's delivery when its turn comes; None when `stop` came first."""
        turn = _Turn(sending.turns)
        await turn.take()
        try:
            if stop is not None and stop.is_set():
                return None
            _TURN.set(turn)  # this task's own context: `_send` waits without the turn
            return await self._deliver(profile, digest, window, now, scheduled_for, stop)
        except StoreError as e:
            return ChannelOutcome(profile, DigestRuns.FAILED, error=str(e))
        finally:
            turn.give()

    async def _deliver(
        self,
        profile: Profile,
        digest: Digest,
        window: tuple[datetime, datetime],
        now: datetime,
        scheduled_for: datetime | None,
        stop: asyncio.Event | None = None,
    ) -> ChannelOutcome:
        run_id = await asyncio.to_thread(
            self._runs.start, profile.ref, now=now, window=window, scheduled_for=scheduled_for
        )
        if run_id is None:
            return ChannelOutcome(profile, "claimed", digest)
        try:
            outcome = await self._post(profile, digest, now, stop)
        except StoreError as e:  # before anything was sent (take, plan): recorded below
            outcome = ChannelOutcome(profile, DigestRuns.FAILED, digest, error=str(e))
        except BaseException:
            # Interrupted (cancelled): what was confirmed is in the ledger; the run is
            # marked failed so the next start retakes the claim and posts the rest.
            await asyncio.to_thread(
                self._runs.finish,
                run_id,
                status=DigestRuns.FAILED,
                posted_count=0,
                now=self._clock(),
                error="interrupted",
            )
            raise
        try:
            await asyncio.to_thread(
                self._runs.finish,
                run_id,
                status=outcome.status,
                posted_count=len(outcome.posted),
                now=self._clock(),
                error=outcome.error,
                window_end=window[0] if outcome.deferred else None,
            )
        except StoreError as e:  # what was posted stays counted in the outcome
            log.warning("digest of %s not recorded: %s", profile.ref, e)
            if outcome.error is None:
                outcome.status = DigestRuns.PARTIAL if outcome.posted else DigestRuns.FAILED
                outcome.error = f"digest not recorded: {e}"
        return outcome

    async def _post(
        self, profile: Profile, digest: Digest, now: datetime, stop: asyncio.Event | None = None
    ) -> ChannelOutcome:
        delivery = self._deliveries.get(profile.platform)
        if delivery is None:
            error = f"{profile.platform} is not configured: add its credentials (see README)"
            return ChannelOutcome(profile, DigestRuns.FAILED, digest, error=error)
        asked = [i.paper.key for i in digest.items]
        held = await asyncio.to_thread(
            self._ledger.take, profile.ref, asked, now=now, lease=self._lease
        )
        plan, digest = await asyncio.to_thread(self._plan, profile, digest, held, delivery)
        outcome = ChannelOutcome(profile, DigestRuns.DONE, digest)
        mine = set(held.keys)
        outcome.deferred = [k for k in asked if k not in mine]
        if outcome.deferred:
            log.info(
                "%d paper(s) for %s are held by another run; left to it",
                len(outcome.deferred),
                profile.ref,
            )
        if not digest.items and (outcome.deferred or not profile.post_empty):
            outcome.status = DigestRuns.EMPTY
            return outcome
        inflight: tuple[str, ...] = ()
        try:
            for out in plan:
                if stop is not None and stop.is_set():
                    outcome.status = DigestRuns.PARTIAL if outcome.posted else DigestRuns.FAILED
                    outcome.error = INTERRUPTED
                    break
                keys = out.message.keys
                if keys and not await asyncio.to_thread(
                    self._ledger.sending,
                    profile.ref,
                    keys,
                    token=held.token,
                    message_key=out.key,
                    now=self._clock(),
                    lease=self._lease,
                ):
                    sent = set(outcome.posted)
                    lost = [k for k in held.keys if k not in sent]
                    log.warning("lease on %d paper(s) for %s ran out", len(lost), profile.ref)
                    outcome.deferred += lost
                    break
                inflight = keys
                ref = await self._send(delivery, profile, out)
                if keys:
                    outcome.posted += keys  # on the platform: counted even if not recorded
                    await asyncio.to_thread(
                        self._ledger.confirm, profile.ref, keys, ref=ref, now=self._clock()
                    )
                inflight = ()
        except DeliveryError as e:
            outcome.status = DigestRuns.PARTIAL if outcome.posted else DigestRuns.FAILED
            outcome.error = str(e)
            if e.permanent:
                inflight = ()  # refused: surely not posted, released below
        except StoreError as e:  # the ledger failed mid-way: what was posted stays counted
            outcome.status = DigestRuns.PARTIAL if outcome.posted else DigestRuns.FAILED
            outcome.error = str(e)
        finally:
            try:
                if inflight:  # maybe posted: the next run looks for it before sending again
                    await asyncio.to_thread(
                        self._ledger.abandon,
                        profile.ref,
                        inflight,
                        token=held.token,
                        now=self._clock(),
                    )
                done = {*outcome.posted, *outcome.deferred, *inflight}
                unsent = [k for k in held.keys if k not in done]
                if unsent:
                    await asyncio.to_thread(
                        self._ledger.release, profile.ref, unsent, token=held.token
                    )
            except StoreError as e:  # their lease ends them; the next run takes them over
                log.warning("reservations for %s left to their lease: %s", profile.ref, e)
        return outcome

    def _plan(
        self, profile: Profile, digest: Digest, held: Reservation, delivery: Delivery
    ) -> tuple[list[Outgoing], Digest]:
        """The messages to send for what this run holds, and the digest they carry.

        First every message a stopped run may have posted, again as that message (its
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
                "sending %d message(s) for %s again that a stopped run may have posted",
                len(resent),
                profile.ref,
            )
        if fresh or not resent:
            rest = replace(digest, items=fresh)
            for index, message in enumerate(delivery.render(rest)):
                plan.append(Outgoing(message, idempotency_key(profile.ref, message, index)))
        carried = tuple(i for group in resent.values() for i in group) + fresh
        return plan, replace(digest, items=carried)

    def _archived_item(self, key: str) -> DigestItem | None:
        paper = self._archive.get(key)
        if paper is None:
            return None
        summary = summarize(paper, max_chars=self._summary_chars)
        return DigestItem(paper=paper, score=0.0, topics=(), summary=summary)

    async def _send(self, delivery: Delivery, profile: Profile, out: Outgoing) -> str:
        """One message, retried under its time budget (bot.delivery.retry); its waits,
        and an answer slower than SLOW_ANSWER, give the channel's turn to the next."""
        turn = _TURN.get()

        def attempt() -> Awaitable[str]:
            call = delivery.send(
                profile, out.message, idempotency_key=out.key, maybe_sent=out.maybe_sent
            )
            return call if turn is None else turn.patiently(call)

        return await send_with_retry(
            attempt,
            what=profile.ref,
            sleep=self._sleep if turn is None else partial(turn.wait, self._sleep),
        )


class _Turn:
    """A channel's turn to send (one of `_Sending.turns`), given up while it waits."""

    def __init__(self, turns: asyncio.Semaphore) -> None:
        self._turns = turns
        self._held = False

    async def take(self) -> None:
        await self._turns.acquire()
        self._held = True

    def give(self) -> None:
        if self._held:
            self._held = False
            self._turns.release()

    async def wait(self, sleep: Sleep, seconds: float) -> None:
        """`sleep(seconds)` without the turn: other channels send meanwhile."""
        self.give()
        try:
            await sleep(seconds)
        finally:
            await self.take()

    async def patiently(self, call: Coroutine[Any, Any, str]) -> str:
        """`call`'s result; once it has taken SLOW_ANSWER seconds, without the turn."""
        task = asyncio.ensure_future(call)
        try:
            await asyncio.wait({task}, timeout=SLOW_ANSWER)
            if not task.done():
                self.give()
                try:
                    await asyncio.wait({task})
                finally:
                    await self.take()
            return task.result()
        finally:
            if not task.done():  # cancelled meanwhile: the attempt goes with it
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)


_TURN: ContextVar[_Turn | None] = ContextVar("paperboy_digest_turn", default=None)


class _Sending:
    """The channel deliveries of one run: started in order, at most `limit` at a time;
    `results` are their outcomes in that order (an unexpected exception is raised once
    every channel has finished); `cancel` stops those still running."""

    def __init__(self, limit: int) -> None:
        self.turns = asyncio.Semaphore(limit)
        self._tasks: list[asyncio.Task[ChannelOutcome | None]] = []

    def start(self, delivery: Coroutine[Any, Any, ChannelOutcome | None]) -> None:
        self._tasks.append(asyncio.ensure_future(delivery))

    async def results(self) -> list[ChannelOutcome]:
        done = await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for result in done:
            if isinstance(result, BaseException):
                raise result
        return [r for r in done if isinstance(r, ChannelOutcome)]

    async def cancel(self) -> None:
        pending = [t for t in self._tasks if not t.done()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []


def items_json(outcome: ChannelOutcome) -> list[dict[str, object]]:
    """The `--json` lines of a channel's digest: one object per paper to post."""
    digest = outcome.digest
    if digest is None:
        return []
    return [_item_json(outcome.profile, item) for item in digest.items]


def _item_json(profile: Profile, item: DigestItem) -> dict[str, object]:
    return {
        "channel": profile.channel_id,
        "key": item.paper.key,
        "title": item.paper.title,
        "score": round(item.score, 4),
        "matched": list(item.topics),
        "summary": item.summary,
        "links": item.paper.links,
    }
