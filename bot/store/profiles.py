"""Channel interest profiles in the database: seeded from the config, then edited from chat.

Which wins, the config file or chat? The most recent change, wherever it was made:

- A channel that is not in the database yet is created from the config.
- For a channel already there, the database remembers (`seeded`) the values the config had
  when it was last applied. A config field whose value now differs from that was edited by
  the operator, so it is applied to the database. Fields the operator did not touch keep
  their database value, so topics changed from chat survive restarts. Lists (topics,
  exclude, authors) are compared as whole lists.
- A channel in the database but no longer in the config is kept (it may have been created
  from chat) and reported.
- A channel first created from chat counts as seeded with the defaults: when the operator
  later adds it to the config, the fields the config sets to non-default values are applied.

Every write is a read-modify-write inside one transaction that holds the write lock before
reading (SQLite `BEGIN IMMEDIATE`; on PostgreSQL a transaction-scoped advisory lock, so that
replicas seeding the same new channels at start take turns, and `SELECT … FOR UPDATE`).
The update is also guarded by the `updated_at` it read, which every write moves strictly
forward, and is retried when it lost a race, so two processes editing one channel never
lose an update.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Connection, Engine, Row, Select, func, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot import schedule as schedule_rules
from bot.errors import ConfigError, PaperboyError, StoreError
from bot.models import PLATFORMS, Profile, collapse_ws
from bot.pipeline.text import visible_text
from bot.store.schema import channels

MAX_TOPIC_CHARS = 200
MAX_TOPICS = 50  # per list: topics, and exclusions
ATTEMPTS = 5
PROFILES_LOCK = 0x70617067  # PostgreSQL advisory lock of profile writes
Values = dict[str, Any]
T = TypeVar("T")


class UnknownChannelError(PaperboyError, LookupError):
    """The channel has no profile (create one with `ProfileStore.ensure`)."""


class _Conflict(Exception):
    """A concurrent writer changed the row between our read and our write."""


@dataclass(frozen=True, slots=True)
class SeedReport:
    """What `ProfileStore.seed` did, by channel ref (`platform:channel_id`)."""

    created: tuple[str, ...] = ()
    updated: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (ref, fields taken from config)
    unchanged: tuple[str, ...] = ()
    not_in_config: tuple[str, ...] = ()  # kept in the database

    def summary(self) -> str:
        parts = [f"{len(self.created)} created"]
        edits = "; ".join(f"{ref}: {', '.join(fields)}" for ref, fields in self.updated)
        parts.append(f"{len(self.updated)} updated" + (f" ({edits})" if edits else ""))
        parts.append(f"{len(self.unchanged)} unchanged")
        text = "channel profiles: " + ", ".join(parts)
        if self.not_in_config:
            text += f"; kept, not in the config: {', '.join(self.not_in_config)}"
        return text


class SeedMerge(NamedTuple):
    values: Values  # the profile to store
    seeded: Values  # the config values now applied
    changed: tuple[str, ...]  # fields whose stored value the config changed


def profile_values(p: Profile) -> Values:
    """A profile as its `channels` column values (lists as lists, lookback in seconds)."""
    return {
        "name": p.name,
        "topics": list(p.topics),
        "exclude": list(p.exclude),
        "authors": list(p.authors),
        "max_posts": p.max_posts,
        "schedule": p.schedule,
        "timezone": p.timezone,
        "lookback_seconds": int(p.lookback.total_seconds()),
        "post_empty": p.post_empty,
    }


DEFAULTS = profile_values(Profile(platform="", channel_id=""))
FIELDS = tuple(DEFAULTS)  # the profile columns, in Profile's order


def merge_seed(
    db_values: Mapping[str, Any], seeded: Mapping[str, Any] | None, config: Mapping[str, Any]
) -> SeedMerge:
    """Apply the config to a stored profile: a field the operator edited (its config value
    differs from `seeded`, the config value last applied; the default when never seeded)
    takes the config value, every other field keeps the database value."""
    baseline = {**DEFAULTS, **(seeded or {})}
    values = {f: db_values[f] for f in FIELDS}
    changed = []
    for f in FIELDS:
        if config[f] != baseline[f] and config[f] != values[f]:
            values[f] = config[f]
            changed.append(f)
    return SeedMerge(values, {f: config[f] for f in FIELDS}, tuple(changed))


def topic_key(text: str) -> str:
    """What makes two topics the same: case, spacing and hidden characters (bidi controls,
    zero-width characters: `visible_text`) do not count."""
    return collapse_ws(visible_text(text)).casefold()


def clean_topic(text: str, *, what: str = "topic") -> str:
    """`text` as it reads (`visible_text`), whitespace-collapsed; ValueError when empty or
    over MAX_TOPIC_CHARS."""
    topic = collapse_ws(visible_text(text))
    if not topic:
        raise ValueError(f"a {what} must not be empty")
    if len(topic) > MAX_TOPIC_CHARS:
        raise ValueError(
            f"a {what} can be at most {MAX_TOPIC_CHARS} characters long (got {len(topic)})"
        )
    return topic


def with_item(items: Sequence[str], item: str, *, what: str = "topic") -> list[str] | None:
    """`items` plus `item` as typed (cleaned), or None when it is already there (ignoring
    case and spacing). ValueError on a bad item or when the list already has MAX_TOPICS."""
    new = clean_topic(item, what=what)
    if topic_key(new) in {topic_key(i) for i in items}:
        return None
    if len(items) >= MAX_TOPICS:
        raise ValueError(f"a channel can have at most {MAX_TOPICS} {what}s; remove one first")
    return [*items, new]


def without_item(items: Sequence[str], item: str) -> list[str] | None:
    """`items` without `item` (ignoring case and spacing), or None when it is not there."""
    key = topic_key(item)
    kept = [i for i in items if topic_key(i) != key]
    return kept if len(kept) < len(items) else None


def check_schedule(schedule: str, timezone: str) -> tuple[str, str]:
    """A 5-field crontab schedule and its zone, cleaned (bot.schedule.check_schedule: the
    one reading of schedules, for the configuration and for chat); ValueError saying what
    is wrong."""
    return schedule_rules.check_schedule(schedule, timezone)


def config_values(ch: Profile) -> Values:
    """A configured channel's profile (bot.settings.ChannelSettings.profile) as column
    values; ConfigError naming the channel on a topic or exclusion over a limit or an
    invalid schedule. Case-insensitive duplicates in a list are dropped (the first spelling
    is kept)."""

    def checked(items: Sequence[str], what: str) -> list[str]:
        out: list[str] = []
        for item in items:
            out = with_item(out, item, what=what) or out
        return out

    try:
        topics, exclude = checked(ch.topics, "topic"), checked(ch.exclude, "exclusion")
        schedule, _ = check_schedule(ch.schedule, ch.timezone)
    except ValueError as e:
        raise ConfigError(f"channel {ch.ref}: {e}") from None
    profile = replace(ch, topics=tuple(topics), exclude=tuple(exclude), schedule=schedule)
    return profile_values(profile)


Ref = tuple[str, str]  # (platform, channel_id)


class SeedWrite(NamedTuple):
    """One write of a seed: insert `values` (row None), or update the row's `values`
    columns; either way `seeded` becomes the config values applied."""

    ref: Ref
    row: Row[Any] | None
    values: Values
    seeded: Values


@dataclass(frozen=True, slots=True)
class SeedPlan:
    """What seeding makes of the stored profiles: the effective `profiles` (ordered by
    platform then channel id, as `ProfileStore.all`), the `report`, and the `writes`."""

    profiles: tuple[Profile, ...]
    report: SeedReport
    writes: tuple[SeedWrite, ...] = ()


def plan_seed(stored: Mapping[Ref, Row[Any]], wanted: Mapping[Ref, Values]) -> SeedPlan:
    """The outcome of applying `wanted` (config values by channel) to the `stored` rows by
    the rule in this module's docstring. Pure: `seed` performs the writes, `preview` only
    shows the profiles."""
    effective = {ref: _to_profile(row) for ref, row in stored.items()}
    created, updated, unchanged, writes = [], [], [], []
    for ref, config in wanted.items():
        name, row = f"{ref[0]}:{ref[1]}", stored.get(ref)
        if row is None:
            values = config
            writes.append(SeedWrite(ref, None, config, config))
            created.append(name)
        else:
            merged = merge_seed(dict(row._mapping), row.seeded, config)
            values = merged.values
            if merged.changed or merged.seeded != row.seeded:
                changed = {f: merged.values[f] for f in merged.changed}
                writes.append(SeedWrite(ref, row, changed, merged.seeded))
            if merged.changed:
                updated.append((name, merged.changed))
            else:
                unchanged.append(name)
        effective[ref] = _values_profile(*ref, values)
    stale = tuple(f"{p}:{c}" for p, c in sorted(stored) if (p, c) not in wanted)
    report = SeedReport(tuple(created), tuple(updated), tuple(unchanged), stale)
    profiles = tuple(effective[ref] for ref in sorted(effective))
    return SeedPlan(profiles, report, tuple(writes))


def _wanted(configured: Sequence[Profile]) -> dict[Ref, Values]:
    return {(c.platform, c.channel_id): config_values(c) for c in configured}


def _rows(result: Iterable[Row[Any]]) -> dict[Ref, Row[Any]]:
    return {(r.platform, r.channel_id): r for r in result}


def next_stamp(previous: datetime, now: datetime) -> datetime:
    """The `updated_at` of a write: `now`, but always after `previous`, so that every
    write changes it and the optimistic check sees writes made within one clock tick."""
    return max(now, previous + timedelta(microseconds=1))


def _to_profile(row: Row[Any]) -> Profile:
    m = row._mapping
    return _values_profile(m["platform"], m["channel_id"], m)


def _values_profile(platform: str, channel_id: str, m: Mapping[Any, Any]) -> Profile:
    return Profile(
        platform=platform,
        channel_id=channel_id,
        name=m["name"],
        topics=tuple(m["topics"]),
        exclude=tuple(m["exclude"]),
        authors=tuple(m["authors"]),
        max_posts=m["max_posts"],
        schedule=m["schedule"],
        timezone=m["timezone"],
        lookback=timedelta(seconds=m["lookback_seconds"]),
        post_empty=bool(m["post_empty"]),
    )


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
        rule in this module's docstring, atomically.

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


def format_duration(value: timedelta) -> str:
    """`1d`, `12h`, `90m` or `45s`: the largest unit that divides the duration exactly."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def format_profile(p: Profile, *, next_digest: str | None = None) -> str:
    """A multi-line, human-readable description of a profile (`paperboy channels`), with
    when its next digest is posted when given."""

    def listed(items: Sequence[str]) -> str:
        return ", ".join(items) if items else "(none)"

    rows = [
        ("topics", listed(p.topics)),
        ("exclude", listed(p.exclude)),
        ("authors", listed(p.authors)),
        ("max posts", str(p.max_posts) if p.max_posts else "no cap"),
        ("schedule", f"{p.schedule} ({p.timezone})"),
        ("lookback", format_duration(p.lookback)),
        ("post empty", "yes" if p.post_empty else "no"),
    ]
    if next_digest is not None:
        rows.insert(5, ("next digest", next_digest))
    width = max(len(label) for label, _ in rows) + 1
    head = f"{p.ref} ({p.name})" if p.name else p.ref
    return "\n".join([head, *(f"  {label + ':':<{width}} {value}" for label, value in rows)])
