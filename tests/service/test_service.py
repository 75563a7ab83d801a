"""The scheduled service with an injected clock: time zones, DST, catch-up after a restart,
claims, fetch-before-digest, schedule changes from chat, and shutdown mid-digest."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import bot.app
import bot.digest
from bot.app import App, build_app
from bot.delivery.console import ConsoleDelivery
from bot.models import Digest, Message, Paper, Profile
from bot.pipeline.lexicon import Tally
from bot.schedule import claim_time, fire_times, latest_due, missed_today
from bot.service import Service
from bot.settings import ChannelSettings, Settings, SourceSettings
from bot.sources.retrieve import FileRetriever
from fakes.clock import Clock

SAMPLE = Path(__file__).resolve().parents[2] / "bot" / "data" / "sample-dump.txt"
TOPICS = ["mixture of experts", "speech"]


def profile(schedule: str = "0 9 * * *", timezone: str = "UTC") -> Profile:
    return Profile(
        platform="console", channel_id="c", topics=("x",), schedule=schedule, timezone=timezone
    )


# --- pure schedule rules ------------------------------------------------------------------


def test_nine_local_in_two_time_zones() -> None:
    day = datetime(2026, 11, 23, tzinfo=UTC)  # winter: Berlin UTC+1, New York UTC-5
    berlin = fire_times(profile(timezone="Europe/Berlin"), day, day + timedelta(days=1))
    new_york = fire_times(profile(timezone="America/New_York"), day, day + timedelta(days=1))
    assert berlin == [datetime(2026, 11, 23, 8, 0, tzinfo=UTC)]
    assert new_york == [datetime(2026, 11, 23, 14, 0, tzinfo=UTC)]
    summer = datetime(2026, 7, 1, tzinfo=UTC)
    assert fire_times(profile(timezone="Europe/Berlin"), summer, summer + timedelta(days=1)) == [
        datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
    ]


def test_a_time_repeated_by_dst_fires_once() -> None:
    # 2026-11-01 01:30 happens twice in New York (EDT, then EST).
    p = profile("30 1 * * *", "America/New_York")
    start = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)
    times = fire_times(p, start, start + timedelta(hours=4))
    assert times == [datetime(2026, 11, 1, 5, 30, tzinfo=UTC)]
    second = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST, the repeat
    assert claim_time(second, p) == claim_time(times[0], p)


def test_a_time_skipped_by_dst_fires_at_most_once() -> None:
    # 2026-03-08 02:30 does not exist in New York.
    p = profile("30 2 * * *", "America/New_York")
    start = datetime(2026, 3, 8, 5, 0, tzinfo=UTC)
    assert len(fire_times(p, start, start + timedelta(hours=4))) <= 1


def test_latest_due_and_missed_today() -> None:
    p = profile("0 9 * * mon-fri", "Europe/Berlin")
    at_nine = datetime(2026, 11, 23, 8, 0, 5, tzinfo=UTC)
    assert latest_due(p, at_nine) == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    assert latest_due(p, at_nine + timedelta(hours=2)) is None  # beyond the misfire grace
    assert missed_today(p, at_nine + timedelta(hours=5)) == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    assert missed_today(p, datetime(2026, 11, 23, 7, 0, tzinfo=UTC)) is None  # before 09:00
    assert missed_today(p, datetime(2026, 11, 22, 12, 0, tzinfo=UTC)) is None  # Sunday


# --- the service --------------------------------------------------------------------------


def settings(tmp_path: Path, *channels: ChannelSettings) -> Settings:
    return Settings(
        database=str(tmp_path / "p.db"),
        sources=[SourceSettings(name="sample", kind="dump", path=SAMPLE)],
        channels=list(channels),
    )


def channel(cid: str, timezone: str, schedule: str = "0 9 * * *") -> ChannelSettings:
    return ChannelSettings(
        platform="console",
        id=cid,
        topics=TOPICS,
        schedule=schedule,
        timezone=timezone,
        max_posts=0,
        lookback="2d",
    )


@pytest.fixture
def out() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def apps(tmp_path: Path) -> Iterator[list[App]]:
    opened: list[App] = []
    yield opened
    for app in opened:
        app.close()


def start_service(
    tmp_path: Path,
    apps: list[App],
    clock: Clock,
    out: io.StringIO,
    *chs: ChannelSettings,
    delivery: Any = None,
) -> Service:
    app = build_app(settings(tmp_path, *chs), clock=clock)
    apps.append(app)
    return Service(app, {"console": delivery or ConsoleDelivery(out)}, FileRetriever(), clock)


def posted(app: App, ref: str) -> set[str]:
    return set(app.ledger.posted(ref))


async def test_digests_fire_at_nine_local_in_each_time_zone(
    tmp_path: Path, apps: list[App], out: io.StringIO
) -> None:
    clock = Clock(datetime(2026, 11, 23, 8, 0, 1, tzinfo=UTC))  # 09:00 Berlin, 03:00 New York
    svc = start_service(
        tmp_path,
        apps,
        clock,
        out,
        channel("berlin", "Europe/Berlin"),
        channel("nyc", "America/New_York"),
    )
    berlin = await svc.scheduled_digest("console:berlin")
    assert berlin is not None and berlin.status == "done" and berlin.posted
    assert await svc.scheduled_digest("console:nyc") is None  # not its time
    clock.now = datetime(2026, 11, 23, 14, 0, 2, tzinfo=UTC)  # 09:00 New York
    nyc = await svc.scheduled_digest("console:nyc")
    assert nyc is not None and nyc.status == "done" and nyc.posted


async def test_a_repeated_firing_posts_once(
    tmp_path: Path, apps: list[App], out: io.StringIO
) -> None:
    clock = Clock(datetime(2026, 11, 23, 9, 0, 1, tzinfo=UTC))
    svc = start_service(tmp_path, apps, clock, out, channel("c", "UTC"))
    first = await svc.scheduled_digest("console:c")
    clock.now += timedelta(minutes=20)  # a coalesced or repeated firing within the grace
    again = await svc.scheduled_digest("console:c")
    assert first is not None and first.posted
    assert again is not None and again.status == "claimed" and not again.posted


async def test_a_dst_doubled_firing_posts_once(
    tmp_path: Path, apps: list[App], out: io.StringIO
) -> None:
    ch = channel("c", "America/New_York", schedule="30 1 * * *")
    clock = Clock(datetime(2026, 11, 1, 5, 30, 1, tzinfo=UTC))  # 01:30 EDT
    svc = start_service(tmp_path, apps, clock, out, ch)
    first = await svc.scheduled_digest("console:c")
    clock.now = datetime(2026, 11, 1, 6, 30, 1, tzinfo=UTC)  # 01:30 EST, an hour later
    second = await svc.scheduled_digest("console:c")
    assert first is not None and first.posted
    assert second is not None and second.status == "claimed"
    assert out.getvalue().count("new papers for") == 1


async def test_a_missed_digest_is_caught_up_once_after_restart(
    tmp_path: Path, apps: list[App], out: io.StringIO
) -> None:
    ch = channel("c", "Europe/Berlin")
    clock = Clock(datetime(2026, 11, 23, 11, 0, tzinfo=UTC))  # down at 09:00 Berlin
    svc = start_service(tmp_path, apps, clock, out, ch)
    outcomes = await svc.catch_up()
    assert [o.status for o in outcomes] == ["done"]
    sent = posted(svc.app, "console:c")
    assert sent
    clock.now += timedelta(minutes=30)  # restarted again the same day
    svc2 = start_service(tmp_path, apps, clock, out, ch)
    again = await svc2.catch_up()
    assert [o.status for o in again] == ["claimed"]
    assert posted(svc2.app, "console:c") == sent
    assert out.getvalue().count("new papers for") == 1


async def test_nothing_to_catch_up_before_the_scheduled_time(
    tmp_path: Path, apps: list[App], out: io.StringIO
) -> None:
    clock = Clock(datetime(2026, 11, 23, 7, 0, tzinfo=UTC))  # 08:00 Berlin
    svc = start_service(tmp_path, apps, clock, out, channel("c", "Europe/Berlin"))
    assert await svc.catch_up() == []
    assert out.getvalue() == ""


async def test_the_digest_waits_for_the_fetch_that_is_due(
    tmp_path: Path, apps: list[App], out: io.StringIO
) -> None:
    clock = Clock(datetime(2026, 11, 23, 9, 0, 1, tzinfo=UTC))
    svc = start_service(tmp_path, apps, clock, out, channel("c", "UTC"))
    assert svc.app.archive.count() == 0
    outcome = await svc.scheduled_digest("console:c")
    assert svc.app.archive.count() > 0  # fetched first
    assert outcome is not None and outcome.posted


async def test_a_schedule_changed_from_chat_reschedules_without_restart(
    tmp_path: Path, apps: list[App], out: io.StringIO
) -> None:
    clock = Clock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    svc = start_service(tmp_path, apps, clock, out, channel("c", "UTC"))
    svc.scheduler.start(paused=True)
    await svc.sync_jobs()
    job = svc.scheduler.get_job("digest:console:c")
    assert job is not None and "hour='9'" in str(job.trigger)
    svc.app.profiles.set_schedule("console", "c", "30 7 * * *", "Asia/Tokyo", now=clock.now)
    await svc.sync_jobs()
    job = svc.scheduler.get_job("digest:console:c")
    assert job is not None and "hour='7'" in str(job.trigger)
    assert str(job.trigger.timezone) == "Asia/Tokyo"
    svc.app.profiles.remove_topic("console", "c", "speech", now=clock.now)
    svc.app.profiles.remove_topic("console", "c", "mixture of experts", now=clock.now)
    await svc.sync_jobs()
    assert svc.scheduler.get_job("digest:console:c") is None


class StallingDelivery(ConsoleDelivery):
    """Posts the first message, then hangs on the second (a send in flight at SIGTERM)."""

    def __init__(self, stream: io.StringIO) -> None:
        super().__init__(stream)
        self.sent = 0
        self.stalled = asyncio.Event()

    def render(self, digest: Digest) -> list[Message]:
        # One paper per message, so a digest is several sends.
        base = super().render
        return [m for item in digest.items for m in base(replace(digest, items=(item,)))]

    async def send(
        self, channel: Profile, message: Message, *, idempotency_key: str, maybe_sent: bool = False
    ) -> str:
        if self.sent >= 1:
            self.stalled.set()
            await asyncio.sleep(3600)
        self.sent += 1
        return await super().send(channel, message, idempotency_key=idempotency_key)


async def test_shutdown_during_a_digest_loses_nothing_and_posts_nothing_twice(
    tmp_path: Path, apps: list[App], out: io.StringIO
) -> None:
    ch = channel("c", "UTC")
    clock = Clock(datetime(2026, 11, 23, 9, 0, 1, tzinfo=UTC))
    stalling = StallingDelivery(out)
    svc = start_service(tmp_path, apps, clock, out, ch, delivery=stalling)
    svc.shutdown_timeout = 0.2
    await svc.start(catch_up=False)
    task = svc._spawn(svc.scheduled_digest("console:c"))
    await asyncio.wait_for(stalling.stalled.wait(), 10)
    await svc.stop()  # SIGTERM: the hanging send is abandoned
    assert task.cancelled()
    first = posted(svc.app, "console:c")
    assert len(first) == 1  # only the confirmed message is recorded
    run = svc.app.runs.last("console:c")
    assert run is not None and run.status == "failed" and run.error == "interrupted"

    clock.now += timedelta(minutes=5)  # the next start catches up the rest, once
    out2 = io.StringIO()
    svc2 = start_service(tmp_path, apps, clock, out2, ch)
    outcomes = await svc2.catch_up()
    assert [o.status for o in outcomes] == ["done"]
    second = set(outcomes[0].posted)
    assert second and not (second & first)
    matched = {
        m.paper.key
        for m in svc2.app.matcher(svc2.app.archive.all()).match(
            svc2.app.profiles.get("console", "c") or profile()
        )
    }
    assert first | second == matched  # every matching paper, each once


async def test_digest_jobs_firing_together_learn_the_lexicon_and_evaluate_topics_once(
    tmp_path: Path, apps: list[App], out: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(datetime(2026, 11, 23, 9, 0, 1, tzinfo=UTC))
    refs = [f"console:c{i}" for i in range(6)]
    svc = start_service(tmp_path, apps, clock, out, *(channel(r[8:], "UTC") for r in refs))
    await svc.fresh_archive()  # the fetch due at start
    built: list[str] = []

    def counting(real: Any, name: str) -> Any:
        def build(*args: Any, **kwargs: Any) -> Any:
            built.append(name)
            return real(*args, **kwargs)

        return build

    # the lexicon is learned (from its kept counts) where a Tally hands one out
    monkeypatch.setattr(Tally, "lexicon", counting(Tally.lexicon, "lexicon"))
    monkeypatch.setattr(bot.digest, "Matcher", counting(bot.digest.Matcher, "matcher"))
    outcomes = []
    for ref in refs:  # one job per channel, as the scheduler fires them, a moment apart
        outcomes.append(await svc.scheduled_digest(ref))
        clock.now += timedelta(seconds=1)
    assert built == ["lexicon", "matcher"]  # not one of each per job
    sets = [set(o.posted) for o in outcomes if o is not None]
    assert len(sets) == len(refs) and sets[0] and all(s == sets[0] for s in sets)
    # New papers: the next job learns them (a new lexicon, a new matcher).
    apps[0].archive.upsert(
        [Paper(title="Mixture of Experts for Speech", abstract="MoE.")], now=clock.now
    )
    clock.now += timedelta(days=1)
    again = await svc.scheduled_digest(refs[0])
    assert again is not None and "lexicon" in built[2:] and "matcher" in built[2:]
