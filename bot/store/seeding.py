"""Seeding the stored profiles from the configuration, pure: what `ProfileStore.seed`
writes and reports (`plan_seed`), and `ProfileStore.preview` shows.

Which wins, the config file or chat? The most recent change, wherever it was made:

- A channel that is not in the database yet is created from the config.
- For a channel already there, the database remembers (`seeded`) the values the config had
  when it was last applied. A config field whose value now differs from that was edited by
  the operator, so it is applied to the database. Fields the operator did not touch keep
  their database value, so topics changed from chat survive restarts. Lists (topics,
  exclude, authors) are compared as whole lists.
- A channel first created from chat counts as seeded with the defaults: when the operator
  later adds it to the config, the fields the config sets to non-default values are applied.

A channel's lifecycle (the `origin`, `state` and `state_by` columns):

- A channel listed in the config has origin "config"; one created from chat (and never
  listed) has origin "chat". A chat channel the operator adds to the config becomes a
  config channel.
- A config channel that is no longer in the config is marked removed (by the config): it
  gets no digests, and its profile, posted ledger and digest runs are kept. Putting it back
  in the config makes it active again (reported as restored); its ledger means nothing it
  already had is posted again.
- A chat channel not in the config is kept as it is: it stays until removed from chat or
  the shell (`ProfileStore.remove`).
- Paused and removed by hand (chat or shell) are the operator's latest word: the config does
  not undo them while it lists the channel. A hand-removed channel that then leaves the
  config counts as removed by the config, so putting it back restores it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from sqlalchemy import Row

from bot.errors import ConfigError
from bot.models import Profile
from bot.store.profile_rules import (
    ACTIVE,
    BY_CONFIG,
    CHAT,
    CONFIG,
    DEFAULTS,
    FIELDS,
    PERSON,
    REMOVED,
    ChannelEntry,
    Values,
    _to_entry,
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
    not_in_config: tuple[str, ...] = ()  # chat channels, kept as they are
    removed: tuple[str, ...] = ()  # config channels that left the config: marked removed
    restored: tuple[str, ...] = ()  # removed ones put back in the config: active again
    held: tuple[str, ...] = ()  # in the config, but paused or removed by hand

    def summary(self) -> str:
        parts = [f"{len(self.created)} created"]
        edits = "; ".join(f"{ref}: {', '.join(fields)}" for ref, fields in self.updated)
        parts.append(f"{len(self.updated)} updated" + (f" ({edits})" if edits else ""))
        parts.append(f"{len(self.unchanged)} unchanged")
        text = "channel profiles: " + ", ".join(parts)
        for label, refs in (
            ("restored, back in the config", self.restored),
            ("removed, no longer in the config (history kept)", self.removed),
            ("paused or removed by hand", self.held),
            ("kept, created from chat", self.not_in_config),
        ):
            if refs:
                text += f"; {label}: {', '.join(refs)}"
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
    columns; `seeded` becomes the config values applied (None: left as it is). A write
    whose values set `state` also stamps `state_at`."""

    ref: Ref
    row: Row[Any] | None
    values: Values
    seeded: Values | None


@dataclass(frozen=True, slots=True)
class SeedPlan:
    """What seeding makes of the stored channels: every channel as it will be (`channels`,
    ordered by platform then channel id, as `ProfileStore.channels`), the `report`, and the
    `writes`."""

    channels: tuple[ChannelEntry, ...]
    report: SeedReport
    writes: tuple[SeedWrite, ...] = ()

    @property
    def profiles(self) -> tuple[Profile, ...]:
        """The effective profiles of the channels that get digests (active), in order, as
        `ProfileStore.all`."""
        return tuple(c.profile for c in self.channels if c.active)


def _lifecycle(row: Row[Any]) -> Values:
    """The lifecycle columns to change on a stored channel the config lists: it is a config
    channel now, and one that had left the config is back (active)."""
    change: Values = {}
    if row.origin != CONFIG:
        change["origin"] = CONFIG
    if row.state == REMOVED and row.state_by == BY_CONFIG:
        change |= {"state": ACTIVE, "state_by": None}
    return change


def _left(row: Row[Any]) -> Values:
    """The lifecycle columns to change on a stored channel the config no longer lists."""
    if row.origin != CONFIG or (row.state == REMOVED and row.state_by == BY_CONFIG):
        return {}
    return {"state": REMOVED, "state_by": BY_CONFIG}


def plan_seed(stored: Mapping[Ref, Row[Any]], wanted: Mapping[Ref, Values]) -> SeedPlan:
    """The outcome of applying `wanted` (config values by channel) to the `stored` rows by
    the rules in this module's docstring. Pure: `seed` performs the writes, `preview` only
    shows the channels."""
    effective = {ref: _to_entry(row) for ref, row in stored.items()}
    created, updated, unchanged, writes = [], [], [], []
    removed, restored, held, kept = [], [], [], []
    for ref, config in wanted.items():
        name, row = f"{ref[0]}:{ref[1]}", stored.get(ref)
        if row is None:
            writes.append(SeedWrite(ref, None, {**config, "origin": CONFIG}, config))
            created.append(name)
            effective[ref] = ChannelEntry(_values_profile(*ref, config))
            continue
        merged = merge_seed(dict(row._mapping), row.seeded, config)
        life = _lifecycle(row)
        if merged.changed or merged.seeded != row.seeded or life:
            changed = {f: merged.values[f] for f in merged.changed}
            writes.append(SeedWrite(ref, row, {**changed, **life}, merged.seeded))
        if merged.changed:
            updated.append((name, merged.changed))
        else:
            unchanged.append(name)
        if life.get("state") == ACTIVE:
            restored.append(name)
        elif row.state != ACTIVE:
            held.append(name)
        entry = _to_entry(row, _values_profile(*ref, merged.values))
        effective[ref] = _with(entry, life)
    for ref in sorted(set(stored) - set(wanted)):
        row, name = stored[ref], f"{ref[0]}:{ref[1]}"
        life = _left(row)
        if life:
            writes.append(SeedWrite(ref, row, life, None))
            if row.state != REMOVED:
                removed.append(name)
            effective[ref] = _with(effective[ref], life)
        elif row.origin == CHAT and row.state != REMOVED and row._mapping.get("kind") != PERSON:
            kept.append(name)  # (a person's own alerts are no channel: not reported)
    report = SeedReport(
        tuple(created),
        tuple(updated),
        tuple(unchanged),
        tuple(kept),
        tuple(removed),
        tuple(restored),
        tuple(held),
    )
    return SeedPlan(tuple(effective[ref] for ref in sorted(effective)), report, tuple(writes))


def _with(entry: ChannelEntry, life: Values) -> ChannelEntry:
    """`entry` with the lifecycle columns `life` changes (its time is the store's)."""
    if not life:
        return entry
    return replace(
        entry,
        origin=life.get("origin", entry.origin),
        state=life.get("state", entry.state),
        state_by=life.get("state_by", entry.state_by),
    )
