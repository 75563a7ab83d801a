"""One digest cycle: the only place where the pure steps (match, dedupe, rank, summarize,
render) meet I/O (archive, runs, outbox, delivery).

A cycle reads each channel's window (bot.store.runs), chooses its digest, plans its papers
into the channel's outbox and lets the outbox's sender drain it (bot.outbox: the one owner
of exactly-once, crash safety and takeover). Killed at any instant and run again, nothing
confirmed is posted again and nothing is lost; only the message in flight at the kill is
uncertain, and it is sent again as the same message (see bot.outbox).

A person's own profile (issue 19, `Profile.person`) runs with the channels: its digest
leaves out what its home channel posted that day (bot.pipeline.personal), goes out by
direct message (`_ToPerson`: the platform's DM channel, opened once per process), and a
refusal by the platform pauses the person with the reason and tells them once (`_refused`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from weakref import WeakKeyDictionary
from zoneinfo import ZoneInfo

from bot.delivery.base import Delivery
from bot.delivery.direct import DirectMessageRefused, OpensDirectMessages, TellsPrivately
from bot.delivery.retry import Sleep
from bot.errors import DeliveryError, StoreError
from bot.feedback import Teach
from bot.models import Digest, Message, Paper, Profile
from bot.outbox import LEASE, Outbox
from bot.pipeline.lexicon import Lexicon
from bot.pipeline.match import Matcher, asked
from bot.pipeline.personal import homes_to_read, posted_at_home_today, refusal_notice
from bot.pipeline.plan import Items, plan_digest
from bot.pipeline.render.discord_embeds import render_discord
from bot.pipeline.render.slack import render_slack
from bot.pipeline.repairs import prefill
from bot.pipeline.semantic import Semantic
from bot.pipeline.split import cores
from bot.pipeline.summarize import SUMMARY_CHARS
from bot.store import aio
from bot.store.aio import Async
from bot.store.archive import Archive
from bot.store.db import chunks
from bot.store.ledger import Ledger
from bot.store.profile_rules import split_ref
from bot.store.profiles import ProfileStore
from bot.store.runs import DigestRuns
from bot.turns import TURN, Sending, Turn, send_in_turn

log = logging.getLogger(__name__)

# Channels of one run sending at once. One: a run posts channel after channel (what the
# crash-safety tests and an operator watching see), but a channel waiting out a Retry-After
# or a backoff, or an answer slower than SLOW_ANSWER, hands its turn to the next channel
# meanwhile (bot.turns).
SENDING_AT_ONCE = 1
SLOW_ANSWER = 5.0  # seconds a platform's answer may take before the next channel goes on
# Channels whose digests are chosen in one worker thread: few enough that a batch takes
# well under a second, many enough that 10,000 channels are not 10,000 thread hops.
SELECT_BATCH = 64
# Whether a run with SPLIT_TOPICS distinct topics (and exclusions) or more evaluates them in
# two processes (`Matcher.evaluate`, when there is a second core). Off: on the shared 2-core
# machine of issue 18 (never an idle core) it showed no gain at 10,000 channels and may cost
# at 100,000 (pickling the child's half); to be measured on an idle machine before turning on.
SPLIT = False
SPLIT_TOPICS = 500
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


class MatcherCache:
    """Builds a digest run's Matcher, or reuses the previous run's when it is asked for the
    same papers with the same lexicon: digest jobs that fire together (one per channel
    schedule) then understand and evaluate each topic once, not once per job. Digest runs
    use it in worker threads, one at a time: they hold `lock` while they build and use its
    Matcher (a Matcher's caches are not safe to fill from two threads at once). With
    `semantic` (relevance.semantic), its Matchers have evidence from word meaning."""

    def __init__(self, semantic: Semantic | None = None) -> None:
        self._last: tuple[Lexicon, list[Paper], Matcher] | None = None
        self.lock = threading.Lock()
        self.semantic = semantic

    def __call__(self, papers: list[Paper], lexicon: Lexicon) -> Matcher:
        last = self._last
        if last is not None and last[0] is lexicon and last[1] == papers:
            return last[2]
        matcher = Matcher(papers, lexicon, semantic=self.semantic)
        self._last = (lexicon, papers, matcher)
        return matcher


class _Once:
    """A Matcher factory that builds one Matcher with `make` at its first call and returns
    it at every later one (a digest run's batches share the run's papers and lexicon)."""

    def __init__(self, make: Callable[[list[Paper], Lexicon], Matcher]) -> None:
        self._make = make
        self._made: Matcher | None = None

    def __call__(self, papers: list[Paper], lexicon: Lexicon) -> Matcher:
        if self._made is None:
            self._made = self._make(papers, lexicon)
        return self._made


class DigestCycle:
    """Runs digests for channels. Everything is injected; `clock` gives aware UTC now,
    `sleep` waits between send attempts (tests pass a fake).

    The event loop it runs on also answers chat commands, the Discord gateway and the
    health check: it never blocks it. Every store call (through bot.store.aio) and every step
    whose work grows with the papers or channels (matching, planning, rendering) runs in a
    worker thread; the loop only awaits them and the platforms
    (tests/reliability/test_event_loop.py)."""

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
        teach: Teach | None = None,
        sending_at_once: int = SENDING_AT_ONCE,
        profiles: ProfileStore | None = None,
    ) -> None:
        self._archive = Async(archive)
        self._runs = Async(runs)
        self._lexicon = lexicon
        self._deliveries = deliveries
        self._clock = clock
        self._sleep = sleep
        self._summary_chars = summary_chars
        self._outbox = Outbox(
            Async(ledger), self._archive, clock=clock, lease=lease, summary_chars=summary_chars
        )
        self._matchers = matchers
        self._teach = teach  # the channels' feedback; None: digests ignore it
        self._sending_at_once = sending_at_once  # channels sending at once (bot.turns)
        # pauses a person whose DMs are refused; None: the refusal only fails the run
        self._profiles = profiles
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
        end = self._archive.sync.complete_until(now)  # (in a worker thread: see `run`)
        if since is not None:
            return {p.ref: (since, max(since, end)) for p in profiles}
        last = self._runs.sync.last_complete_of(p.ref for p in profiles)
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
        windows = await aio.run(self.windows, profiles, now, since)
        if not windows:
            return []
        earliest = min(start for start, _ in windows.values())
        latest = max(end for _, end in windows.values())
        papers = await self._archive(lambda archive: archive.since(earliest, latest))
        lexicon = await aio.run(self._lexicon)
        # the typo repairs of every channel's topics in one pass, before any is understood
        await aio.run(prefill, [t for p in profiles for t in (*p.topics, *p.exclude)], lexicon)
        try:
            # with the home channels of persons (what they posted today is not DMed again)
            refs = {*windows, *homes_to_read(profiles)}
            confirmed = await self._outbox.confirmed(refs, [p.key for p in papers])
        except StoreError as e:
            return [ChannelOutcome(p, DigestRuns.FAILED, error=str(e)) for p in profiles]
        outcomes: list[ChannelOutcome] = []
        # Each channel's delivery is a task taking turns (SENDING_AT_ONCE): a channel
        # waiting before a retry lets the next ones send, its own messages stay in order,
        # and the next batch is chosen while this one sends.
        sending: Sending[ChannelOutcome] = Sending(self._sending_at_once)
        # one Matcher for every batch of the run: each topic is evaluated once per run
        matcher = _Once(self._matchers)
        await asyncio.to_thread(self._evaluate, profiles, papers, lexicon, matcher)
        items = Items(self._summary_chars)  # the run's digest items, shared by channels
        try:
            for batch in chunks(profiles, SELECT_BATCH):
                if stop is not None and stop.is_set():
                    break
                digests = await asyncio.to_thread(
                    self._select, batch, papers, lexicon, windows, confirmed, now, matcher, items
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

    def _evaluate(
        self,
        profiles: Sequence[Profile],
        papers: list[Paper],
        lexicon: Lexicon,
        matchers: Callable[[list[Paper], Lexicon], Matcher],
    ) -> None:
        """Every topic and exclusion of the run evaluated before any digest is chosen: in
        two processes with SPLIT, SPLIT_TOPICS of them or more and a second core
        (`Matcher.evaluate`). In a worker thread, holding the Matcher's lock."""
        topics = list(dict.fromkeys(t for p in profiles for t in (*p.topics, *p.exclude)))
        with self._matching:
            matcher = matchers(papers, lexicon)
            split = SPLIT and len(topics) >= SPLIT_TOPICS and cores() >= 2
            matcher.evaluate(topics, split=split)

    def _select(
        self,
        profiles: Sequence[Profile],
        papers: list[Paper],
        lexicon: Lexicon,
        windows: Mapping[str, tuple[datetime, datetime]],
        confirmed: Mapping[str, Mapping[str, datetime]],
        now: datetime,
        matchers: Callable[[list[Paper], Lexicon], Matcher] | None = None,
        items: Items | None = None,
    ) -> list[Digest]:
        """The digest of each of `profiles`: its best matches in its window that it was not
        sent yet (a paper another run posts after that read is refused by `Outbox.plan`).
        A channel with feedback gets its model (`Teach.learned_of`: one read for the batch,
        nothing more for channels without), and its digest asks about a few papers it
        nearly selected (`bot.pipeline.match.asked`, "Unsure — is this for you?").
        `matchers` (default: the cycle's) builds the Matcher; `run` passes one that builds
        it once for all its batches, and `items` (`Items`) the digest items made so far.
        In a worker thread, holding the Matcher's lock while
        matching."""
        out = []
        learned = self._teach.learned_of([p.ref for p in profiles], papers) if self._teach else {}
        with self._matching:
            matcher = (matchers or self._matchers)(papers, lexicon)
            for profile in profiles:
                start, end = windows[profile.ref]
                posted = {
                    i
                    for k in confirmed.get(profile.ref, ())
                    if (i := matcher.index_of(k)) is not None
                }
                if profile.person:  # what the home channel posted today: not sent again
                    home = confirmed.get(profile.home or "", {})
                    posted |= {
                        i
                        for k in posted_at_home_today(profile, home, now)
                        if (i := matcher.index_of(k)) is not None
                    }
                model = learned.get(profile.ref)
                drop = (matcher.outside(start, end), posted)
                matches, matched = matcher.best(
                    profile, drop=drop, limit=profile.max_posts, learned=model
                )
                day = now.astimezone(ZoneInfo(profile.timezone)).date()
                out.append(
                    plan_digest(
                        profile,
                        matches,
                        day=day,
                        summary_chars=self._summary_chars,
                        matched=matched,
                        items=items,
                        asked=asked(
                            matcher,
                            profile,
                            drop=drop,
                            learned=model,
                            teaching=self._teach is not None,
                        ),
                    )
                )
        return out

    async def _deliver_one(
        self,
        sending: Sending[ChannelOutcome],
        profile: Profile,
        digest: Digest,
        window: tuple[datetime, datetime],
        now: datetime,
        scheduled_for: datetime | None,
        stop: asyncio.Event | None,
    ) -> ChannelOutcome | None:
        """One channel's delivery when its turn comes; None when `stop` came first."""
        turn = Turn(sending.turns)
        await turn.take()
        try:
            if stop is not None and stop.is_set():
                return None
            TURN.set(turn)  # this task's own context: its sends wait without the turn
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
        run_id = await self._runs(
            lambda runs: runs.start(
                profile.ref, now=now, window=window, scheduled_for=scheduled_for
            )
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
            await self._finish(run_id, DigestRuns.FAILED, 0, "interrupted", None)
            raise
        try:
            window_end = window[0] if outcome.deferred else None
            await self._finish(
                run_id, outcome.status, len(outcome.posted), outcome.error, window_end
            )
        except StoreError as e:  # what was posted stays counted in the outcome
            log.warning("digest of %s not recorded: %s", profile.ref, e)
            if outcome.error is None:
                outcome.status = DigestRuns.PARTIAL if outcome.posted else DigestRuns.FAILED
                outcome.error = f"digest not recorded: {e}"
        return outcome

    async def _finish(
        self, run_id: int, status: str, count: int, error: str | None, end: datetime | None
    ) -> None:
        now = self._clock()
        await self._runs(
            lambda runs: runs.finish(
                run_id, status=status, posted_count=count, now=now, error=error, window_end=end
            )
        )

    async def _post(
        self, profile: Profile, digest: Digest, now: datetime, stop: asyncio.Event | None = None
    ) -> ChannelOutcome:
        delivery = self._deliveries.get(profile.platform)
        if delivery is None:
            error = f"{profile.platform} is not configured: add its credentials (see README)"
            return ChannelOutcome(profile, DigestRuns.FAILED, digest, error=error)
        asked = [i.paper.key for i in digest.items]
        held = await self._outbox.plan(profile.ref, asked, now=now)
        sender: Delivery
        if profile.person and isinstance(delivery, OpensDirectMessages):
            # a person's digest, by DM: rendered for a DM, the DM opened at the first send
            sender = _ToPerson(delivery, delivery, profile.platform)
        else:
            sender = delivery
        plan, digest = await self._outbox.messages(held, digest, sender)
        outcome = ChannelOutcome(profile, DigestRuns.DONE, digest, deferred=list(held.deferred))
        if outcome.deferred:
            log.info(
                "%d paper(s) for %s are held by another run; left to it",
                len(outcome.deferred),
                profile.ref,
            )
        if not digest.items and (outcome.deferred or not profile.post_empty):
            outcome.status = DigestRuns.EMPTY
            return outcome
        if profile.person and not isinstance(sender, _ToPerson):
            error = f"{profile.platform} cannot send direct messages"
            outcome.status, outcome.error = DigestRuns.FAILED, error
            await self._outbox.drain(held, (), _never)  # releases what was reserved
            return outcome
        drained = await self._outbox.drain(
            held,
            plan,
            lambda out: send_in_turn(sender, profile, out, self._sleep, SLOW_ANSWER),
            stop=lambda: stop is not None and stop.is_set(),
        )
        outcome.posted = drained.posted
        outcome.deferred += drained.deferred
        if drained.interrupted or drained.error is not None:
            outcome.status = DigestRuns.PARTIAL if outcome.posted else DigestRuns.FAILED
            outcome.error = INTERRUPTED if drained.interrupted else drained.error
        if isinstance(sender, _ToPerson) and sender.refused is not None:
            await self._refused(delivery, profile, sender.refused)
        return outcome

    async def _refused(
        self, delivery: Delivery, profile: Profile, refused: DirectMessageRefused
    ) -> None:
        """A person's DMs were refused: pause them with the reason (so no later run tries
        again until `/papers resume --me`) and tell them once, privately, in their home
        channel when the platform can (Slack ephemeral); otherwise they are told with their
        next /papers answer (handlers.personal)."""
        if self._profiles is None:
            return
        now = self._clock()
        store = self._profiles
        paused = await aio.run(
            lambda: store.refuse_dm(profile.platform, profile.channel_id, refused.reason, now=now)
        )
        if not paused:
            return
        log.warning("direct messages to %s refused; paused: %s", profile.ref, refused.reason)
        if not isinstance(delivery, TellsPrivately) or not profile.home:
            return
        _, home = split_ref(profile.home)
        if await delivery.tell(home, profile.channel_id, refusal_notice(refused.reason)):
            await aio.run(
                lambda: store.mark_notified(profile.platform, profile.channel_id, now=now)
            )


# Each delivery's DM channel per user, for the life of the process (a delivery lives as
# long as the service; a new one opens again): one conversations.open per person, not one
# per digest.
_DM_CHANNELS: WeakKeyDictionary[object, dict[str, str]] = WeakKeyDictionary()


_PLAIN: dict[str, Callable[[Digest], list[Message]]] = {
    "slack": render_slack,
    "discord": render_discord,
}


async def _never(out: Any) -> str:  # pragma: no cover - drained with an empty plan
    raise AssertionError("nothing to send")


class _ToPerson:
    """A person's delivery: `send` opens (once per process: `_DM_CHANNELS`) the DM channel
    with the person, then posts there with the platform's own `send` (same message, same
    idempotency). A refusal is kept in `refused` and raised (permanent: not retried)."""

    def __init__(self, delivery: Delivery, dms: OpensDirectMessages, platform: str) -> None:
        self._platform = platform
        self._delivery = delivery
        self._dms = dms
        self.refused: DirectMessageRefused | None = None

    def render(self, digest: Digest) -> list[Message]:
        """The platform's rendering without the feedback buttons: a click in a DM cannot
        be traced to the person's posted ledger yet (the chat front-ends key votes by the
        channel they come from). `/papers more <paper> --me` teaches instead."""
        plain = _PLAIN.get(self._platform)
        return plain(digest) if plain is not None else self._delivery.render(digest)

    async def aclose(self) -> None:
        await self._delivery.aclose()

    async def send(
        self, channel: Profile, message: Message, *, idempotency_key: str, maybe_sent: bool = False
    ) -> str:
        cache = _DM_CHANNELS.setdefault(self._delivery, {})
        try:
            dm = cache.get(channel.channel_id)
            if dm is None:
                dm = cache[channel.channel_id] = await self._dms.open_dm(channel.channel_id)
            target = replace(channel, channel_id=dm, person=False, name=channel.ref)
            return await self._delivery.send(
                target, message, idempotency_key=idempotency_key, maybe_sent=maybe_sent
            )
        except DirectMessageRefused as e:
            cache.pop(channel.channel_id, None)
            self.refused = e
            raise
        except DeliveryError as e:
            if e.permanent:  # the DM channel may be gone: the next run opens it again
                cache.pop(channel.channel_id, None)
            raise


def items_json(outcome: ChannelOutcome) -> list[dict[str, object]]:
    """The `--json` lines of a channel's digest: one object per paper to post."""
    items = outcome.digest.items if outcome.digest is not None else ()
    return [
        {
            "channel": outcome.profile.channel_id,
            "key": item.paper.key,
            "title": item.paper.title,
            "score": round(item.score, 4),
            "matched": list(item.topics),
            "summary": item.summary,
            "links": item.paper.links,
        }
        for item in items
    ]
