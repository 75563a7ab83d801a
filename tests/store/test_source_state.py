"""Source state: validators, outcomes, and the fetch claim that keeps replicas sharing one
database to one fetch per source and interval — on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from bot.sources.base import Validators
from bot.store.db import make_engine
from bot.store.source_state import Claim, SourceStateStore, slack

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
LEASE = timedelta(minutes=15)


def test_outcomes_and_validators_are_recorded(engine: Engine) -> None:
    store = SourceStateStore(engine)
    store.record_failure("hf", error="HTTP 503", now=T0)
    store.record_failure("hf", error="HTTP 503", now=T0 + HOUR)
    (state,) = store.all()
    assert (state.consecutive_failures, state.last_error, state.last_success) == (
        2,
        "HTTP 503",
        None,
    )
    store.record_success(
        "hf", location="u", validators=Validators('"e1"', None), result="new 3", now=T0 + 2 * HOUR
    )
    (state,) = store.all()
    assert (state.consecutive_failures, state.last_error) == (0, None)
    assert state.last_success == state.last_attempt == T0 + 2 * HOUR
    assert store.validators("hf", "u") == Validators('"e1"', None)
    assert store.validators("hf", "elsewhere") == Validators()


def test_a_fetch_is_claimed_once_per_interval(engine: Engine) -> None:
    store = SourceStateStore(engine)
    assert store.claim_fetch("hf", now=T0, interval=HOUR, lease=LEASE) is Claim.CLAIMED
    # In flight: nobody else fetches, and they can tell it is running.
    assert store.claim_fetch("hf", now=T0, interval=HOUR, lease=LEASE) is Claim.BUSY
    store.record_success("hf", location="u", validators=None, result="ok", now=T0)
    assert store.claim_fetch("hf", now=T0 + HOUR / 2, interval=HOUR, lease=LEASE) is Claim.FRESH
    # Due a little early (a timer firing a moment before the interval is up still fetches).
    almost = T0 + HOUR - slack(HOUR)
    assert store.claim_fetch("hf", now=almost, interval=HOUR, lease=LEASE) is Claim.CLAIMED
    # Other sources are independent.
    assert store.claim_fetch("rss", now=T0, interval=HOUR, lease=LEASE) is Claim.CLAIMED


def test_a_failed_fetch_also_waits_for_its_interval(engine: Engine) -> None:
    store = SourceStateStore(engine)
    assert store.claim_fetch("hf", now=T0, interval=HOUR, lease=LEASE) is Claim.CLAIMED
    store.record_failure("hf", error="timeout", now=T0)
    assert store.claim_fetch("hf", now=T0 + HOUR / 2, interval=HOUR, lease=LEASE) is Claim.FRESH
    assert store.claim_fetch("hf", now=T0 + HOUR, interval=HOUR, lease=LEASE) is Claim.CLAIMED


def test_an_interrupted_fetch_is_due_again_and_a_dead_ones_lease_expires(engine: Engine) -> None:
    store = SourceStateStore(engine)
    assert store.claim_fetch("hf", now=T0, interval=HOUR, lease=LEASE) is Claim.CLAIMED
    store.release_fetch("hf")  # shut down mid-fetch
    assert store.claim_fetch("hf", now=T0, interval=HOUR, lease=LEASE) is Claim.CLAIMED
    # That claimant dies without a word: its lease runs out, then the fetch is free again.
    assert store.claim_fetch("hf", now=T0 + LEASE / 2, interval=HOUR, lease=LEASE) is Claim.BUSY
    later = T0 + LEASE + timedelta(seconds=1)
    assert store.claim_fetch("hf", now=later, interval=HOUR, lease=LEASE) is Claim.CLAIMED


def test_replicas_claiming_at_once_fetch_once(engine: Engine, database: str) -> None:
    # Three engines stand for three processes; each claims from several threads at once.
    engines = [engine, make_engine(database), make_engine(database)]

    def claim(i: int) -> Claim:
        store = SourceStateStore(engines[i % len(engines)])
        return store.claim_fetch("hf", now=T0, interval=HOUR, lease=LEASE)

    try:
        with ThreadPoolExecutor(max_workers=12) as pool:
            claims = list(pool.map(claim, range(24)))
    finally:
        for e in engines[1:]:
            e.dispose()
    assert claims.count(Claim.CLAIMED) == 1
    assert claims.count(Claim.BUSY) == 23
