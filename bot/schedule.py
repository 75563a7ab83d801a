"""When digests are due: cron schedules in each channel's time zone. Pure functions of
(schedule, zone, now) — the service passes its clock, tests pass theirs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from bot.models import Profile

MISFIRE_GRACE = timedelta(hours=1)
_TICK = timedelta(microseconds=1)


def trigger_for(profile: Profile) -> CronTrigger:
    """The profile's schedule as an APScheduler trigger in the profile's time zone."""
    return CronTrigger.from_crontab(profile.schedule, timezone=ZoneInfo(profile.timezone))


def fire_times(profile: Profile, start: datetime, end: datetime) -> list[datetime]:
    """The schedule's fire times in [start, end], in UTC, each local wall-clock time once:
    when a DST change repeats an hour, only its first occurrence counts."""
    trigger = trigger_for(profile)
    out: list[datetime] = []
    seen: set[datetime] = set()
    fire: datetime | None = trigger.get_next_fire_time(None, start)
    while fire is not None and fire <= end:
        key = claim_time(fire, profile)
        if key not in seen:
            seen.add(key)
            out.append(key)
        # `now` in UTC: aware datetimes sharing a zone compare ignoring `fold`, so stepping
        # from the repeated 01:30 in local time would return it forever.
        after = fire.astimezone(UTC) + _TICK
        nxt: datetime | None = trigger.get_next_fire_time(fire, after)
        if nxt is not None and nxt < after:
            break
        fire = nxt
    return out


def claim_time(fire: datetime, profile: Profile) -> datetime:
    """The UTC instant that names a scheduled run: the first instant with the fire time's
    local wall-clock reading. A firing repeated by a DST fall-back names the same run, so
    its claim refuses the second one."""
    zone = ZoneInfo(profile.timezone)
    wall = fire.astimezone(zone).replace(tzinfo=None)
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def latest_due(
    profile: Profile, now: datetime, grace: timedelta = MISFIRE_GRACE
) -> datetime | None:
    """The scheduled run a firing at `now` stands for: the latest fire time within the
    misfire grace before `now` (UTC), or None."""
    times = fire_times(profile, now - grace, now)
    return times[-1] if times else None


def missed_today(profile: Profile, now: datetime) -> datetime | None:
    """For catch-up at start: today's (local) latest fire time that has passed, or None.
    Its claim decides whether it already ran."""
    zone = ZoneInfo(profile.timezone)
    local_midnight = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    times = fire_times(profile, local_midnight.astimezone(UTC), now)
    return times[-1] if times else None
