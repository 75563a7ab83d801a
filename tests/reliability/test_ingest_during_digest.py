"""Papers ingested while a digest runs: windows never depend on a wall-clock stamp racing its
commit (issue 14, item 1). On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.app import App, build_app, build_deliveries
from bot.digest import ChannelOutcome
from bot.models import Paper
from bot.settings import ChannelSettings, Settings
from bot.sources.retrieve import AnyRetriever

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
HOLD = 30.0  # seconds any wait below may take before the test fails


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def moe_dump(path: Path, first: int, n: int) -> Path:
    """A layout-b dump of `n` distinct Mixture-of-Experts papers numbered from `first`."""
    records = [
        f"Routing Study {i}: Sparse Mixture-of-Experts Layers at Scale {i}\n\n"
        f"We propose routing variant {i} for Mixture-of-Experts (MoE) models. Experts are "
        f"selected per token by a learned gate, and variant {i} balances expert load."
        for i in range(first, first + n)
    ]
    path.write_text("new\n\nMar 12\n\n" + "\n\n".join(records) + "\n")
    return path


def app_for(database: str, clock: Clock) -> App:
    channel = ChannelSettings(
        platform="console", id="demo", topics=["mixture of experts"], max_posts=0, lookback="2d"
    )
    return build_app(Settings(database=database, channels=[channel]), clock=clock)


async def digest(app: App) -> list[ChannelOutcome]:
    deliveries = build_deliveries(app.settings, stream=io.StringIO())
    return await app.digest_cycle(deliveries).run(app.profiles.all())


class HeldUpsert:
    """Wraps `Archive.upsert`: the call whose papers carry `stamp`... is held after its
    stamp was taken and before anything is written, until `release` is set."""

    def __init__(self, upsert: Callable[..., Any]) -> None:
        self._upsert = upsert
        self.stamped = threading.Event()
        self.release = threading.Event()
        self.stamps: list[datetime] = []

    def __call__(self, incoming: Iterable[Paper], *, now: datetime) -> Any:
        self.stamps.append(now)
        self.stamped.set()
        assert self.release.wait(HOLD), "the test never released the held ingest"
        return self._upsert(incoming, now=now)


async def test_papers_ingested_while_a_digest_runs_are_posted_once(
    database: str, tmp_path: Path
) -> None:
    clock = Clock(T0)
    app = app_for(database, clock)
    try:
        async with AnyRetriever() as retriever:
            before = moe_dump(tmp_path / "before.txt", 0, 20)
            assert (await app.ingestor(retriever).ingest_location(str(before))).new == 20
            first = await digest(app)

            # An ingest stamps its papers, then waits (for the write lock, in production)
            held = HeldUpsert(app.archive.upsert)
            app.archive.upsert = held  # type: ignore[method-assign]
            clock.now = T0 + timedelta(minutes=1)
            during = moe_dump(tmp_path / "during.txt", 100, 30)
            ingest = asyncio.create_task(app.ingestor(retriever).ingest_location(str(during)))
            assert await asyncio.to_thread(held.stamped.wait, HOLD)
            # ... while a digest runs after the stamp and before the commit
            clock.now = T0 + timedelta(minutes=2)
            second = await digest(app)
            held.release.set()
            report = await asyncio.wait_for(ingest, HOLD)
            assert report.error is None and report.new == 30
            clock.now = T0 + timedelta(minutes=3)
            third = await digest(app)
            clock.now = T0 + timedelta(minutes=4)
            fourth = await digest(app)
        archived = {p.key for p in app.archive.all()}
    finally:
        app.close()

    assert held.stamps and all(s <= T0 + timedelta(minutes=2) for s in held.stamps)
    runs = [first, second, third, fourth]
    assert all(o.status in ("done", "empty") for run in runs for o in run), [
        (o.status, o.error) for run in runs for o in run
    ]
    posted = Counter(k for run in runs for o in run for k in o.posted)
    assert len(archived) == 50
    assert set(posted) == archived, f"never posted: {sorted(archived - set(posted))[:5]}..."
    assert max(posted.values()) == 1
