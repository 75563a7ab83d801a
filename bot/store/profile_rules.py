"""The rules for a channel profile's values, pure: its stored form (`profile_values`, the
`channels` columns, and back), the topic and exclusion lists as edited from chat or the
config (`clean_topic`, `topic_key`, `with_item`, `without_item`: spelling kept, case and
spacing ignored, at most MAX_TOPICS of MAX_TOPIC_CHARS), the schedule check, and how a
profile is shown (`format_profile`, `format_duration`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row

from bot import schedule as schedule_rules
from bot.models import PERSON_PREFIX, Profile, collapse_ws
from bot.pipeline.text import visible_text

# A channel's lifecycle (the `channels` columns origin, state, state_by; the rules that move
# it are in bot.store.seeding and bot.store.profiles).
CONFIG, CHAT = "config", "chat"  # origin: listed in the configuration, or created from chat
ACTIVE, PAUSED, REMOVED = "active", "paused", "removed"  # state: only active gets digests
BY_CONFIG, BY_HAND = "config", "hand"  # state_by: left the configuration, or chat / shell
ORIGIN_LABELS = {CONFIG: "configuration", CHAT: "chat"}
CHANNEL, PERSON = "channel", "person"  # kind: a channel, or one person's own profile (DMs)
# state_by of a person paused by the bot: their direct messages were refused (`state_reason`)
BY_DELIVERY = "delivery"
PERSON_REF = PERSON_PREFIX  # a person's ref: user:<platform>:<user id> (Profile.ref)

MAX_TOPIC_CHARS = 200
MAX_TOPICS = 50  # per list: topics, and exclusions
Values = dict[str, Any]


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
        "weekly": p.weekly,
    }


DEFAULTS = profile_values(Profile(platform="", channel_id=""))
FIELDS = tuple(DEFAULTS)  # the profile columns, in Profile's order


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


@dataclass(frozen=True, slots=True)
class ChannelEntry:
    """A channel as `paperboy channels` lists it: its effective profile, where it came from
    (`origin`: CONFIG or CHAT), its `state` (ACTIVE, PAUSED, REMOVED), who set that state
    (`state_by`: BY_CONFIG when it left the configuration, BY_HAND from chat or the shell;
    None for a channel that was always active) and when (`state_at`)."""

    profile: Profile
    origin: str = CONFIG
    state: str = ACTIVE
    state_by: str | None = None
    state_at: datetime | None = None
    reason: str | None = None  # why the bot paused it (a person's DMs refused)
    notified_at: datetime | None = None  # when the person was told so

    @property
    def ref(self) -> str:
        return self.profile.ref

    @property
    def person(self) -> bool:
        """One person's own profile, delivered by direct message."""
        return self.profile.person

    @property
    def active(self) -> bool:
        """Whether the channel gets digests (scheduled or `paperboy digest`)."""
        return self.state == ACTIVE

    def describe(self) -> str:
        """`configuration, active`, `chat, paused`, `configuration, removed from the
        configuration`: origin and state in words."""
        state = self.state
        if state == REMOVED:
            state = "removed from the configuration" if self.state_by == BY_CONFIG else "removed"
        if state == PAUSED and self.state_by == BY_DELIVERY and self.reason:
            state = f"paused: {self.reason}"
        return f"{ORIGIN_LABELS.get(self.origin, self.origin)}, {state}"


def _to_entry(row: Row[Any], profile: Profile | None = None) -> ChannelEntry:
    """A `channels` row as a ChannelEntry (with `profile` instead of the row's when given)."""
    m = row._mapping
    return ChannelEntry(
        profile=profile if profile is not None else _to_profile(row),
        origin=m["origin"],
        state=m["state"],
        state_by=m["state_by"],
        state_at=m["state_at"],
        reason=m.get("state_reason"),
        notified_at=m.get("notified_at"),
    )


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
        weekly=m.get("weekly"),
        person=m.get("kind") == PERSON,
        home=m.get("home"),
        include_channel_posts=bool(m.get("include_channel_posts") or False),
    )


def format_duration(value: timedelta) -> str:
    """`1d`, `12h`, `90m` or `45s`: the largest unit that divides the duration exactly."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def format_profile(p: Profile, *, next_digest: str | None = None, state: str | None = None) -> str:
    """A multi-line, human-readable description of a profile (`paperboy channels`), with
    when its next digest is posted and its origin and state (ChannelEntry.describe) when
    given."""

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
    if p.weekly:
        rows.append(("weekly", f"{p.weekly} ({p.timezone})"))
    if p.person:
        rows.append(("home", p.home or "(none)"))
        rows.append(("channel posts", "included" if p.include_channel_posts else "left out"))
    if next_digest is not None:
        rows.insert(5, ("next digest", next_digest))
    width = max(len(label) for label, _ in rows) + 1
    head = f"{p.ref} ({p.name})" if p.name else p.ref
    if state is not None:
        head += f" — {state}"
    return "\n".join([head, *(f"  {label + ':':<{width}} {value}" for label, value in rows)])


def split_ref(ref: str) -> tuple[str, str]:
    """(platform, channel or user id) of a ref: `slack:C1` and a person's `user:slack:U1`
    (Profile.ref) alike."""
    platform, _, rest = ref.removeprefix(PERSON_REF).partition(":")
    return platform, rest


def is_person_ref(ref: str) -> bool:
    """Whether `ref` names a person's own profile (`user:<platform>:<user id>`)."""
    return ref.startswith(PERSON_REF)
