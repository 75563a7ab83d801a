"""Archive writes in progress and the low watermark of digest windows (bot.store.ingests),
on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select, update

from bot.store import owner
from bot.store.archive import Archive
from bot.store.ingests import Ingests
from bot.store.schema import ingests

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def _rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(ingests)).scalar_one())


def test_a_write_in_progress_holds_the_watermark_at_its_start_until_it_ends(
    engine: Engine,
) -> None:
    store = Ingests(engine)
    assert store.watermark(T0) == T0
    older = store.begin(now=T0 - 5 * MIN)
    newer = store.begin(now=T0 - 2 * MIN)
    store.begin(now=T0 + MIN)  # started after `now`: its stamps are later anyway
    assert store.watermark(T0) == T0 - 5 * MIN
    store.end(older)
    assert store.watermark(T0) == T0 - 2 * MIN
    store.end(newer)
    assert store.watermark(T0) == T0


def test_a_dead_write_stops_holding_windows_when_its_lease_ends_or_its_owner_is_gone(
    engine: Engine,
) -> None:
    store = Ingests(engine)
    store.begin(now=T0 - 5 * MIN, lease=2 * MIN)  # lease ended at T0 - 3 min
    assert store.watermark(T0) == T0
    token = store.begin(now=T0 - 4 * MIN)
    here = owner.this_process()
    if here is not None:  # same host: this pid with another start time (a process gone)
        parts = here.split("/")
        parts[3], parts[4] = str(os.getpid()), str(int(parts[4]) + 1)
        with engine.begin() as conn:
            conn.execute(
                update(ingests).where(ingests.c.token == token).values(owner="/".join(parts))
            )
        assert owner.gone("/".join(parts))
        assert store.watermark(T0) == T0
        store.begin(now=T0)  # sweeps both dead rows
        assert _rows(engine) == 1


def test_archive_ingest_stamps_after_registering_and_ends_its_registration(
    engine: Engine,
) -> None:
    from bot.models import Paper

    archive = Archive(engine)
    seen: list[datetime] = []
    times = iter([T0, T0 + MIN])

    def clock() -> datetime:
        now = next(times)
        seen.append(now)
        return now

    paper = Paper(title="Sparse Experts at Scale", abstract="Routing tokens to experts.")
    result = archive.ingest([paper], clock=clock)
    assert result.new == 1 and seen == [T0, T0 + MIN]
    (stored,) = archive.all()
    assert stored.first_seen == T0 + MIN  # the second reading: after the registration
    assert _rows(engine) == 0
    assert archive.complete_until(T0 + 2 * MIN) == T0 + 2 * MIN
