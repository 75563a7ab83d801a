"""One weekly digest cycle (issue 19): for every channel with a `weekly` schedule (or the
ones asked for), the week's top papers and the trend chart of its topics over the last
eight weeks, posted exactly once per channel and week.

Where the pure steps (bot.pipeline.trends, bot.pipeline.weekly, bot.pipeline.render.chart,
bot.pipeline.render.weekly) meet I/O:

- the archive is read once for all channels: the papers first stored in the last
  `WEEKS` weeks and a margin before the earliest channel's local day;
- the charts' counts are made a day of papers at a time (one Matcher each, let go once
  counted), each topic, exclusion, zone and day counted once for all channels
  (`count_channels`); the top papers are chosen with one Matcher over the papers whose
  day (`paper_day`, the day the chart counts them on) is in a channel's week, however
  long before they were first stored (`in_weeks`: the most the cycle holds at once);
  one chart is drawn per distinct Trends (`ChartCache`: channels with the same topics
  share it);
- the channels' votes are read once (`FeedbackStore.votes_of`).

Exactly once: the weekly digest goes through the same outbox as the daily papers
(bot.outbox over the posted ledger), under a namespace of its own so the two never
collide: ledger channel `<ref>#weekly` (`weekly_channel`), one key per ISO week of the
channel's local day (`week:2026-W49`, `bot.pipeline.weekly.week_key`), one message
carrying it. A run that died after the message went out (or while its chart was
uploading) leaves the key SENDING, and the run that takes it over sends the very same
message again as `maybe_sent` (Slack looks for it in the channel's history by its
idempotency key first; Discord drops the repeat by nonce within its window of a few
minutes, so a takeover later than that repeats a message Discord had made), see
bot.outbox. A scheduled weekly run is also claimed in `digest_runs` under the same
`<ref>#weekly` channel and its scheduled time, so replicas whose timers fire together run
it once; a claim whose run died is taken over once stale (STALE_RUN: at a restart's
catch-up, or by the service's periodic weekly recovery, bot.service).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.delivery.base import Delivery
from bot.delivery.retry import Sleep
from bot.errors import StoreError
from bot.models import Attachment, Message, Paper, Profile
from bot.outbox import LEASE, Outbox, Outgoing, State, idempotency_key
from bot.pipeline.lexicon import Lexicon
from bot.pipeline.match import Matcher
from bot.pipeline.render.chart import ChartCache
from bot.pipeline.render.weekly import render_weekly
from bot.pipeline.repairs import prefill
from bot.pipeline.trends import (
    Trends,
    count_channels,
    describe,
    first_counted,
    paper_day,
    trends_for,
)
from bot.pipeline.weekly import (
    WeeklyDigest,
    WeekPapers,
    by_days,
    net_votes,
    select_week,
    week_key,
    week_start,
)
from bot.store import aio
from bot.store.aio import Async
from bot.store.archive import Archive
from bot.store.feedback import FeedbackStore
from bot.store.ledger import Ledger
from bot.store.runs import STALE_RUN, DigestRuns
from bot.turns import send_in_turn

log = logging.getLogger(__name__)

WEEKLY_SUFFIX = "#weekly"
UTC_ZONE = ZoneInfo("UTC")
SLOW_ANSWER = 5.0
# Papers first stored this long before a chart's first counted day are read too: their
# day (`paper_day`: published, HF listing day) may be later, and zones ahead of UTC start
# their day early.
MARGIN = timedelta(days=2)
# Outcome statuses beyond DigestRuns': the week's digest was posted before ("already"),
# another firing or replica holds this scheduled run ("claimed"), a dry run.
ALREADY, CLAIMED, DRY_RUN = "already", "claimed", "dry-run"


def weekly_channel(ref: str) -> str:
    """The ledger and `digest_runs` channel of `ref`'s weekly digests (`slack:C1#weekly`):
    never a daily digest's channel."""
    return ref + WEEKLY_SUFFIX


def wants_weekly(profile: Profile) -> bool:
    """A channel gets weekly digests when it has a `weekly` schedule and follows something.
    A person's own profile (`Profile.person`) never does: weekly digests are for channels."""
    return bool(profile.weekly and (profile.topics or profile.authors) and not profile.person)


def weekly_candidate(profile: Profile) -> bool:
    """Whether the cycle makes a weekly digest for `profile` when asked: a channel (not a
    person's profile) that follows something, scheduled weekly or not."""
    return bool((profile.topics or profile.authors) and not profile.person)


def local_day(profile: Profile, now: datetime) -> date:
    """The channel's local day at `now`: the last day of its week."""
    return now.astimezone(ZoneInfo(profile.timezone)).date()


@dataclass(slots=True)
class WeeklyOutcome:
    """What one channel's weekly digest did. `status`: done (posted now), already (this
    week's was posted before), claimed (another firing holds this scheduled run), empty
    (nothing to show), failed, dry-run. `message`: what was (or would be) posted."""

    profile: Profile
    status: str
    weekly: WeeklyDigest | None = None
    message: Message | None = None
    error: str | None = None
    ref: str | None = None  # the platform's reference of the posted message

    @property
    def failed(self) -> bool:
        return self.status == DigestRuns.FAILED

    @property
    def chart(self) -> Attachment | None:
        return self.message.files[0] if self.message and self.message.files else None


@dataclass(frozen=True, slots=True)
class Planned:
    """One channel's weekly digest ready to send: its key, trends and message."""

    profile: Profile
    key: str
    weekly: WeeklyDigest
    trends: Trends
    message: Message


class WeeklyCycle:
    """Runs weekly digests. Everything is injected; `clock` gives aware UTC now, `sleep`
    waits between send attempts. Store calls and the matching, counting and drawing run
    in worker threads: the event loop (shared with the chat front-ends) never blocks."""

    def __init__(
        self,
        *,
        archive: Archive,
        ledger: Ledger,
        runs: DigestRuns,
        feedback: FeedbackStore | None,
        lexicon: Callable[[], Lexicon],
        deliveries: Mapping[str, Delivery],
        clock: Callable[[], datetime],
        sleep: Sleep = asyncio.sleep,
        lease: timedelta = LEASE,
        matchers: Callable[[list[Paper], Lexicon], Matcher] = Matcher,
        charts: ChartCache | None = None,
    ) -> None:
        self._archive = Async(archive)
        self._runs = Async(runs)
        self._feedback = feedback
        self._lexicon = lexicon
        self._deliveries = deliveries
        self._clock = clock
        self._sleep = sleep
        self._outbox = Outbox(Async(ledger), self._archive, clock=clock, lease=lease)
        self._matchers = matchers
        self._matching: threading.Lock = getattr(matchers, "lock", None) or threading.Lock()
        self._charts = charts if charts is not None else ChartCache()

    async def run(
        self,
        profiles: Sequence[Profile],
        *,
        dry_run: bool = False,
        scheduled_for: datetime | None = None,
        stop: asyncio.Event | None = None,
    ) -> list[WeeklyOutcome]:
        """One weekly digest for each of `profiles` (those without topics or authors, and
        persons' profiles, are skipped: weekly digests are for channels), for the week
        ending on each one's local day now (or on the day of `scheduled_for`: a run caught
        up the next day shows its own week). A failing channel is reported in its outcome
        and the others go on. `dry_run` posts and records nothing. `scheduled_for`: the
        scheduled run this is (claimed per channel in `digest_runs`); None for a run on
        request (`paperboy digest --weekly`), which the ledger alone keeps to one post a
        week. Once `stop` is set no further channel is
        sent. A dry run answers as the real run would: the week already posted (ALREADY),
        nothing to show (empty), else DRY_RUN with the message."""
        profiles = [p for p in profiles if weekly_candidate(p)]
        if not profiles:
            return []
        now = self._clock()
        outcomes: list[WeeklyOutcome] = []
        if scheduled_for is not None and not dry_run:
            try:
                taken = await aio.run(self._claimed, profiles, scheduled_for, now)
            except StoreError as e:
                return [WeeklyOutcome(p, DigestRuns.FAILED, error=str(e)) for p in profiles]
            outcomes = [WeeklyOutcome(p, CLAIMED) for p in profiles if p.ref in taken]
            profiles = [p for p in profiles if p.ref not in taken]
            if not profiles:
                return outcomes
        try:
            planned = await self._plan(profiles, now, scheduled_for or now)
        except StoreError as e:
            return outcomes + [WeeklyOutcome(p, DigestRuns.FAILED, error=str(e)) for p in profiles]
        for item in planned:
            if dry_run:
                try:
                    outcomes.append(await self._dry_run(item))
                except StoreError as e:
                    outcomes.append(
                        WeeklyOutcome(item.profile, DigestRuns.FAILED, item.weekly, error=str(e))
                    )
                continue
            if stop is not None and stop.is_set():
                outcomes.append(
                    WeeklyOutcome(item.profile, DigestRuns.FAILED, item.weekly, error="stopped")
                )
                continue
            try:
                outcomes.append(await self._deliver(item, now, scheduled_for, stop))
            except StoreError as e:
                outcomes.append(
                    WeeklyOutcome(item.profile, DigestRuns.FAILED, item.weekly, error=str(e))
                )
        return outcomes

    async def dead_claims(self, due: Mapping[str, datetime]) -> tuple[set[str], set[str]]:
        """For the periodic recovery of the service: of the channels in `due` (ref -> the
        scheduled weekly run it is due for), those whose run's claim is held by a run
        that died (still RUNNING in `digest_runs` after STALE_RUN: `run` with that
        `scheduled_for` takes it over), and those whose run is over (done or empty:
        nothing to look at again). One read per channel, in a worker thread."""
        now = self._clock()

        def read() -> tuple[set[str], set[str]]:
            dead: set[str] = set()
            over: set[str] = set()
            for ref, at in due.items():
                run = self._runs.sync.last(weekly_channel(ref))
                if run is None or run.scheduled_for != at:
                    continue
                if run.status in (DigestRuns.DONE, DigestRuns.EMPTY):
                    over.add(ref)
                elif run.status == DigestRuns.RUNNING and run.started_at < now - STALE_RUN:
                    dead.add(ref)
            return dead, over

        return await aio.run(read)

    async def _dry_run(self, item: Planned) -> WeeklyOutcome:
        """What the real run would do with `item`, posting and recording nothing."""
        profile, weekly, message = item.profile, item.weekly, item.message
        if _nothing(item):
            return WeeklyOutcome(profile, DigestRuns.EMPTY, weekly, message)
        channel = weekly_channel(profile.ref)
        state = (await self._outbox.state_of(channel, [item.key]))[item.key]
        if state is State.POSTED:
            return WeeklyOutcome(profile, ALREADY, weekly, message)
        return WeeklyOutcome(profile, DRY_RUN, weekly, message)

    def _claimed(
        self, profiles: Sequence[Profile], scheduled_for: datetime, now: datetime
    ) -> set[str]:
        """The refs of `profiles` whose weekly run for `scheduled_for` another firing (or
        replica) already claimed and did not fail: left out before anything is counted or
        drawn, so the other jobs firing at the same time cost a read each. (The claim
        itself, in `_deliver`, still decides: this read only saves the work.)"""
        out: set[str] = set()
        for p in profiles:
            run = self._runs.sync.last(weekly_channel(p.ref))
            if run is None or run.scheduled_for != scheduled_for:
                continue
            if run.status in (DigestRuns.DONE, DigestRuns.EMPTY) or (
                run.status == DigestRuns.RUNNING and run.started_at >= now - STALE_RUN
            ):
                out.add(p.ref)
        return out

    async def _plan(
        self, profiles: Sequence[Profile], now: datetime, at: datetime
    ) -> list[Planned]:
        """Every channel's weekly digest and message for the week ending on its local day
        at `at` (reads, then one worker thread)."""
        ends = {p.ref: local_day(p, at) for p in profiles}
        first = first_counted(min(ends.values()))  # the charts' 7-day means count from it
        start = datetime.combine(first, time(), tzinfo=UTC) - MARGIN
        papers = await self._archive(lambda archive: archive.since(start, now))
        lexicon = await aio.run(self._lexicon)
        await aio.run(prefill, [t for p in profiles for t in (*p.topics, *p.exclude)], lexicon)
        votes: dict[str, dict[str, int]] = {}
        if self._feedback is not None:
            store = self._feedback
            found = await aio.run(store.votes_of, [p.ref for p in profiles])
            votes = {ref: net_votes(v) for ref, v in found.items()}
        return await asyncio.to_thread(self._choose, profiles, papers, lexicon, ends, votes)

    def _choose(
        self,
        profiles: Sequence[Profile],
        papers: list[Paper],
        lexicon: Lexicon,
        ends: Mapping[str, date],
        votes: Mapping[str, Mapping[str, int]],
    ) -> list[Planned]:
        """In a worker thread, holding the Matcher's lock while matching (charts are drawn
        and messages rendered after it). The charts' counts are made over the papers a day
        at a time (`by_days`: one Matcher each, let go once counted, `count_channels`), so
        memory is a week's papers (the top papers' Matcher) rather than eight weeks'; each
        topic, exclusion, zone and day is counted once for all channels. The top papers
        are chosen with one Matcher over the papers whose day (`paper_day`, the one the
        chart counts them on: HF listing day, else published, else first stored) is in one
        of the channels' weeks, a day either side for the zones (`in_weeks`): a paper
        first stored long before but listed on HF this week is one of them. Identical
        trends share one chart (`ChartCache`)."""
        chosen: list[tuple[Profile, Trends, WeeklyDigest]] = []
        with self._matching:  # (shared with the daily digests: held while matching only)
            counter = count_channels(
                (self._matchers(chunk, lexicon) for chunk in by_days(papers)),
                profiles,
                lambda p: ends[p.ref],
            )
            recent = in_weeks(papers, ends.values())
            matcher = self._matchers(recent, lexicon)
            matcher.evaluate(dict.fromkeys(t for p in profiles for t in (*p.topics, *p.exclude)))
            week = WeekPapers(matcher)
            for profile in profiles:
                end = ends[profile.ref]
                weekly = select_week(
                    matcher, profile, end=end, votes=votes.get(profile.ref, {}), week=week
                )
                chosen.append((profile, trends_for(counter, profile, end), weekly))
        out: list[Planned] = []
        for profile, trends, weekly in chosen:  # drawn and rendered without the lock
            weekly = replace(weekly, trend=describe(trends))
            key = week_key(weekly.end)
            chart = self._charts(trends)
            message = render_weekly(profile.platform, weekly, chart, key=key)
            out.append(Planned(profile, key, weekly, trends, message))
        return out

    async def _deliver(
        self,
        item: Planned,
        now: datetime,
        scheduled_for: datetime | None,
        stop: asyncio.Event | None,
    ) -> WeeklyOutcome:
        profile, weekly = item.profile, item.weekly
        channel = weekly_channel(profile.ref)
        if _nothing(item):
            return WeeklyOutcome(profile, DigestRuns.EMPTY, weekly, item.message)
        delivery = self._deliveries.get(profile.platform)
        if delivery is None:
            error = f"{profile.platform} is not configured: add its credentials (see README)"
            return WeeklyOutcome(profile, DigestRuns.FAILED, weekly, item.message, error)
        window = (
            datetime.combine(weekly.first_day, time(), tzinfo=ZoneInfo(profile.timezone)),
            now,
        )
        run_id = await self._runs(
            lambda runs: runs.start(channel, now=now, window=window, scheduled_for=scheduled_for)
        )
        if run_id is None:
            return WeeklyOutcome(profile, CLAIMED, weekly, item.message)
        try:
            outcome = await self._post(item, channel, delivery, now, stop)
        except BaseException:
            await self._finish(run_id, DigestRuns.FAILED, 0, "interrupted")
            raise
        status = DigestRuns.DONE if outcome.status in (DigestRuns.DONE, ALREADY) else outcome.status
        posted = 1 if outcome.status == DigestRuns.DONE else 0
        await self._finish(run_id, status, posted, outcome.error)
        return outcome

    async def _post(
        self,
        item: Planned,
        channel: str,
        delivery: Delivery,
        now: datetime,
        stop: asyncio.Event | None,
    ) -> WeeklyOutcome:
        """The week's message through the outbox: planned under the week's key, sent (again
        as the same message when an earlier attempt may have posted it), confirmed."""
        profile, weekly, message = item.profile, item.weekly, item.message
        held = await self._outbox.plan(channel, [item.key], now=now)
        if item.key not in held.keys:
            state = (await self._outbox.state_of(channel, [item.key]))[item.key]
            status = ALREADY if state is State.POSTED else CLAIMED
            return WeeklyOutcome(profile, status, weekly, message)
        resend = held.resend.get(item.key)
        outgoing = Outgoing(
            message,
            resend if resend is not None else idempotency_key(channel, message, 0),
            maybe_sent=resend is not None,
        )
        refs: list[str] = []

        async def send(out: Outgoing) -> str:
            ref = await send_in_turn(delivery, profile, out, self._sleep, SLOW_ANSWER)
            refs.append(ref)
            return ref

        drained = await self._outbox.drain(
            held, [outgoing], send, stop=lambda: stop is not None and stop.is_set()
        )
        if drained.error is not None or drained.interrupted:
            error = drained.error or "interrupted by shutdown"
            return WeeklyOutcome(profile, DigestRuns.FAILED, weekly, message, error)
        if not drained.posted:  # the lease was lost to another run: it posts it
            return WeeklyOutcome(profile, CLAIMED, weekly, message)
        return WeeklyOutcome(profile, DigestRuns.DONE, weekly, message, ref=refs[-1])

    async def _finish(self, run_id: int, status: str, count: int, error: str | None) -> None:
        now = self._clock()
        try:
            await self._runs(
                lambda runs: runs.finish(
                    run_id, status=status, posted_count=count, now=now, error=error
                )
            )
        except StoreError as e:  # the ledger keeps the week to one post regardless
            log.warning("weekly digest run %d not recorded: %s", run_id, e)


def _nothing(item: Planned) -> bool:
    """Whether the week's digest has nothing to show (no paper, an empty chart) and the
    channel does not want empty digests: the cycle posts nothing (status empty)."""
    empty = not item.weekly.items and not any(t.total for t in item.trends.series)
    return empty and not item.profile.post_empty


def in_weeks(papers: Sequence[Paper], ends: Iterable[date]) -> list[Paper]:
    """The papers whose day (`paper_day`, as the chart counts them) may fall in one of the
    weeks ending on `ends`: their UTC day within a day of one (a zone's local day is at
    most a day off UTC's; `WeekPapers` keeps each channel's own week exactly). Papers
    without any date are left out, as the chart leaves them out."""
    spans = sorted({(week_start(end) - timedelta(days=1), end + timedelta(days=1)) for end in ends})
    out: list[Paper] = []
    for paper in papers:
        day = paper_day(paper, UTC_ZONE)
        if day is not None and any(first <= day <= last for first, last in spans):
            out.append(paper)
    return out
