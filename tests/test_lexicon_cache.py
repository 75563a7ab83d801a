"""LexiconCache: one lexicon per archive state, shared by chat commands and digest jobs,
brought up to date (not relearned) when the archive changes; callers that find it stale
together wait for a single catch-up."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from test_lexicon_tally import exact

from bot.app import LexiconCache
from bot.models import Paper
from bot.pipeline.lexicon import build
from bot.store.archive import Archive
from bot.store.db import make_engine
from bot.store.lexicon_store import Counted, LexiconStore, Mark
from bot.store.migrations import migrate
from bot.store.schema import lexicon_state

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(str(tmp_path / "p.db"))
    migrate(engine)
    Archive(engine).upsert([Paper(title="Sparse Mixture of Experts", abstract="MoE.")], now=T0)
    return engine


class GatedStore(LexiconStore):
    """A LexiconStore whose catch-up goes on only once `callers` have read the mark."""

    def __init__(self, engine: Engine, callers: int) -> None:
        super().__init__(engine)
        self.callers = callers
        self.arrived = threading.Semaphore(0)
        self.catch_ups: list[int] = []

    def mark(self) -> Mark:
        found = super().mark()
        self.arrived.release()
        return found

    def catch_up(self, counted: Counted | None, *, save: bool = True) -> Counted:
        self.catch_ups.append(threading.get_ident())
        for _ in range(self.callers):  # every caller has looked at the archive meanwhile
            assert self.arrived.acquire(timeout=10), "not every caller arrived"
        return super().catch_up(counted, save=save)


def test_concurrent_callers_wait_for_one_catch_up(engine: Engine) -> None:
    """Every one of 8 callers found the lexicon stale, and still only one counted it."""
    store = GatedStore(engine, callers=8)
    cache = LexiconCache(store)
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda _: cache(), range(8)))
    assert len(store.catch_ups) == 1
    assert all(lex is got[0] for lex in got)


def test_kept_while_the_archive_is_unchanged_and_followed_when_it_changes(engine: Engine) -> None:
    archive = Archive(engine)
    cache = LexiconCache(LexiconStore(engine))
    first = cache()
    assert cache() is first
    archive.upsert([Paper(title="Speech Recognition at Scale", abstract="ASR.")], now=T0)
    grown = cache()
    assert grown is not first and grown.n_docs == first.n_docs + 1
    assert cache() is grown
    # a paper's text changes (the longer abstract wins): same count, a new lexicon
    archive.upsert([Paper(title="Speech Recognition at Scale", abstract="ASR, longer.")], now=T0)
    updated = cache()
    assert updated is not grown and updated.vocab["longer"] == 1
    assert exact(updated) == exact(build(archive.all()))


def test_a_restarted_process_starts_from_the_saved_lexicon(engine: Engine) -> None:
    archive = Archive(engine)
    archive.upsert([Paper(title=f"Paper {i} on experts", abstract="x") for i in range(5)], now=T0)
    first = LexiconCache(LexiconStore(engine))
    first()  # counted from scratch, then saved in the background
    first.wait_saved(10)
    with engine.connect() as conn:
        saved = conn.execute(select(lexicon_state.c.papers_mark)).scalar_one()
    assert saved == 6
    archive.upsert([Paper(title="One more paper", abstract="y")], now=T0)
    restarted = LexiconCache(LexiconStore(engine))()
    assert exact(restarted) == exact(build(archive.all()))


def test_a_read_only_process_never_writes(engine: Engine) -> None:
    lexicon = LexiconCache(LexiconStore(engine, saving=False))()
    assert lexicon.n_docs == 1
    with engine.connect() as conn:
        assert conn.execute(select(lexicon_state.c.id)).first() is None
