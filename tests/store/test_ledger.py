"""The posted ledger and digest runs on a real SQLite file: reservations, leases, claims."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

import bot.store.ledger as ledger_module
from bot.models import Paper
from bot.store.archive import Archive
from bot.store.db import make_engine
from bot.store.ledger import Ledger
from bot.store.runs import DigestRuns

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=15)


def test_reserve_confirm_release_cycle(engine: Engine) -> None:
    ledger = Ledger(engine)
    assert ledger.reserve("slack:C1", ["a", "b", "c"], now=T0, lease=LEASE) == ["a", "b", "c"]
    # Reserved by a live run: nobody else gets them, and they are not "posted" yet.
    assert ledger.reserve("slack:C1", ["a", "b", "d"], now=T0, lease=LEASE) == ["d"]
    assert ledger.posted("slack:C1") == {}
    ledger.confirm("slack:C1", ["a", "b"], ref="1700000000.0001", now=T0)
    ledger.release("slack:C1", ["c", "d"])
    assert ledger.posted("slack:C1") == {"a": T0, "b": T0}
    assert ledger.posted("slack:C1", ["a", "zzz"]) == {"a": T0}
    # Released papers are free again; posted ones never are.
    assert ledger.reserve("slack:C1", ["a", "c"], now=T0, lease=LEASE) == ["c"]
    # Other channels are independent.
    assert ledger.reserve("discord:9", ["a"], now=T0, lease=LEASE) == ["a"]


def test_expired_reservation_of_a_dead_run_is_taken_over(engine: Engine) -> None:
    ledger = Ledger(engine)
    ledger.reserve("slack:C1", ["a"], now=T0, lease=LEASE)
    assert ledger.reserve("slack:C1", ["a"], now=T0 + LEASE / 2, lease=LEASE) == []
    assert ledger.reserve("slack:C1", ["a"], now=T0 + LEASE * 2, lease=LEASE) == ["a"]


def test_two_processes_never_reserve_the_same_paper(database: str) -> None:
    engines = [make_engine(database) for _ in range(2)]
    from bot.store.migrations import migrate

    migrate(engines[0])
    keys = [f"p{i}" for i in range(40)]

    def grab(i: int) -> list[str]:
        ledger = Ledger(engines[i % 2])
        got = []
        for k in keys:
            got += ledger.reserve("slack:C1", [k], now=T0, lease=LEASE)
        return got

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(grab, range(4)))
    flat = [k for r in results for k in r]
    assert sorted(flat) == sorted(keys)  # every key reserved exactly once
    for e in engines:
        e.dispose()


def test_rekeying_a_paper_follows_into_the_ledger(engine: Engine) -> None:
    archive, ledger = Archive(engine), Ledger(engine)
    archive.upsert([Paper(title="A Paper First Seen By Title")], now=T0)
    old = "a paper first seen by title"
    ledger.reserve("slack:C1", [old], now=T0, lease=LEASE)
    ledger.confirm("slack:C1", [old], ref="1", now=T0)
    archive.upsert([Paper(title="A Paper First Seen By Title", arxiv_id="2501.00009")], now=T0)
    assert ledger.posted("slack:C1") == {"2501.00009": T0}
    assert ledger.reserve("slack:C1", ["2501.00009"], now=T0, lease=LEASE) == []


def test_scheduled_run_is_claimed_once(engine: Engine) -> None:
    runs = DigestRuns(engine)
    slot = T0.replace(hour=9)
    window = (T0 - timedelta(days=1), T0)
    first = runs.start("slack:C1", now=T0, window=window, scheduled_for=slot)
    again = runs.start(
        "slack:C1", now=T0 + timedelta(minutes=60), window=window, scheduled_for=slot
    )
    other = runs.start("slack:C2", now=T0, window=window, scheduled_for=slot)
    assert first is not None and other is not None and again is None
    # Manual runs (no scheduled time) are never refused.
    assert runs.start("slack:C1", now=T0, window=window) is not None
    assert runs.start("slack:C1", now=T0, window=window) is not None


def test_only_complete_runs_consume_their_window(engine: Engine) -> None:
    runs = DigestRuns(engine)
    w1 = (T0 - timedelta(days=1), T0)
    r1 = runs.start("slack:C1", now=T0, window=w1)
    assert r1 is not None
    runs.finish(r1, status=DigestRuns.DONE, posted_count=3, now=T0, error=None)
    w2 = (T0, T0 + timedelta(days=1))
    r2 = runs.start("slack:C1", now=w2[1], window=w2)
    assert r2 is not None
    runs.finish(r2, status=DigestRuns.FAILED, posted_count=0, now=w2[1], error="boom")
    complete = runs.last_complete("slack:C1")
    last = runs.last("slack:C1")
    assert complete is not None and complete.window_end == T0
    assert last is not None and last.status == "failed" and last.error == "boom"
    assert runs.last_complete("slack:C9") is None


def test_a_claim_that_did_not_deliver_is_retaken(engine: Engine) -> None:
    runs = DigestRuns(engine)
    slot = T0.replace(hour=9)
    window = (T0 - timedelta(days=1), T0)
    failed = runs.start("slack:C1", now=T0, window=window, scheduled_for=slot)
    assert failed is not None
    runs.finish(failed, status=DigestRuns.FAILED, posted_count=0, now=T0, error="interrupted")
    retaken = runs.start("slack:C1", now=T0, window=window, scheduled_for=slot)
    assert retaken == failed
    run = runs.last("slack:C1")
    assert run is not None and run.status == DigestRuns.RUNNING and run.error is None
    runs.finish(retaken, status=DigestRuns.DONE, posted_count=3, now=T0, error=None)
    assert runs.start("slack:C1", now=T0, window=window, scheduled_for=slot) is None


def test_a_run_that_died_while_running_is_retaken_only_when_stale(engine: Engine) -> None:
    runs = DigestRuns(engine)
    slot = T0.replace(hour=9)
    window = (T0 - timedelta(days=1), T0)
    assert runs.start("slack:C1", now=T0, window=window, scheduled_for=slot) is not None
    soon = T0 + timedelta(minutes=10)
    assert runs.start("slack:C1", now=soon, window=window, scheduled_for=slot) is None
    late = T0 + timedelta(hours=3)
    assert runs.start("slack:C1", now=late, window=window, scheduled_for=slot) is not None


@pytest.mark.parametrize("few", [50, 0], ids=["by-channel", "by-paper"])
def test_posted_in_reads_every_channels_confirmed_posts_of_the_keys(
    engine: Engine, few: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger_module, "FEW_CHANNELS", few)
    ledger = Ledger(engine)
    for channel, keys in (("slack:C1", ["a", "b"]), ("slack:C2", ["b", "c"]), ("x:9", ["a"])):
        ledger.reserve(channel, keys, now=T0, lease=LEASE)
        ledger.confirm(channel, keys, ref="r", now=T0)
    ledger.reserve("slack:C1", ["d"], now=T0, lease=LEASE)  # pending: not posted
    got = ledger.posted_in(["slack:C1", "slack:C2", "slack:C3"], ["a", "b", "d", "zzz"])
    # what each channel's own read says, for the asked channels and keys only
    assert got == {"slack:C1": {"a": T0, "b": T0}, "slack:C2": {"b": T0}}
    for channel in ("slack:C1", "slack:C2"):
        assert got[channel] == ledger.posted(channel, ["a", "b", "d", "zzz"])
    many = [f"k{i}" for i in range(12_000)]  # more keys than one IN list takes
    ledger.reserve("slack:C3", many[-2:], now=T0, lease=LEASE)
    ledger.confirm("slack:C3", many[-2:], ref="r", now=T0)
    assert ledger.posted_in(["slack:C3"], many) == {"slack:C3": dict.fromkeys(many[-2:], T0)}
    assert ledger.posted_in([], ["a"]) == {} and ledger.posted_in(["slack:C1"], []) == {}


def test_last_complete_of_equals_last_complete_per_channel(engine: Engine) -> None:
    runs = DigestRuns(engine)
    outcomes = {"slack:C1": ["done", "failed"], "slack:C2": ["empty", "done", "partial"]}
    outcomes["slack:C3"] = ["failed"]
    for channel, statuses in outcomes.items():
        for day, status in enumerate(statuses):
            now = T0 + timedelta(days=day)
            run = runs.start(channel, now=now, window=(now - timedelta(days=1), now))
            assert run is not None
            runs.finish(run, status=status, posted_count=0, now=now, error=None)
    channels = [*outcomes, "slack:C9", *(f"none:{i}" for i in range(6_000))]
    got = runs.last_complete_of(channels)
    assert set(got) == {"slack:C1", "slack:C2"}
    for channel in channels:
        assert got.get(channel) == runs.last_complete(channel)
    assert got["slack:C2"].window_end == T0 + timedelta(days=1)
