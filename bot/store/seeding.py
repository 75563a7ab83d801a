"""Seeding the stored profiles from the configuration, pure: what `ProfileStore.seed`
writes and reports (`plan_seed`), and `ProfileStore.preview` shows.

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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from sqlalchemy import Row

from bot.errors import ConfigError
from bot.models import Profile
from bot.store.profile_rules import (
    DEFAULTS,
    FIELDS,
    Values,
    _to_profile,
    _values_profile,
    check_schedule,
    profile_values,
    with_item,
)


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
