"""When digests are due: cron schedules in each channel's time zone. Pure functions of
(schedule, zone, now) — the service passes its clock, tests pass theirs.

Schedules are standard crontab (`man 5 crontab`), from the configuration and from chat
alike: weekday 0 and 7 are Sunday (APScheduler's own `from_crontab` counts 0 as Monday);
when both day of month and weekday are restricted, either one matching fires. A schedule
runs on the wall clock of its zone: a local time a DST change skips (02:30 in Berlin on the
spring-forward day, midnight in America/Santiago) fires moved forward by the gap, a
repeated one fires once (its first occurrence)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

from bot.models import Profile

MISFIRE_GRACE = timedelta(hours=1)
_TICK = timedelta(microseconds=1)
# Crontab weekday numbers: 0 and 7 are Sunday. APScheduler's names, Monday first.
CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_APS_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NUMERIC_FIELD = re.compile(r"[0-9*,/-]+")
_MONTH_FIELD = re.compile(r"(?:[0-9*,/-]|[A-Za-z]{3})+")
# Zone names that are not a place: the host's own setting, tzdata's placeholder and
# template, and the leap-second and POSIX copies of the database.
_NOT_PLACES = ("localtime", "factory", "posixrules")
_NOT_PLACE_PREFIXES = ("right/", "posix/")
# Every combination of weekday and date recurs within the 400-year Gregorian cycle.
_NEVER_HORIZON_YEARS = 401
_SEARCH_FROM = datetime(2001, 1, 1, tzinfo=UTC)
# Wall-clock candidates looked at per next-fire search (a repeated hour or a DST gap of a
# schedule firing every minute needs 60).
_MAX_CANDIDATES = 5000


@dataclass(frozen=True, slots=True)
class Cron:
    """A standard 5-field crontab schedule, its weekday field in APScheduler's terms."""

    minute: str
    hour: str
    day: str
    month: str
    weekday: str  # standard crontab, as typed
    aps_weekday: str  # APScheduler's day_of_week: day names, or "*"

    def triggers(self, **extra: object) -> list[CronTrigger]:
        """The schedule on a wall clock (UTC stands for the local wall clock): one trigger,
        or, with day and weekday both restricted, one for each (crontab fires when either
        matches)."""
        base = {"minute": self.minute, "hour": self.hour, "month": self.month, **extra}
        if not self.day.startswith("*") and not self.weekday.startswith("*"):
            return [
                CronTrigger(day=self.day, timezone=UTC, **base),
                CronTrigger(day_of_week=self.aps_weekday, timezone=UTC, **base),
            ]
        return [CronTrigger(day=self.day, day_of_week=self.aps_weekday, timezone=UTC, **base)]


def _weekday_number(token: str) -> int:
    if token.isdigit() and len(token) <= 2 and int(token) <= 7:
        return int(token)
    if token.casefold() in CRON_DAYS:
        return CRON_DAYS.index(token.casefold())
    raise ValueError(
        f"weekday {token!r} is not one: use 0-7 (0 and 7 are Sunday) or sun, mon, ... sat"
    )


def crontab_weekdays(field: str) -> str:
    """A standard crontab weekday field (0 and 7 Sunday; names; ranges, lists, steps) as
    APScheduler's `day_of_week` (day names): `1-5` -> `mon,tue,wed,thu,fri`. ValueError
    saying what is wrong."""
    if field == "*":
        return "*"
    days: set[int] = set()
    for item in field.split(","):
        body, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or not 1 <= int(step_text) <= 7:
                raise ValueError(f"weekday step in {item!r} must be a number from 1 to 7")
            step = int(step_text)
        if body == "*":
            first, last = 0, 6
        elif "-" in body:
            a, b = body.split("-", 1)
            first, last = _weekday_number(a), _weekday_number(b)
            if last == 0 and first > 0:
                last = 7  # `sat-sun`: Sunday ends a week
            if first > last:
                raise ValueError(
                    f"weekday range {body!r} runs backwards: write it forwards or as a list "
                    "(e.g. fri-sat,sun)"
                )
        else:
            first = _weekday_number(body)
            last = 6 if slash else first
        days.update(d % 7 for d in range(first, last + 1, step))
    return ",".join(name for name in _APS_DAYS if CRON_DAYS.index(name) in days)


def parse_cron(schedule: str) -> Cron:
    """`schedule` as standard crontab; ValueError saying what is wrong."""
    fields = schedule.split()
    if len(fields) != 5:
        raise ValueError(
            f"a schedule has five fields (minute hour day month weekday), not {len(fields)}"
        )
    minute, hour, day, month, weekday = fields
    for name, value, shape in (
        ("minute", minute, _NUMERIC_FIELD),
        ("hour", hour, _NUMERIC_FIELD),
        ("day", day, _NUMERIC_FIELD),
        ("month", month, _MONTH_FIELD),
    ):
        if not shape.fullmatch(value):
            raise ValueError(
                f"the {name} field {value!r} is not crontab: use numbers, *, ranges (1-5), "
                "lists (1,15) and steps (*/2)"
            )
        try:
            CronTrigger(**{name: value}, timezone=UTC)
        except ValueError as e:
            raise ValueError(f"the {name} field {value!r}: {e}") from e
    return Cron(minute, hour, day, month, weekday, crontab_weekdays(weekday))


@lru_cache(maxsize=1)
def _zones() -> dict[str, str]:
    return {name.casefold(): name for name in sorted(available_timezones())}


def canonical_zone(name: str) -> str:
    """The IANA zone `name` names, matched case-insensitively (`europe/berlin` ->
    `Europe/Berlin`, `utc` -> `UTC`). ValueError for an unknown name and for names that
    are not a place: `localtime`, `Factory`, `posixrules`, `right/...`, `posix/...`."""
    key = name.strip().casefold()
    zone = _zones().get(key)
    if zone is None or key in _NOT_PLACES or key.startswith(_NOT_PLACE_PREFIXES):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name like Europe/Berlin)")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError(f"unknown time zone {name!r} (use an IANA name like Europe/Berlin)") from e
    return zone


def never_fires(cron: Cron) -> bool:
    """Whether the schedule has no firing at all (`30 2 31 2 *`: February has no 31st): a
    bounded search over one 400-year Gregorian cycle, where every date and weekday recurs."""
    end = _SEARCH_FROM.replace(year=_SEARCH_FROM.year + _NEVER_HORIZON_YEARS)
    return all(
        t.get_next_fire_time(None, _SEARCH_FROM) is None
        for t in cron.triggers(start_date=_SEARCH_FROM, end_date=end)
    )


def check_schedule(schedule: str, timezone: str) -> tuple[str, str]:
    """A standard crontab schedule (whitespace collapsed) and its zone (canonical IANA
    name), for the configuration and for chat alike; ValueError saying what is wrong: not
    crontab, a weekday out of range, a schedule that never fires, an unknown zone."""
    zone = canonical_zone(timezone)
    cron_text = " ".join(schedule.split())
    try:
        cron = parse_cron(cron_text)
    except ValueError as e:
        raise ValueError(f"invalid schedule {cron_text!r}: {e} (e.g. '0 9 * * mon-fri')") from e
    if never_fires(cron):
        raise ValueError(
            f"schedule {cron_text!r} never fires: no month has that day "
            "(e.g. February has no 30th or 31st)"
        )
    return cron_text, zone


def _wall(moment: datetime, zone: ZoneInfo) -> datetime:
    """The local wall-clock reading of `moment`, as a UTC datetime (the wall clock's domain)."""
    return moment.astimezone(zone).replace(tzinfo=UTC)


def _instants(wall: datetime, zone: ZoneInfo) -> list[datetime]:
    """The instants (UTC) a wall-clock reading happens at: one; both occurrences of a
    reading a DST change repeats; for a reading in a DST gap, the reading with the offset
    before the gap (moved forward by the gap: 02:30 in Berlin is 03:30 CEST)."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _wall(first, zone) != wall:
        return [first]  # in a gap
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return [first] if second == first else [first, second]


class LocalCronTrigger(BaseTrigger):  # type: ignore[misc]
    """A crontab schedule on the wall clock of `zone` (see the module's docstring)."""

    def __init__(self, schedule: str, timezone: str) -> None:
        self.schedule = schedule
        self.timezone = ZoneInfo(timezone)
        triggers = parse_cron(schedule).triggers()
        self._wall: BaseTrigger = triggers[0] if len(triggers) == 1 else OrTrigger(triggers)

    def __str__(self) -> str:  # APScheduler's description of the wall-clock trigger(s)
        return f"{self._wall} in {self.timezone.key}"

    def __repr__(self) -> str:
        return f"<LocalCronTrigger {self.schedule!r} {self.timezone.key!r}>"

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        start = now
        if previous_fire_time is not None:  # as APScheduler's own triggers read it
            start = min(now, previous_fire_time + _TICK)
        return self.next_at_or_after(start)

    def next_at_or_after(self, start: datetime) -> datetime | None:
        """The first firing at or after `start` (UTC). Near a DST change, wall-clock
        readings and instants are not in the same order (a reading in a gap fires after
        the gap; a repeated reading fires at both occurrences, its claim refusing the
        second): readings within the change's size of `start`'s are all looked at."""
        zone, start = self.timezone, start.astimezone(UTC)
        offsets = [
            (start + timedelta(days=d)).astimezone(zone).utcoffset() or timedelta()
            for d in (-2, 0, 2)
        ]
        span = max(offsets) - min(offsets)  # 0 but within two days of a change
        wall: datetime | None = self._wall.get_next_fire_time(None, _wall(start, zone) - span)
        best: tuple[datetime, datetime] | None = None  # (instant, its reading)
        for _ in range(_MAX_CANDIDATES):
            if wall is None or (best is not None and wall > best[1] + span):
                break  # readings beyond fire later than the best one
            for fire in _instants(wall, zone):
                if fire >= start and (best is None or fire < best[0]):
                    best = (fire, wall)
            wall = self._wall.get_next_fire_time(wall, wall + _TICK)
        return best[0] if best else None


def trigger_for(profile: Profile) -> LocalCronTrigger:
    """The profile's schedule as an APScheduler trigger on its zone's wall clock."""
    return LocalCronTrigger(profile.schedule, profile.timezone)


def next_fire(profile: Profile, now: datetime) -> datetime | None:
    """The profile's next digest at or after `now` (UTC), or None."""
    return trigger_for(profile).next_at_or_after(now)


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


# --- the weekly digest's schedule (issue 19) -----------------------------------------------

WEEKLY_EXAMPLE = "fri 16:00"
MAX_WEEKLY_CHARS = 100  # longer is no schedule (and is not echoed back in the error)
_WEEKLY_SHORTHAND = re.compile(r"([A-Za-z]+)\s+([0-9]{1,2}):([0-9]{2})")
_DAY_NAMES = {
    **{name: name for name in CRON_DAYS},
    "monday": "mon",
    "tuesday": "tue",
    "wednesday": "wed",
    "thursday": "thu",
    "friday": "fri",
    "saturday": "sat",
    "sunday": "sun",
    "tues": "tue",
    "thur": "thu",
    "thurs": "thu",
}


def weekly_cron(text: str) -> str:
    """The 5-field crontab of a weekly digest's schedule as typed: the shorthand
    `<weekday> HH:MM` (`fri 16:00`, `Friday 9:30`: a weekday's name, full or its first
    three letters, any case, and a 24-hour time) becomes `0 16 * * fri`; anything else is
    read as crontab, whitespace collapsed. Pure; ValueError saying what to type for a
    shorthand that is not one (an unknown day, 25:00) or a text over MAX_WEEKLY_CHARS.
    The crontab itself is checked by `check_weekly`."""
    collapsed = " ".join(text.split())
    if len(collapsed) > MAX_WEEKLY_CHARS:
        raise ValueError(
            f"a weekly schedule is a weekday and a time like {WEEKLY_EXAMPLE!r} or five cron "
            f"fields like '0 16 * * fri', not {len(collapsed)} characters"
        )
    shorthand = _WEEKLY_SHORTHAND.fullmatch(collapsed)
    if shorthand is None:
        return collapsed
    day_text, hour_text, minute_text = shorthand.groups()
    day = _DAY_NAMES.get(day_text.casefold())
    if day is None:
        raise ValueError(
            f"weekly schedule {collapsed!r}: {day_text!r} is not a weekday: use mon, tue, "
            f"wed, thu, fri, sat or sun (e.g. {WEEKLY_EXAMPLE!r})"
        )
    hour, minute = int(hour_text), int(minute_text)
    if hour > 23 or minute > 59:
        raise ValueError(
            f"weekly schedule {collapsed!r}: {hour_text}:{minute_text} is not a time of "
            f"day: use 24-hour HH:MM from 00:00 to 23:59 (e.g. {WEEKLY_EXAMPLE!r})"
        )
    return f"{minute} {hour} * * {day}"


def check_weekly(text: str, timezone: str) -> tuple[str, str]:
    """A weekly digest's schedule (`weekly_cron`: the shorthand `fri 16:00` or a 5-field
    crontab) as crontab, and its zone's canonical name, checked as every schedule is
    (`check_schedule`). ValueError saying what was wrong and what to type."""
    cron = weekly_cron(text)  # a bad shorthand says what to type already
    try:
        checked = check_schedule(cron, timezone)
    except ValueError as e:
        raise ValueError(
            f"{e}; for a weekly digest, write a weekday and a time like {WEEKLY_EXAMPLE!r} "
            "(or five cron fields like '0 16 * * fri')"
        ) from e
    if not once_a_week(parse_cron(checked[0])):
        raise ValueError(
            f"weekly schedule {checked[0]!r} can fire more than once a week: a weekly digest "
            f"comes once, on one weekday at one time: write it like {WEEKLY_EXAMPLE!r} (or "
            "five cron fields with one minute, one hour, * for day and month and one "
            "weekday, like '0 16 * * fri')"
        )
    return checked


def once_a_week(cron: Cron) -> bool:
    """Whether `cron` fires at most once a week: a single minute and hour, any day of the
    month and month (`*`), exactly one weekday. (A weekly run fired again the same week
    finds its week posted, after counting and drawing it all again.)"""
    return (
        cron.minute.isdigit()
        and cron.hour.isdigit()
        and cron.day == "*"
        and cron.month == "*"
        and cron.aps_weekday in _APS_DAYS
    )


def weekly_trigger(profile: Profile) -> LocalCronTrigger:
    """The profile's weekly digest schedule (`Profile.weekly`, crontab) as a trigger on its
    zone's wall clock. ValueError for a profile without one."""
    if not profile.weekly:
        raise ValueError(f"{profile.ref} has no weekly digest")
    return LocalCronTrigger(profile.weekly, profile.timezone)


def weekly_profile(profile: Profile) -> Profile:
    """`profile` with its weekly schedule in place of its daily one, so the schedule rules
    above (`fire_times`, `latest_due`, `claim_time`) read the weekly digest's times.
    ValueError for a profile without one."""
    if not profile.weekly:
        raise ValueError(f"{profile.ref} has no weekly digest")
    return replace(profile, schedule=profile.weekly)


def weekly_missed(profile: Profile, now: datetime, grace: timedelta) -> datetime | None:
    """For catch-up at start: the latest weekly run of `profile` (`Profile.weekly`) that
    passed within `grace` before `now`, or None (its claim decides whether it already
    ran)."""
    times = fire_times(weekly_profile(profile), now - grace, now)
    return times[-1] if times else None
