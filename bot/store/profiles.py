"""Channel interest profiles in the database (`ProfileStore`): seeded from the config, then
edited from chat. Which wins, the config file or chat, is decided in `bot.store.seeding`;
the rules for a profile's values (topic lists, limits, schedule) are in
`bot.store.profile_rules`. This module reads and writes the rows, and a channel's lifecycle
by hand (from chat or the shell): `pause`, `resume`, `remove`, and `move` to a new id with
its posted history.

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
from bot.schedule import check_weekly
from bot.store.profile_rules import (
    ACTIVE,
    BY_CONFIG,
    BY_DELIVERY,
    BY_HAND,
    CHAT,
    DEFAULTS,
    PAUSED,
    PERSON,
    REMOVED,
    ChannelEntry,
    Values,
    _to_entry,
    _to_profile,
    check_schedule,
    with_item,
    without_item,
)
from bot.store.schema import channels, digest_runs, feedback, posted
from bot.store.seeding import Ref, SeedPlan, SeedReport, config_values, plan_seed

ATTEMPTS = 5
PROFILES_LOCK = 0x70617067  # PostgreSQL advisory lock of profile writes
T = TypeVar("T")


class UnknownChannelError(PaperboyError, LookupError):
    """The channel has no profile (create one with `ProfileStore.ensure`)."""


class ChannelStateError(PaperboyError, ValueError):
    """A lifecycle change that does not apply to the channel as it is (message safe to
    show): pausing a removed channel, resuming one that left the configuration, moving onto
    a channel with its own history."""


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
                values = dict(write.values)
                if write.seeded is not None:
                    values["seeded"] = write.seeded
                if "state" in values:
                    values["state_at"] = now
                if write.row is None:
                    stamps = {"created_at": now, "updated_at": now}
                    _insert(conn, platform, channel_id, values, **stamps)
                else:
                    _guarded_update(conn, write.row, values, now)
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
        """The profile of every channel that gets digests (active: not paused, not
        removed), ordered by platform then channel id."""
        return [c.profile for c in self.channels() if c.active]

    def channels(self) -> list[ChannelEntry]:
        """Every channel with its origin and state (removed ones too), ordered by platform
        then channel id."""
        query = select(channels).order_by(channels.c.platform, channels.c.channel_id)
        try:
            with self._engine.connect() as conn:
                return [_to_entry(r) for r in conn.execute(query)]
        except SQLAlchemyError as e:
            raise StoreError(f"cannot read channel profiles: {e.__class__.__name__}") from e

    def entry(self, platform: str, channel_id: str) -> ChannelEntry | None:
        """The channel with its origin and state, or None when it has no profile."""
        try:
            with self._engine.connect() as conn:
                row = conn.execute(_one(platform, channel_id)).first()
        except SQLAlchemyError as e:
            raise StoreError(f"cannot read channel profile: {e.__class__.__name__}") from e
        return _to_entry(row) if row else None

    def ensure(
        self, platform: str, channel_id: str, *, name: str | None = None, now: datetime
    ) -> Profile:
        """The channel's profile, created with the defaults (and `name`) when it has none."""
        _check_ref(platform, channel_id)

        def action(conn: Connection) -> Profile:
            row = conn.execute(_one(platform, channel_id)).first()
            if row is not None:
                return _to_profile(row)
            values = {**DEFAULTS, "name": name, "origin": CHAT}
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

    def set_weekly(
        self, platform: str, channel_id: str, weekly: str | None, *, now: datetime
    ) -> bool:
        """Post the weekly digest on `weekly` (`fri 16:00` or 5-field cron, in the channel's
        time zone: bot.schedule.check_weekly), or no weekly digest (None); False if it
        already was so. ValueError saying what to type for a schedule that is none."""

        def change(current: Values) -> Values | None:
            cron = None if weekly is None else check_weekly(weekly, current["timezone"])[0]
            return None if current["weekly"] == cron else {"weekly": cron}

        return self._edit(platform, channel_id, change, now)

    # --- lifecycle by hand (chat, shell) --------------------------------------------------

    def _set_state(
        self,
        platform: str,
        channel_id: str,
        state: str,
        now: datetime,
        check: Callable[[Values], None] = lambda current: None,
    ) -> bool:
        def change(current: Values) -> Values | None:
            if current["state"] == state:
                return None
            check(current)
            values: Values = {
                "state": state,
                "state_by": None if state == ACTIVE else BY_HAND,
                "state_at": now,
            }
            if state == ACTIVE:  # a person paused because DMs failed: the reason is gone
                values.update(state_reason=None, notified_at=None)
            return values

        return self._edit(platform, channel_id, change, now)

    def pause(self, platform: str, channel_id: str, *, now: datetime) -> bool:
        """Stop the channel's digests (scheduled and `paperboy digest`) until `resume`;
        False if it already was paused. Nothing is lost: the first digest after `resume`
        covers the papers since the channel's last digest (capped by its max_posts).
        ChannelStateError for a removed channel, UnknownChannelError without a profile."""

        def check(current: Values) -> None:
            if current["state"] == REMOVED:
                raise ChannelStateError(
                    f"channel {platform}:{channel_id} is removed; resume it first"
                )

        return self._set_state(platform, channel_id, PAUSED, now, check)

    def resume(self, platform: str, channel_id: str, *, now: datetime) -> bool:
        """Digests again for a paused channel, or one removed by hand; False if it was
        active. ChannelStateError for a channel removed because it left the configuration
        (put it back there), UnknownChannelError without a profile."""

        def check(current: Values) -> None:
            if current["state"] == REMOVED and current["state_by"] == BY_CONFIG:
                raise ChannelStateError(
                    f"channel {platform}:{channel_id} was removed from the configuration: "
                    "put it back there (its profile and posted history are kept)"
                )

        return self._set_state(platform, channel_id, ACTIVE, now, check)

    def remove(self, platform: str, channel_id: str, *, now: datetime) -> bool:
        """Mark the channel removed: no more digests; its profile, posted ledger, digest
        runs and feedback are kept (`resume` brings it back, nothing reposted). False if it
        already was removed. UnknownChannelError without a profile."""
        return self._set_state(platform, channel_id, REMOVED, now)

    def move(self, old: Ref, new: Ref, *, now: datetime) -> ChannelEntry:
        """Give channel `old` (platform, channel_id) the id `new` (a Slack channel converted,
        a Discord channel recreated), with its profile, posted ledger, digest runs and
        feedback, in one transaction: nothing it was sent is sent again under the new id.

        `new` may already have a profile only when it has no history of its own (no posted
        papers, digest runs or feedback: e.g. just created from the configuration); that
        profile is replaced by `old`'s, and the moved channel takes its origin and state.
        Otherwise the moved channel keeps `old`'s origin and state, except that a channel
        removed because it left the configuration becomes an active chat channel (moving it
        is asking for it back). Returns the moved channel.

        UnknownChannelError when `old` has no profile; ChannelStateError when `new` is
        `old` or has a history; ValueError on an invalid `new`."""
        _check_ref(*new)
        old_ref, new_ref = f"{old[0]}:{old[1]}", f"{new[0]}:{new[1]}"
        if old == new:
            raise ChannelStateError(f"{old_ref} already has that id")

        def action(conn: Connection) -> ChannelEntry:
            row = conn.execute(_one(*old).with_for_update()).first()
            if row is None:
                raise UnknownChannelError(f"channel {old_ref} has no profile")
            life = _life(row)
            there = conn.execute(_one(*new).with_for_update()).first()
            if there is not None:
                _check_no_history(conn, new_ref, old_ref)
                conn.execute(channels.delete().where(channels.c.id == there.id))
                life = _life(there)
            elif row.state == REMOVED and row.state_by == BY_CONFIG:
                life = {"origin": CHAT, "state": ACTIVE, "state_by": None}
            conn.execute(
                update(channels)
                .where(channels.c.id == row.id)
                .values(
                    platform=new[0],
                    channel_id=new[1],
                    updated_at=next_stamp(row.updated_at, now),
                    state_at=now,
                    **life,
                )
            )
            for table in HISTORY:
                conn.execute(
                    update(table).where(table.c.channel == old_ref).values(channel=new_ref)
                )
            moved = conn.execute(_one(*new)).first()
            assert moved is not None
            return _to_entry(moved)

        return self._write(f"channel {old_ref}", action)

    # --- one person's own profile (issue 19: personal alerts by direct message) ----------

    def person(self, platform: str, user_id: str) -> ChannelEntry | None:
        """The person's own profile with its state, or None when they have none. Never a
        channel's: a channel row with that id (impossible on Slack and Discord, whose user
        and channel ids differ) is not a person."""
        entry = self.entry(platform, user_id)
        return entry if entry is not None and entry.person else None

    def ensure_person(
        self, platform: str, user_id: str, *, home: str, now: datetime
    ) -> ChannelEntry:
        """The person's profile, created with the defaults on first use (origin chat, kind
        person). `home` (the ref of the channel they typed in) is remembered, and updated
        when they manage it from another channel: where they are told when their DMs fail.
        ValueError when `user_id` already names a channel."""
        _check_ref(platform, user_id)

        def action(conn: Connection) -> ChannelEntry:
            row = conn.execute(_one(platform, user_id).with_for_update()).first()
            if row is None:
                values = {**DEFAULTS, "origin": CHAT, "kind": PERSON, "home": home}
                _insert(conn, platform, user_id, values, created_at=now, updated_at=now)
            elif row.kind != PERSON:
                raise ValueError(f"{platform}:{user_id} is a channel, not a person")
            elif row.home != home:
                _guarded_update(conn, row, {"home": home}, now)
            done = conn.execute(_one(platform, user_id)).first()
            assert done is not None
            return _to_entry(done)

        return self._write(f"personal profile {platform}:{user_id}", action)

    def set_channel_posts(self, platform: str, user_id: str, on: bool, *, now: datetime) -> bool:
        """Whether the person also gets by DM what their home channel posted that day;
        False if it already was so."""

        def change(current: Values) -> Values | None:
            if bool(current["include_channel_posts"]) == on:
                return None
            return {"include_channel_posts": on}

        return self._edit(platform, user_id, change, now)

    def refuse_dm(self, platform: str, user_id: str, reason: str, *, now: datetime) -> bool:
        """Pause an active person whose direct messages the platform refused (left the
        workspace, blocks DMs), saying why (`state_reason`); they are told once
        (`mark_notified`). False when they were not active (already paused: nothing
        changes, so a refusal is never recorded twice). `resume` brings them back."""

        def change(current: Values) -> Values | None:
            if current["state"] != ACTIVE or current["kind"] != PERSON:
                return None
            return {
                "state": PAUSED,
                "state_by": BY_DELIVERY,
                "state_at": now,
                "state_reason": reason,
                "notified_at": None,
            }

        return self._edit(platform, user_id, change, now)

    def mark_notified(self, platform: str, user_id: str, *, now: datetime) -> bool:
        """Record that the person was told why they were paused. True only for the one
        call that recorded it (two front-ends telling at once: one says it)."""

        def change(current: Values) -> Values | None:
            if current["notified_at"] is not None or current["state_by"] != BY_DELIVERY:
                return None
            return {"notified_at": now}

        return self._edit(platform, user_id, change, now)


# What a channel's history is made of, each keyed by its ref (`platform:channel_id`).
HISTORY = (posted, digest_runs, feedback)


def _life(row: Row[Any]) -> Values:
    return {"origin": row.origin, "state": row.state, "state_by": row.state_by}


def _check_no_history(conn: Connection, ref: str, moving: str) -> None:
    for table in HISTORY:
        found = conn.execute(select(table.c.id).where(table.c.channel == ref).limit(1)).first()
        if found is not None:
            raise ChannelStateError(
                f"{ref} already has {table.name.replace('_', ' ')} of its own; moving "
                f"{moving} onto it would mix two histories"
            )
