"""The rules for a channel profile's values, pure: its stored form (`profile_values`, the
`channels` columns, and back), the topic and exclusion lists as edited from chat or the
config (`clean_topic`, `topic_key`, `with_item`, `without_item`: spelling kept, case and
spacing ignored, at most MAX_TOPICS of MAX_TOPIC_CHARS), the schedule check, and how a
profile is shown (`format_profile`, `format_duration`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Row

from bot import schedule as schedule_rules
from bot.models import Profile, collapse_ws
from bot.pipeline.text import visible_text

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
