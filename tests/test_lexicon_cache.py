"""LexiconCache: one lexicon per archive state, shared by chat commands and digest jobs;
callers that find it stale together wait for a single build."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import bot.app
from bot.app import LexiconCache
from bot.models import Paper
from bot.store.archive import Archive
from bot.store.db import make_engine
from bot.store.migrations import migrate
from fakes.clock import Clock

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    engine = make_engine(str(tmp_path / "p.db"))
    migrate(engine)
    a = Archive(engine)
    a.upsert([Paper(title="Sparse Mixture of Experts", abstract="MoE layers.")], now=T0)
    return a


def test_concurrent_callers_wait_for_one_build(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The build goes on only once all 8 callers have arrived (each first counts the
    archive): every one of them found the lexicon stale, and still only one built it."""
    callers = 8
    builds: list[int] = []
    arrived = threading.Semaphore(0)
    real_build, real_count = bot.app.build_lexicon, archive.count

    def counted() -> int:
        n = real_count()
        arrived.release()
        return n

    def slow(papers: Any) -> Any:
        builds.append(threading.get_ident())
        for _ in range(callers):  # every caller has looked at the archive meanwhile
            assert arrived.acquire(timeout=10), "not every caller arrived"
        return real_build(papers)

    monkeypatch.setattr(bot.app, "build_lexicon", slow)
    monkeypatch.setattr(archive, "count", counted)
    cache = LexiconCache(archive, Clock(T0))
    with ThreadPoolExecutor(callers) as pool:
        got = list(pool.map(lambda _: cache(), range(callers)))
    assert len(builds) == 1
    assert all(lex is got[0] for lex in got)


def test_rebuilt_when_the_archive_grows_or_the_ttl_passes(archive: Archive) -> None:
    clock = Clock(T0)
    cache = LexiconCache(archive, clock, ttl=timedelta(minutes=10))
    first = cache()
    assert cache() is first
    archive.upsert([Paper(title="Speech Recognition at Scale", abstract="ASR.")], now=T0)
    grown = cache()
    assert grown is not first and grown.n_docs == first.n_docs + 1
    clock.now += timedelta(minutes=11)
    assert cache() is not grown
