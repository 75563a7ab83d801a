"""`paperboy run`: scheduled fetching and digests, and the chat front-ends, in one event loop.

Jobs (APScheduler 3 `AsyncIOScheduler`, explicit ids, `replace_existing=True`):

- `fetch:<source>` every source's `interval` (HF Daily Papers only on weekdays);
- `digest:<platform:channel>` on each channel's cron schedule in its time zone;
- `sync-jobs` every minute: digest jobs follow schedules changed from chat, new channels
  and removed ones, without a restart;
- `weekly:<platform:channel>` on each channel's `weekly` cron in its time zone (issue 19:
  the weekly digest with its trend chart, bot.weekly), claimed in `digest_runs` under
  `<ref>#weekly` and posted once per week through the ledger; a weekly run missed while
  the service was down is caught up at start within WEEKLY_GRACE;
- `weekly-recovery` every WEEKLY_RECOVERY: a weekly run whose claim is held by a run that
  died (killed mid-send; still "running" in `digest_runs` once STALE_RUN has passed) is
  run again within WEEKLY_GRACE, its week posted once through the ledger (a restart
  within STALE_RUN of the kill finds the claim live at start: a weekly has no next day
  to recover on, as a daily digest does).

Only what the configuration and the channels' states say runs: a source no longer in the
configuration (or disabled) is never fetched, and a channel gets digests only while active
(bot.store.seeding: not paused, not removed from the configuration, chat or the shell). A
job of a channel paused or removed since the last sync fires into nothing.

A digest first waits for any fetch in flight and runs the fetch itself when one is due, so it
never posts from a stale archive.

Replicas (several `paperboy run` on one PostgreSQL database) share the work through the
database: a fetch is claimed per source and interval (a lease in `source_state`), a
scheduled digest per (channel, scheduled time) in `digest_runs`, and each paper per channel
in the posted ledger, so every source is fetched once per interval, every digest runs once
and no paper is posted twice, whichever replica's timer fires first.

Each scheduled run is claimed in the database under its scheduled time
(bot.schedule.claim_time), so a repeated, coalesced, caught-up or DST-doubled firing posts
once. Shutdown stops the scheduler, tells running digests to send no further message,
gives in-flight work a bounded time to finish (a paper is recorded only when its message
was confirmed), then closes everything: within `SHUTDOWN_TIMEOUT` plus the store call or
matching step under way, inside the 10 s a container gets between SIGTERM and SIGKILL.

Everything here runs on one event loop with the chat front-ends and /healthz: every store
call goes through the stores' async facade (bot.store.aio: a worker thread), as in the
digest, so a database lock held for up to the busy timeout never stalls Slack, Discord or
the health check.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.delivery.base import Delivery
from bot.digest import ChannelOutcome, DigestCycle
from bot.errors import StoreError
from bot.ingest import Ingestor, SourceReport, SourceSpec
from bot.models import Profile
from bot.schedule import (
    MISFIRE_GRACE,
    latest_due,
    missed_today,
    trigger_for,
    weekly_missed,
    weekly_profile,
    weekly_trigger,
)
from bot.sources.base import Retriever
from bot.sources.guard import unexpected_error
from bot.sources.retrieve import redact_url
from bot.store import aio
from bot.store.profile_rules import split_ref
from bot.store.profiles import ProfileStore
from bot.store.runs import DigestRuns
from bot.store.source_state import Claim, SourceStateStore
from bot.weekly import ALREADY, WeeklyCycle, WeeklyOutcome, wants_weekly

log = logging.getLogger(__name__)

SYNC_INTERVAL = timedelta(minutes=1)
# In-flight work gets this long after SIGTERM (a digest stops after its message in flight;
# a fetch after its chunk in flight), under Docker's 10 s grace before SIGKILL.
SHUTDOWN_TIMEOUT = 8.0
FETCH_LEASE = timedelta(minutes=15)  # outlasts a fetch with all its retries
FETCH_WAIT = 120.0  # seconds a digest waits for another replica's fetch in flight
FETCH_POLL = 1.0
WEEKEND = (5, 6)
# A weekly digest missed while the service was down is still posted at start this long
# after its time (the week it shows is the one ending on its scheduled day).
WEEKLY_GRACE = timedelta(days=1)
# How often the service looks for weekly runs whose claim a dead run holds (bot.store.runs
# STALE_RUN after it started): cheap when none is (a schedule computation per channel,
# a read per channel only within WEEKLY_GRACE of its weekly time and not known over).
WEEKLY_RECOVERY = timedelta(minutes=10)


class Frontend(Protocol):
    """A running chat front-end (Slack, Discord): closed at shutdown."""

    async def close(self) -> None: ...


class ScheduledSource(SourceSpec, Protocol):
    """A configured source as the service schedules it (bot.settings.SourceSettings is one)."""

    @property
    def enabled(self) -> bool: ...
    @property
    def interval(self) -> timedelta: ...


class Configured(Protocol):
    """The configuration the service reads (bot.settings.Settings is one)."""

    @property
    def sources(self) -> Sequence[ScheduledSource]: ...


class Parts(Protocol):
    """What the service uses of the composition root (bot.app.App is one; not imported)."""

    @property
    def settings(self) -> Configured: ...
    @property
    def source_state(self) -> SourceStateStore: ...
    @property
    def profiles(self) -> ProfileStore: ...
    def digest_cycle(self, deliveries: Mapping[str, Delivery]) -> DigestCycle: ...
    def weekly_cycle(self, deliveries: Mapping[str, Delivery]) -> WeeklyCycle: ...
    def ingestor(self, retriever: Retriever) -> Ingestor: ...


def wants_digest(profile: Profile) -> bool:
    """A channel gets scheduled digests when it follows something."""
    return bool(profile.topics or profile.authors)


@dataclass
class Service:
    """The long-running process. Build with the app, its deliveries and a retriever; the
    clock is injectable (tests drive catch-up and claims with their own time)."""

    app: Parts
    deliveries: Mapping[str, Delivery]
    retriever: Retriever
    clock: Callable[[], datetime]
    frontends: list[Frontend] = field(default_factory=list)
    shutdown_timeout: float = SHUTDOWN_TIMEOUT
    scheduler: AsyncIOScheduler = field(init=False)
    fetch_wait: float = FETCH_WAIT
    fetch_poll: float = FETCH_POLL
    _fetch_lock: asyncio.Lock = field(init=False, default_factory=asyncio.Lock)
    _inflight: set[asyncio.Task[Any]] = field(init=False, default_factory=set)
    _schedules: dict[str, tuple[str, str]] = field(init=False, default_factory=dict)
    _weekly: dict[str, tuple[str, str]] = field(init=False, default_factory=dict)
    _weekly_runs: dict[datetime, asyncio.Task[list[WeeklyOutcome]]] = field(
        init=False, default_factory=dict
    )
    _stop: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    # (ref, scheduled time) of weekly runs known over (done, already, empty): not looked
    # at again by `recover_weekly`; and those in flight in this process.
    _weekly_over: set[tuple[str, datetime]] = field(init=False, default_factory=set)
    _weekly_active: set[tuple[str, datetime]] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        self.scheduler = AsyncIOScheduler(
            timezone="UTC",
            job_defaults={
                "misfire_grace_time": int(MISFIRE_GRACE.total_seconds()),
                "coalesce": True,
                "max_instances": 1,
            },
        )

    @property
    def cycle(self) -> DigestCycle:
        return self.app.digest_cycle(self.deliveries)

    @property
    def sources(self) -> list[ScheduledSource]:
        return [s for s in self.app.settings.sources if s.enabled]

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self, *, catch_up: bool = True) -> None:
        """Schedule every job and start the scheduler; then fetch once and catch up on
        digests missed today while the service was down (in the background)."""
        now = self.clock()
        for src in self.sources:
            self.scheduler.add_job(
                self._tracked(self.fetch, src.name),
                IntervalTrigger(seconds=int(src.interval.total_seconds()), timezone="UTC"),
                id=f"fetch:{src.name}",
                name=f"fetch {src.name}",
                replace_existing=True,
                next_run_time=now,
            )
        self.scheduler.add_job(
            self._tracked(self.sync_jobs),
            IntervalTrigger(seconds=int(SYNC_INTERVAL.total_seconds()), timezone="UTC"),
            id="sync-jobs",
            replace_existing=True,
        )
        self.scheduler.add_job(
            self._tracked(self.recover_weekly),
            IntervalTrigger(seconds=int(WEEKLY_RECOVERY.total_seconds()), timezone="UTC"),
            id="weekly-recovery",
            replace_existing=True,
        )
        await self.sync_jobs()
        self.scheduler.start()
        log.info(
            "service started",
            extra={
                "event": "start",
                "sources": len(self.sources),
                "channels": len(self._schedules),
            },
        )
        if catch_up:
            self._spawn(self.catch_up())
            self._spawn(self.catch_up_weekly())

    async def stop(self) -> None:
        """Stop taking work, let in-flight jobs finish within `shutdown_timeout` (then cancel
        them: an unconfirmed post stays unrecorded), close the front-ends."""
        if self._stop.is_set():
            return
        self._stop.set()  # running digests send no further message
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        pending = {t for t in self._inflight if not t.done()}
        if pending:
            log.info("waiting for in-flight work", extra={"event": "stop", "jobs": len(pending)})
            _, late = await asyncio.wait(pending, timeout=self.shutdown_timeout)
            for task in late:
                task.cancel()
            if late:
                await asyncio.gather(*late, return_exceptions=True)
                log.warning("abandoned in-flight work", extra={"event": "stop", "jobs": len(late)})
        for frontend in self.frontends:
            try:
                await frontend.close()
            except Exception:
                log.exception("closing a front-end failed")
        log.info("service stopped", extra={"event": "stop"})

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        return task

    def _tracked(
        self, fn: Callable[..., Awaitable[Any]], *args: Any
    ) -> Callable[[], Awaitable[Any]]:
        """A job function whose runs are tracked as in-flight work (for shutdown)."""

        async def job() -> Any:
            if self._stop.is_set():
                return None
            return await self._spawn(fn(*args))

        return job

    # --- fetching -----------------------------------------------------------------------

    async def fetch(self, name: str, *, wait: bool = False) -> SourceReport | None:
        """Fetch one source if it is due (conditional GET through the retriever's
        validators); None when it was not fetched here.

        Replicas sharing the database claim each fetch (SourceStateStore.claim_fetch): a
        source is fetched once per `interval`, by whichever replica claims it first. With
        `wait`, a fetch in flight in another replica is waited for (up to `fetch_wait`
        seconds). HF Daily Papers publishes on weekdays: its weekend runs are skipped."""
        src = next((s for s in self.sources if s.name == name), None)
        if src is None:
            return None
        if src.kind == "hf-daily" and self.clock().weekday() in WEEKEND:
            log.info("skipped on the weekend", extra={"event": "fetch", "source": name})
            return None
        async with self._fetch_lock:
            claim = await self._claim(src)
            deadline = asyncio.get_running_loop().time() + self.fetch_wait
            while wait and claim is Claim.BUSY:
                if asyncio.get_running_loop().time() >= deadline:
                    log.warning(
                        "another replica's fetch is still running; going on without it",
                        extra={"event": "fetch", "source": name},
                    )
                    break
                await asyncio.sleep(self.fetch_poll)
                claim = await self._claim(src)
            if claim is not Claim.CLAIMED:
                log.debug(
                    "not due here (%s)", claim.value, extra={"event": "fetch", "source": name}
                )
                return None
            try:
                report = await self.app.ingestor(self.retriever).ingest_source(src)
            except Exception as e:  # a bug: this source's failed fetch, never a stopped digest
                log.exception("unexpected error fetching %s", src.name)
                report = await self._record_unexpected(src, e)
            except BaseException:  # interrupted (shutdown): the source is due again at once
                try:
                    await aio.run(self.app.source_state.release_fetch, src.name)
                except StoreError:
                    log.exception("could not release the fetch claim of %s", src.name)
                raise
        level = logging.WARNING if report.failed else logging.INFO
        log.log(level, report.summary(), extra={"event": "fetch", "source": name})
        return report

    async def _record_unexpected(self, src: ScheduledSource, error: Exception) -> SourceReport:
        """The failed report of a fetch that raised what no contract allows, recorded in
        the source state (so `status` and /healthz name it) when the database lets us."""
        report = SourceReport(src.name, redact_url(src.location), error=unexpected_error(error))
        try:
            await aio.run(
                self.app.source_state.record_failure,
                src.name,
                error=report.error or "",
                now=self.clock(),
            )
        except Exception:
            log.exception("could not record the failure of %s", src.name)
            try:
                await aio.run(self.app.source_state.release_fetch, src.name)
            except StoreError:
                log.exception("could not release the fetch claim of %s", src.name)
        return report

    async def _claim(self, src: ScheduledSource) -> Claim:
        return await aio.run(
            self.app.source_state.claim_fetch,
            src.name,
            now=self.clock(),
            interval=src.interval,
            lease=FETCH_LEASE,
        )

    async def fresh_archive(self) -> None:
        """Before a digest: wait for a fetch in flight (here or in another replica), and
        run the fetches that are due."""
        for src in self.sources:
            await self.fetch(src.name, wait=True)

    # --- digests ------------------------------------------------------------------------

    async def sync_jobs(self) -> None:
        """Make the digest jobs match the stored profiles of the active channels (a schedule
        changed from chat, a channel paused, resumed or removed takes effect here, without a
        restart)."""
        profiles = await aio.run(self.app.profiles.all)
        self._sync_weekly(profiles)
        wanted = {p.ref: p for p in profiles if wants_digest(p)}
        for ref in set(self._schedules) - set(wanted):
            self.scheduler.remove_job(f"digest:{ref}")
            del self._schedules[ref]
        for ref, profile in wanted.items():
            schedule = (profile.schedule, profile.timezone)
            if self._schedules.get(ref) == schedule:
                continue
            self.scheduler.add_job(
                self._tracked(self.scheduled_digest, ref),
                trigger_for(profile),
                id=f"digest:{ref}",
                name=f"digest {ref}",
                replace_existing=True,
            )
            self._schedules[ref] = schedule
            log.info(
                "digest scheduled",
                extra={
                    "event": "schedule",
                    "channel": ref,
                    "cron": profile.schedule,
                    "timezone": profile.timezone,
                },
            )

    async def scheduled_digest(self, ref: str) -> ChannelOutcome | None:
        """A digest job fired: post the channel's digest for the run it stands for."""
        profile = await self._profile(ref)
        if profile is None:
            return None
        due = latest_due(profile, self.clock())
        if due is None:
            log.info(
                "fired outside its schedule; skipped", extra={"event": "digest", "channel": ref}
            )
            return None
        return await self.digest(profile, due)

    async def catch_up(self) -> list[ChannelOutcome]:
        """Post today's digest of every channel whose digest time passed while the service
        was down; a run that already happened is refused by its claim."""
        await self.fresh_archive()
        outcomes = []
        for profile in await aio.run(self.app.profiles.all):
            if self._stop.is_set():
                break
            if not wants_digest(profile):
                continue
            missed = missed_today(profile, self.clock())
            if missed is not None:
                outcome = await self.digest(profile, missed)
                if outcome is not None:
                    outcomes.append(outcome)
        return outcomes

    async def digest(self, profile: Profile, scheduled_for: datetime) -> ChannelOutcome | None:
        """The digest of one channel for one scheduled run (claimed under `scheduled_for`)."""
        await self.fresh_archive()
        outcomes = await self.cycle.run([profile], scheduled_for=scheduled_for, stop=self._stop)
        if not outcomes:
            return None
        outcome = outcomes[0]
        extra = {
            "event": "digest",
            "channel": profile.ref,
            "scheduled_for": scheduled_for.isoformat(),
            "status": outcome.status,
            "posted": len(outcome.posted),
        }
        if outcome.failed:
            log.warning("digest failed: %s", outcome.error, extra=extra)
        elif outcome.status == "claimed":
            log.info("digest already claimed; nothing posted", extra=extra)
        else:
            log.info("digest %s", outcome.status, extra=extra)
        return outcome

    # --- weekly digests (issue 19) ------------------------------------------------------

    def _sync_weekly(self, profiles: Sequence[Profile]) -> None:
        """Make the weekly jobs match the active channels' `weekly` schedules."""
        wanted = {p.ref: p for p in profiles if wants_weekly(p)}
        for ref in set(self._weekly) - set(wanted):
            self.scheduler.remove_job(f"weekly:{ref}")
            del self._weekly[ref]
        for ref, profile in wanted.items():
            schedule = (profile.weekly or "", profile.timezone)
            if self._weekly.get(ref) == schedule:
                continue
            self.scheduler.add_job(
                self._tracked(self.scheduled_weekly, ref),
                weekly_trigger(profile),
                id=f"weekly:{ref}",
                name=f"weekly {ref}",
                replace_existing=True,
            )
            self._weekly[ref] = schedule
            log.info(
                "weekly digest scheduled",
                extra={
                    "event": "schedule",
                    "channel": ref,
                    "cron": profile.weekly,
                    "timezone": profile.timezone,
                },
            )

    async def scheduled_weekly(self, ref: str) -> WeeklyOutcome | None:
        """A weekly job fired: post the channel's weekly digest for the run it stands for."""
        profile = await self._profile(ref)
        if profile is None or not wants_weekly(profile):
            return None
        due = latest_due(weekly_profile(profile), self.clock())
        if due is None:
            log.info(
                "weekly fired outside its schedule; skipped",
                extra={"event": "weekly", "channel": ref},
            )
            return None
        run = self._weekly_runs.get(due)
        if run is None:  # the first job of this instant runs every channel due at it
            run = self._spawn(self._weekly_due(due))
            self._weekly_runs[due] = run
            run.add_done_callback(lambda _: self._weekly_runs.pop(due, None))
        outcomes = await asyncio.shield(run)
        return next((o for o in outcomes if o.profile.ref == ref), None)

    async def _weekly_due(self, due: datetime) -> list[WeeklyOutcome]:
        """The weekly digests of every active channel whose weekly run `due` is (their jobs
        fire together: one cycle counts and draws for all of them, and their own jobs find
        their runs claimed)."""
        now = self.clock()
        profiles = [
            p
            for p in await aio.run(self.app.profiles.all)
            if wants_weekly(p) and latest_due(weekly_profile(p), now) == due
        ]
        return await self.weekly_many(profiles, due)

    async def catch_up_weekly(self) -> list[WeeklyOutcome]:
        """Post the weekly digest of every channel whose weekly time passed within
        WEEKLY_GRACE while the service was down; a run that already happened is refused by
        its claim (and the week's post by the ledger)."""
        now = self.clock()
        missed: dict[datetime, list[Profile]] = {}
        for profile in await aio.run(self.app.profiles.all):
            if wants_weekly(profile):
                due = weekly_missed(profile, now, WEEKLY_GRACE)
                if due is not None:  # channels that missed the same run: one cycle
                    missed.setdefault(due, []).append(profile)
        outcomes: list[WeeklyOutcome] = []
        for due in sorted(missed):
            if self._stop.is_set():
                break
            outcomes += await self.weekly_many(missed[due], due)
        return outcomes

    async def recover_weekly(self) -> list[WeeklyOutcome]:
        """Run again the weekly runs within WEEKLY_GRACE whose claim a dead run holds
        (killed mid-send: still RUNNING after STALE_RUN), taking their claims over; the
        ledger keeps each week to one post (the dead run's message, if it was being sent,
        is sent again as that very message: bot.weekly). Every WEEKLY_RECOVERY; runs
        known over, and those in flight here, are not read again."""
        if self._stop.is_set():
            return []
        now = self.clock()
        try:
            profiles = await aio.run(self.app.profiles.all)
        except StoreError as e:
            log.warning("weekly recovery: %s", e, extra={"event": "weekly"})
            return []

        def due_now() -> dict[str, tuple[Profile, datetime]]:
            out: dict[str, tuple[Profile, datetime]] = {}
            for p in profiles:
                if not wants_weekly(p):
                    continue
                due = weekly_missed(p, now, WEEKLY_GRACE)
                if due is None or (p.ref, due) in known:
                    continue
                out[p.ref] = (p, due)
            return out

        self._weekly_over = {k for k in self._weekly_over if k[1] >= now - WEEKLY_GRACE}
        known = frozenset(self._weekly_over | self._weekly_active)  # read in the thread
        wanted = await aio.run(due_now)
        if not wanted:
            return []
        cycle = self.app.weekly_cycle(self.deliveries)
        try:
            dead, over = await cycle.dead_claims({ref: due for ref, (_, due) in wanted.items()})
        except StoreError as e:
            log.warning("weekly recovery: %s", e, extra={"event": "weekly"})
            return []
        self._weekly_over.update((ref, wanted[ref][1]) for ref in over)
        by_due: dict[datetime, list[Profile]] = {}
        for ref in sorted(dead):
            profile, due = wanted[ref]
            by_due.setdefault(due, []).append(profile)
        outcomes: list[WeeklyOutcome] = []
        for due in sorted(by_due):
            if self._stop.is_set():
                break
            log.info(
                "weekly run held by a dead run; taking it over",
                extra={
                    "event": "weekly",
                    "scheduled_for": due.isoformat(),
                    "channels": len(by_due[due]),
                },
            )
            outcomes += await self.weekly_many(by_due[due], due)
        return outcomes

    async def weekly(self, profile: Profile, scheduled_for: datetime) -> WeeklyOutcome | None:
        """The weekly digest of one channel for one scheduled run (claimed under
        `scheduled_for`; the week is the one ending on its local day)."""
        outcomes = await self.weekly_many([profile], scheduled_for)
        return outcomes[0] if outcomes else None

    async def weekly_many(
        self, profiles: Sequence[Profile], scheduled_for: datetime
    ) -> list[WeeklyOutcome]:
        """The weekly digests of `profiles` for the scheduled run `scheduled_for` (each
        claimed under it), in one cycle."""
        if not profiles:
            return []
        keys = {(p.ref, scheduled_for) for p in profiles}
        self._weekly_active |= keys
        try:
            await self.fresh_archive()
            cycle = self.app.weekly_cycle(self.deliveries)
            outcomes = await cycle.run(profiles, scheduled_for=scheduled_for, stop=self._stop)
        finally:
            self._weekly_active -= keys
        for outcome in outcomes:
            if outcome.status in (DigestRuns.DONE, DigestRuns.EMPTY, ALREADY):
                self._weekly_over.add((outcome.profile.ref, scheduled_for))
            extra = {
                "event": "weekly",
                "channel": outcome.profile.ref,
                "scheduled_for": scheduled_for.isoformat(),
                "status": outcome.status,
            }
            if outcome.failed:
                log.warning("weekly digest failed: %s", outcome.error, extra=extra)
            else:
                log.info("weekly digest %s", outcome.status, extra=extra)
        return outcomes

    async def _profile(self, ref: str) -> Profile | None:
        """The channel's profile while it gets digests (active); None otherwise."""
        platform, channel_id = split_ref(ref)  # a person's too: user:slack:U1
        entry = await aio.run(self.app.profiles.entry, platform, channel_id)
        if entry is None or not entry.active:
            state = entry.state if entry is not None else "gone"
            log.info("channel %s; digest skipped", state, extra={"event": "digest", "channel": ref})
            return None
        return entry.profile


def next_runs(service: Service) -> Sequence[tuple[str, datetime | None]]:
    """(job id, next run time) of every scheduled job, for `status` and tests."""
    return [(job.id, job.next_run_time) for job in service.scheduler.get_jobs()]


__all__ = ["Frontend", "Service", "next_runs", "wants_digest"]
