"""Papers ingested while a digest runs: windows never depend on a wall-clock stamp racing its
commit (issue 14, item 1). On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import re
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.app import App, build_app, build_deliveries
from bot.digest import ChannelOutcome
from bot.models import Paper
from bot.settings import ChannelSettings, Settings
from bot.sources.retrieve import AnyRetriever
from fakes.clock import Clock

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
HOLD = 30.0  # seconds any wait below may take before the test fails


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


async def _paperboy(config: Path, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "bot", "--config", str(config), *args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode() + err.decode()


@pytest.mark.slow
async def test_digest_processes_during_ingest_processes_post_every_paper_once(
    database: str, tmp_path: Path
) -> None:
    """The issue's reproduction with real processes: `paperboy digest` in a loop while six
    `paperboy ingest` processes store 1,500 papers each (they wait for each other's write
    lock after stamping). Every paper is posted, none twice."""
    ingests, per_ingest = 6, 1_500
    channel = {
        "platform": "console",
        "id": "demo",
        "topics": ["mixture of experts"],
        "max_posts": 0,
        "lookback": "2d",
    }
    config = tmp_path / "paperboy.yaml"
    config.write_text(yaml.safe_dump({"database": database, "channels": [channel]}))
    build_app(Settings(database=database, channels=[ChannelSettings(**channel)])).close()
    dumps = [
        moe_dump(tmp_path / f"dump{n}.txt", n * per_ingest, per_ingest) for n in range(ingests)
    ]
    running = [asyncio.create_task(_paperboy(config, "ingest", str(d))) for d in dumps]
    printed: list[str] = []
    digests = 0
    while True:
        finished = all(t.done() for t in running)  # read before the digest starts
        code, out = await _paperboy(config, "digest")
        assert code == 0, out[-2000:]
        printed.append(out)
        digests += 1
        if finished:
            break
    for task in running:
        code, out = await task
        assert code == 0, out[-2000:]
    titles = Counter(re.findall(r"Routing Study (\d+):", "\n".join(printed)))
    app = build_app(Settings(database=database, channels=[ChannelSettings(**channel)]))
    try:
        archived = app.archive.count()
        posted = app.ledger.posted("console:demo")
    finally:
        app.close()
    print(f"measured: {digests} digests, {archived} papers, {len(posted)} posted")
    assert archived == ingests * per_ingest
    assert len(posted) == archived and len(titles) == archived
    assert max(titles.values()) == 1
