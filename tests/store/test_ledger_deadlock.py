"""PostgreSQL deadlocks in the posted ledger, made to happen on purpose.

A run renews its lease (`Ledger.sending`) while another run reserves the same channel's
papers (`Ledger.take`, which locks the rows other runs hold with SELECT … FOR UPDATE).
Before the fix, `sending` updated the message's papers first and then every other row it
held, while `take` locked rows in scan order: the taker held the lower keys and waited for
the message's, the sender held the message's and waited for the lower ones, and
PostgreSQL killed one of them (`deadlock detected`, SQLSTATE 40P01) — the run then failed
its channel with "ledger reservation failed: OperationalError".

The interleaving is forced, not hoped for, with SQLAlchemy event hooks: the taker is held
right after its INSERT, the sender right after its first UPDATE; then the taker goes on
until it is seen waiting for a row lock in `pg_stat_activity`, then the sender goes on.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from bot.store.db import make_engine
from bot.store.ledger import Ledger
from bot.store.migrations import migrate
from helpers import wait_until_sync

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=15)
CHANNEL = "slack:C0DEADLOCK"
KEYS = [f"2611.{i:05d}" for i in range(10)]
WAIT = 30.0


@pytest.fixture
def engines(pg_url: str) -> Iterator[tuple[Engine, Engine, Engine]]:
    """The sender's, the taker's and an observer's engine on one PostgreSQL schema."""
    made = [make_engine(pg_url) for _ in range(3)]
    migrate(made[0])
    yield made[0], made[1], made[2]
    for engine in made:
        engine.dispose()


def _waiting_for_a_lock(observer: Engine) -> bool:
    with observer.connect() as conn:
        found = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    return bool(found)


def _until(predicate: Any, what: str) -> None:
    wait_until_sync(predicate, WAIT, what)


@pytest.mark.parametrize("message", [KEYS[5:], KEYS[3:6], KEYS[9:]], ids=["high", "mid", "last"])
def test_lease_renewal_and_another_runs_reservation_do_not_deadlock(
    engines: tuple[Engine, Engine, Engine], message: list[str]
) -> None:
    sender_engine, taker_engine, observer = engines
    held = Ledger(sender_engine).take(CHANNEL, KEYS, now=T0, lease=LEASE)
    assert held.keys == KEYS

    inserted, go_take = threading.Event(), threading.Event()
    paused, go_send = threading.Event(), threading.Event()

    def hold(engine: Engine, first: str, reached: threading.Event, go: threading.Event) -> None:
        seen = {"n": 0}

        @event.listens_for(engine, "after_cursor_execute")
        def after(*args: Any) -> None:
            if str(args[2]).lstrip().upper().startswith(first):
                seen["n"] += 1
                if seen["n"] == 1:
                    reached.set()
                    assert go.wait(WAIT), "never released"

    hold(taker_engine, "INSERT INTO POSTED", inserted, go_take)
    hold(sender_engine, "UPDATE POSTED", paused, go_send)
    results: dict[str, Any] = {}

    def send() -> None:
        try:
            results["sent"] = Ledger(sender_engine).sending(
                CHANNEL, message, token=held.token, message_key="m1", now=T0, lease=LEASE
            )
        except Exception as e:  # reported below, with the other thread's outcome
            results["sent"] = e

    def take() -> None:
        try:
            results["taken"] = Ledger(taker_engine).take(CHANNEL, KEYS, now=T0, lease=LEASE)
        except Exception as e:
            results["taken"] = e

    taker = threading.Thread(target=take)
    sender = threading.Thread(target=send)
    taker.start()
    try:
        assert inserted.wait(WAIT), "the taker never inserted"
        sender.start()
        assert paused.wait(WAIT), "the sender never updated"
        go_take.set()
        _until(lambda: _waiting_for_a_lock(observer), "the taker to wait for a row lock")
    finally:
        go_take.set()
        go_send.set()
    sender.join(WAIT * 2)
    taker.join(WAIT * 2)
    assert not sender.is_alive() and not taker.is_alive()
    assert results["sent"] is True, results  # renewed, the message may be sent
    taken = results["taken"]
    assert not isinstance(taken, Exception), results  # before: deadlock detected
    assert taken.keys == []  # a live run holds them all: left to it


@pytest.mark.parametrize("attempts", [1, 5])
def test_a_deadlock_victim_is_run_again_from_its_start(pg_url: str, attempts: int) -> None:
    """Two transactions lock two rows in opposite orders (held at a barrier until both
    have their first row): PostgreSQL rolls one back (40P01). With one attempt that is the
    error the caller used to get; with retries the victim runs again and both complete,
    each exactly once."""
    from sqlalchemy.exc import OperationalError

    from bot.store.db import transaction

    engine = make_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE pair (k text PRIMARY KEY, n int NOT NULL)"))
            conn.execute(text("INSERT INTO pair VALUES ('a', 0), ('b', 0)"))
        both_locked = threading.Barrier(2, timeout=WAIT)
        runs = {"ab": 0, "ba": 0}
        outcome: dict[str, BaseException | None] = {}

        def run(name: str) -> None:
            first, second = name

            def work(conn: Any) -> None:
                runs[name] += 1
                conn.execute(text("UPDATE pair SET n = n + 1 WHERE k = :k"), {"k": first})
                if runs[name] == 1:
                    both_locked.wait()
                conn.execute(text("UPDATE pair SET n = n + 1 WHERE k = :k"), {"k": second})

            try:
                transaction(engine, work, attempts=attempts)
                outcome[name] = None
            except BaseException as e:
                outcome[name] = e

        threads = [threading.Thread(target=run, args=(n,)) for n in runs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT * 2)
        with engine.connect() as conn:
            counts = {k: n for k, n in conn.execute(text("SELECT k, n FROM pair"))}
        failed = [e for e in outcome.values() if e is not None]
        if attempts == 1:
            assert len(failed) == 1 and isinstance(failed[0], OperationalError), outcome
            assert "deadlock detected" in str(failed[0])
            assert counts == {"a": 1, "b": 1}  # the victim's work is gone entirely
        else:
            assert failed == [], outcome
            assert sorted(runs.values()) == [1, 2]  # the victim ran again
            assert counts == {"a": 2, "b": 2}  # each transaction's work exactly once
    finally:
        engine.dispose()
