"""Replicas: several services (each with its own engine, as separate processes have) on one
database share the work — each source fetched once per interval, each scheduled digest run
once, each paper posted once — on SQLite and on PostgreSQL. Clocks are injected."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import App, build_app
from bot.delivery.console import ConsoleDelivery
from bot.ingest import SourceReport
from bot.service import FETCH_LEASE, Service
from bot.settings import ChannelSettings, Settings, SourceSettings
from bot.sources.base import Fetched, Retriever, Validators
from bot.sources.retrieve import FileRetriever
from bot.store.source_state import Claim
from fakes.clock import Clock
from helpers import wait_until

SAMPLE = Path(__file__).resolve().parents[2] / "bot" / "data" / "sample-dump.txt"
T0 = datetime(2026, 11, 23, 9, 0, 1, tzinfo=UTC)  # a Monday, 09:00:01 UTC


class CountingRetriever:
    """FileRetriever that counts its fetches (shared by the replicas of a test)."""

    def __init__(self) -> None:
        self.inner: Retriever = FileRetriever()
        self.fetches = 0

    async def fetch(self, location: str, validators: Validators | None = None) -> Fetched:
        self.fetches += 1
        return await self.inner.fetch(location, validators)


def _settings(database: str) -> Settings:
    channels = [
        ChannelSettings(
            platform="console",
            id=f"c{i}",
            topics=["mixture of experts", "speech"],
            schedule="0 9 * * *",
            timezone="UTC",
            max_posts=0,
            lookback="2d",
        )
        for i in range(3)
    ]
    source = SourceSettings(name="sample", kind="dump", path=SAMPLE, interval="1h")
    return Settings(database=database, sources=[source], channels=channels)


@pytest.fixture
def apps() -> Iterator[list[App]]:
    opened: list[App] = []
    yield opened
    for app in opened:
        app.close()


def replicas(
    database: str, apps: list[App], clock: Clock, retriever: CountingRetriever, n: int = 3
) -> tuple[list[Service], io.StringIO]:
    out = io.StringIO()
    services = []
    for _ in range(n):
        app = build_app(_settings(database), clock=clock)
        apps.append(app)
        services.append(Service(app, {"console": ConsoleDelivery(out)}, retriever, clock))
    return services, out


async def test_a_source_is_fetched_once_per_interval_across_replicas(
    database: str, apps: list[App]
) -> None:
    clock, retriever = Clock(T0), CountingRetriever()
    services, _ = replicas(database, apps, clock, retriever)
    reports = await asyncio.gather(*(s.fetch("sample") for s in services))
    assert sum(isinstance(r, SourceReport) for r in reports) == 1
    assert retriever.fetches == 1
    clock.now += timedelta(minutes=50)  # timers of replicas started later
    assert await asyncio.gather(*(s.fetch("sample") for s in services)) == [None] * 3
    clock.now += timedelta(minutes=10)  # the next interval: again exactly one fetch
    reports = await asyncio.gather(*(s.fetch("sample") for s in services))
    assert sum(r is not None for r in reports) == 1 and retriever.fetches == 2


async def test_each_scheduled_digest_runs_once_and_each_paper_is_posted_once(
    database: str, apps: list[App]
) -> None:
    clock, retriever = Clock(T0), CountingRetriever()
    services, out = replicas(database, apps, clock, retriever)
    refs = [f"console:c{i}" for i in range(3)]
    # snowballstemmer's stemmer is not thread-safe, and replicas in one process build their
    # lexicons in threads at once: warm the stem cache first (separate processes need not).
    await services[0].fetch("sample")
    services[0].app.lexicon()
    # Every replica's timer fires for every channel at 09:00, all at once.
    outcomes = await asyncio.gather(*(s.scheduled_digest(ref) for s in services for ref in refs))
    by_channel: dict[str, list[str]] = {}
    for outcome in outcomes:
        assert outcome is not None
        by_channel.setdefault(outcome.profile.ref, []).append(outcome.status)
    for ref in refs:
        assert sorted(by_channel[ref]) == ["claimed", "claimed", "done"], ref
    assert retriever.fetches == 1  # fetched before the digests, by one replica
    app = services[0].app
    for ref in refs:
        posted = app.ledger.posted(ref)
        assert posted, ref
    assert out.getvalue().count("new papers for") == 3  # one digest per channel


async def test_a_digest_waits_for_another_replicas_fetch_in_flight(
    database: str, apps: list[App]
) -> None:
    clock, retriever = Clock(T0), CountingRetriever()
    (svc,), _ = replicas(database, apps, clock, retriever, n=1)
    svc.fetch_poll = 0.01
    other = svc.app.source_state  # stands for another replica's view of the same table
    assert other.claim_fetch("sample", now=T0, interval=timedelta(hours=1), lease=FETCH_LEASE) is (
        Claim.CLAIMED
    )
    state = svc.app.source_state
    claims: list[Claim] = []

    def claim_fetch(*args: Any, **kwargs: Any) -> Claim:
        claims.append(claim := type(state).claim_fetch(state, *args, **kwargs))
        return claim

    state.claim_fetch = claim_fetch  # type: ignore[method-assign]
    waiting = asyncio.ensure_future(svc.fresh_archive())
    await wait_until(lambda: len(claims) >= 3, 10, "the digest to look at the claim again")
    assert claims == [Claim.BUSY] * len(claims)
    assert not waiting.done()  # the other replica is still fetching
    other.record_success("sample", location=str(SAMPLE), validators=None, result="ok", now=T0)
    await asyncio.wait_for(waiting, 5)
    assert retriever.fetches == 0  # the other replica fetched: not fetched again here


async def test_a_digest_does_not_wait_forever_for_a_dead_replicas_fetch(
    database: str, apps: list[App]
) -> None:
    clock, retriever = Clock(T0), CountingRetriever()
    (svc,), _ = replicas(database, apps, clock, retriever, n=1)
    svc.fetch_poll, svc.fetch_wait = 0.01, 0.1
    lease = svc.app.source_state.claim_fetch(
        "sample", now=T0, interval=timedelta(hours=1), lease=FETCH_LEASE
    )
    assert lease is Claim.CLAIMED  # and that replica is never heard of again
    await asyncio.wait_for(svc.fresh_archive(), 5)  # goes on without the fetch
    assert retriever.fetches == 0
    clock.now += FETCH_LEASE + timedelta(seconds=1)  # its lease ran out: fetched here
    assert await svc.fetch("sample") is not None and retriever.fetches == 1
