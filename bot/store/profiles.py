"""Channel interest profiles in the database (`ProfileStore`): seeded from the config, then
edited from chat. Which wins, the config file or chat, is decided in `bot.store.seeding`;
the rules for a profile's values (topic lists, limits, schedule) are in
`bot.store.profile_rules`. This module reads and writes the rows.

Every write is a read-modify-write inside one transaction that holds the write lock before
reading (SQLite `BEGIN IMMEDIATE`; on PostgreSQL a transaction-scoped advisory lock, so that
replicas seeding the same new channels at start take turns, and `SELECT … FOR UPDATE`).
The update is also guarded by the `updated_at` it read, which every write moves strictly
forward, and is retried when it lost a race, so two processes editing one channel never
lose an update.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Row, Select, func, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.errors import PaperboyError, StoreError
from bot.models import PLATFORMS, Profile
from bot.store.profile_rules import (
    DEFAULTS,
    Values,
    _to_profile,
    check_schedule,
    with_item,
    without_item,
)
from bot.store.schema import channels
from bot.store.seeding import Ref, SeedPlan, SeedReport, config_values, plan_seed

ATTEMPTS = 5
PROFILES_LOCK = 0x70617067  # PostgreSQL advisory lock of profile writes
T = TypeVar("T")


class UnknownChannelError(PaperboyError, LookupError):
    """The channel has no profile (create one with `ProfileStore.ensure`)."""


class _Conflict(Exception):
    """A concurrent writer changed the row between our read and our write."""


def _wanted(configured: Sequence[Profile]) -> dict[Ref, Values]:
    return {(c.platform, c.channel_id): config_values(c) for c in configured}


def _rows(result: Iterable[Row[Any]]) -> dict[Ref, Row[Any]]:
    return {(r.platform, r.channel_id): r for r in result}


def next_stamp(previous: datetime, now: datetime) -> datetime:
    """The `updated_at` of a write: `now`, but always after `previous`, so that every
    write changes it and the optimistic check sees writes made within one clock tick."""
    return max(now, previous + timedelta(microseconds=1))


def _check_ref(platform: str, channel_id: str) -> None:
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r} (one of {', '.join(PLATFORMS)})")
    if not channel_id.strip() or len(channel_id) > 128:
        raise ValueError("a channel id must have 1 to 128 characters")


def _one(platform: str, channel_id: str) -> Select[Any]:
    return select(channels).where(
        channels.c.platform == platform, channels.c.channel_id == channel_id
    )


def _insert(conn: Connection, platform: str, channel_id: str, values: Values, **extra: Any) -> None:
    try:
        conn.execute(
            channels.insert().values(platform=platform, channel_id=channel_id, **values, **extra)
        )
    except IntegrityError as e:  # another process created it since we looked
        raise _Conflict from e


def _list_change(
    column: str, edit: Callable[[list[str]], list[str] | None]
) -> Callable[[Values], Values | None]:
    def change(current: Values) -> Values | None:
        new = edit(list(current[column]))
        return None if new is None else {column: new}

    return change


def _guarded_update(conn: Connection, row: Row[Any], values: Values, now: datetime) -> None:
    done = conn.execute(
        update(channels)
        .where(channels.c.id == row.id, channels.c.updated_at == row.updated_at)
        .values(**values, updated_at=next_stamp(row.updated_at, now))
    )
    if done.rowcount != 1:
        raise _Conflict


class ProfileStore:
    """Channel profiles by (platform, channel_id). Owns no connection: each call is its own
    transaction on `engine`. Raises StoreError on database failure, ValueError on invalid
    input (message safe to show), UnknownChannelError when editing a channel without one."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @contextmanager
    def _locked(self) -> Iterator[Connection]:
        with self._engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # take the write lock before reading
            elif conn.dialect.name == "postgresql":  # the same for rows not there yet
                conn.execute(select(func.pg_advisory_xact_lock(PROFILES_LOCK)))
            yield conn

    def _write(self, what: str, action: Callable[[Connection], T]) -> T:
        for _ in range(ATTEMPTS):
            try:
                with self._locked() as conn:
                    return action(conn)
            except _Conflict:
                continue
            except SQLAlchemyError as e:
                raise StoreError(f"cannot update {what}: {e.__class__.__name__}") from e
        raise StoreError(f"{what} kept changing concurrently; try again")

    def seed(self, configured: Sequence[Profile], *, now: datetime) -> SeedReport:
        """Apply the configured channels' profiles (bot.settings.Settings.profiles) by the
        rule in bot.store.seeding's docstring, atomically.

        Raises ConfigError (before writing anything) when a channel's lists break a limit."""
        wanted = _wanted(configured)

        def action(conn: Connection) -> SeedReport:
            plan = plan_seed(_rows(conn.execute(select(channels).with_for_update())), wanted)
            for write in plan.writes:
                platform, channel_id = write.ref
                if write.row is None:
                    stamps = {"created_at": now, "updated_at": now}
                    _insert(conn, platform, channel_id, write.values, seeded=write.seeded, **stamps)
                else:
                    _guarded_update(conn, write.row, {**write.values, "seeded": write.seeded}, now)
            return plan.report

        return self._write("channel profiles", action)

    def preview(self, configured: Sequence[Profile]) -> SeedPlan:
        """What `seed` would make of the stored profiles, without writing anything: every
        effective profile (configuration merged with the database by the same rule) and the
        report `seed` would give. For read-only commands (`digest --dry-run`, `channels`).

        Raises ConfigError when a channel's lists break a limit, StoreError on failure."""
        wanted = _wanted(configured)
        try:
            with self._engine.connect() as conn:
                rows = _rows(conn.execute(select(channels)))
        except SQLAlchemyError as e:
            raise StoreError(f"cannot read channel profiles: {e.__class__.__name__}") from e
        return plan_seed(rows, wanted)

    def get(self, platform: str, channel_id: str) -> Profile | None:
        """The channel's profile, or None when it has none."""
        try:
            with self._engine.connect() as conn:
                row = conn.execute(_one(platform, channel_id)).first()
        except SQLAlchemyError as e:
            raise StoreError(f"cannot read channel profile: {e.__class__.__name__}") from e
        return _to_profile(row) if row else None

    def all(self) -> list[Profile]:
        """Every profile, ordered by platform then channel id."""
        query = select(channels).order_by(channels.c.platform, channels.c.channel_id)
        try:
            with self._engine.connect() as conn:
                return [_to_profile(r) for r in conn.execute(query)]
        except SQLAlchemyError as e:
            raise StoreError(f"cannot read channel profiles: {e.__class__.__name__}") from e

    def ensure(
        self, platform: str, channel_id: str, *, name: str | None = None, now: datetime
    ) -> Profile:
        """The channel's profile, created with the defaults (and `name`) when it has none."""
        _check_ref(platform, channel_id)

        def action(conn: Connection) -> Profile:
            row = conn.execute(_one(platform, channel_id)).first()
            if row is not None:
                return _to_profile(row)
            values = {**DEFAULTS, "name": name}
            _insert(conn, platform, channel_id, values, created_at=now, updated_at=now)
            return Profile(platform=platform, channel_id=channel_id, name=name)

        return self._write(f"channel {platform}:{channel_id}", action)

    def _edit(
        self,
        platform: str,
        channel_id: str,
        change: Callable[[Values], Values | None],
        now: datetime,
    ) -> bool:
        """Apply `change` (current values -> changed columns, None for no change) to one row."""
        ref = f"{platform}:{channel_id}"

        def action(conn: Connection) -> bool:
            row = conn.execute(_one(platform, channel_id).with_for_update()).first()
            if row is None:
                raise UnknownChannelError(f"channel {ref} has no profile yet")
            values = change(dict(row._mapping))
            if values is None:
                return False
            _guarded_update(conn, row, values, now)
            return True

        return self._write(f"channel {ref}", action)

    def add_topic(self, platform: str, channel_id: str, topic: str, *, now: datetime) -> bool:
        """Follow `topic` (stored as typed, spacing collapsed); False if already followed."""
        change = _list_change("topics", lambda items: with_item(items, topic))
        return self._edit(platform, channel_id, change, now)

    def remove_topic(self, platform: str, channel_id: str, topic: str, *, now: datetime) -> bool:
        """Stop following `topic` (any case or spacing); False if it was not followed."""
        change = _list_change("topics", lambda items: without_item(items, topic))
        return self._edit(platform, channel_id, change, now)

    def add_exclude(self, platform: str, channel_id: str, term: str, *, now: datetime) -> bool:
        """Exclude papers about `term`; False if already excluded."""
        change = _list_change("exclude", lambda items: with_item(items, term, what="exclusion"))
        return self._edit(platform, channel_id, change, now)

    def remove_exclude(self, platform: str, channel_id: str, term: str, *, now: datetime) -> bool:
        """Drop the exclusion `term`; False if it was not excluded."""
        change = _list_change("exclude", lambda items: without_item(items, term))
        return self._edit(platform, channel_id, change, now)

    def set_schedule(
        self, platform: str, channel_id: str, schedule: str, timezone: str, *, now: datetime
    ) -> bool:
        """Post on `schedule` (5-field cron) in `timezone`; False if it already was."""
        cron, zone = check_schedule(schedule, timezone)

        def change(current: Values) -> Values | None:
            if (current["schedule"], current["timezone"]) == (cron, zone):
                return None
            return {"schedule": cron, "timezone": zone}

        return self._edit(platform, channel_id, change, now)
