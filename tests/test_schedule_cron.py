"""Digest schedules follow standard crontab, in the channel's zone (issue 14, item 13):
weekday numbers (0 and 7 are Sunday), a schedule that never fires refused with why, a firing
in a DST gap moved forward, zone names matched case-insensitively, and `paperboy channels`
showing each channel's next digest."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bot.app import App, build_app
from bot.cli import cli
from bot.errors import ConfigError
from bot.models import Profile
from bot.schedule import check_schedule, fire_times, next_fire
from bot.settings import ChannelSettings, CommandSettings, Settings
from bot.store.seeding import config_values
from handlers.commands import dispatch
from handlers.reply import CommandRequest
from handlers.services import Services

MONDAY = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def profile(schedule: str, timezone: str = "UTC") -> Profile:
    return Profile(platform="console", channel_id="c", schedule=schedule, timezone=timezone)


def weekdays_fired(schedule: str, weeks: int = 2) -> list[str]:
    """The crontab weekday names (sun..sat) of the schedule's firings in `weeks` weeks."""
    times = fire_times(profile(schedule), MONDAY, MONDAY + timedelta(weeks=weeks) - _TICK)
    return [DAYS[t.isoweekday() % 7] for t in times]


_TICK = timedelta(microseconds=1)


# --- weekdays as crontab counts them -----------------------------------------------------


@pytest.mark.parametrize(
    ("dow", "days"),
    [
        ("1-5", ["mon", "tue", "wed", "thu", "fri"]),
        ("mon-fri", ["mon", "tue", "wed", "thu", "fri"]),
        ("0", ["sun"]),
        ("7", ["sun"]),
        ("sun", ["sun"]),
        ("0,6", ["sat", "sun"]),
        ("6-7", ["sat", "sun"]),
        ("sat-sun", ["sat", "sun"]),
        ("*/2", ["tue", "thu", "sat", "sun"]),  # 0, 2, 4, 6
        ("1-5/2", ["mon", "wed", "fri"]),
        ("MON,wed,Fri", ["mon", "wed", "fri"]),
        ("1,1-2,mon", ["mon", "tue"]),
        ("*", ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]),
    ],
)
def test_weekdays_follow_standard_crontab(dow: str, days: list[str]) -> None:
    assert weekdays_fired(f"0 9 * * {dow}", weeks=1) == days


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 7), st.integers(0, 7))
def test_weekday_ranges_match_the_calendar(a: int, b: int) -> None:
    if a > b:
        a, b = b, a
    expected = {d % 7 for d in range(a, b + 1)}
    fired = {DAYS.index(d) for d in weekdays_fired(f"0 9 * * {a}-{b}", weeks=1)}
    assert fired == expected


@pytest.mark.parametrize(
    ("schedule", "says"),
    [
        ("0 9 * * 8", "weekday"),
        ("0 9 * * 5-1", "range"),
        ("0 9 * * fri-mon", "range"),
        ("0 9 * * funday", "weekday"),
        ("0 9 * * */0", "step"),
        ("30 2 31 2 *", "never"),
        ("0 0 31 4,6,9,11 *", "never"),
        ("0 9 30 feb *", "never"),
        ("0 25 * * *", "hour"),
        ("0 9 * *", "five"),
        ("0 9 L * *", "day"),
    ],
)
def test_bad_schedules_are_refused_with_why(schedule: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        check_schedule(schedule, "UTC")
    with pytest.raises(ConfigError, match=f"console:c: .*{says}"):  # a configured channel
        config_values(ChannelSettings(platform="console", id="c", schedule=schedule).profile())


def test_a_schedule_that_fires_rarely_is_accepted() -> None:
    assert check_schedule("0 0 29 2 *", "UTC") == ("0 0 29 2 *", "UTC")
    fire = next_fire(profile("0 0 29 2 *"), datetime(2097, 3, 1, tzinfo=UTC))
    assert fire == datetime(2104, 2, 29, tzinfo=UTC)  # 2100 is no leap year


def test_day_of_month_or_weekday_as_crontab() -> None:
    """Both restricted: either matches (crontab), not both (APScheduler's own reading)."""
    times = fire_times(profile("0 9 1 * mon"), MONDAY, MONDAY + timedelta(days=15))
    assert [t.date() for t in times] == [
        date(2026, 11, 23),
        date(2026, 11, 30),
        date(2026, 12, 1),
        date(2026, 12, 7),
    ]


# --- DST ---------------------------------------------------------------------------------


def test_midnight_in_santiago_on_its_spring_forward_day_fires_late_not_never() -> None:
    """2026-09-06 00:00 does not exist in America/Santiago (clocks go to 01:00)."""
    p = profile("0 0 * * *", "America/Santiago")
    start = datetime(2026, 9, 5, 12, tzinfo=UTC)
    times = fire_times(p, start, start + timedelta(days=2))
    local = [t.astimezone(ZoneInfo("America/Santiago")) for t in times]
    assert [(t.date(), t.hour, t.minute) for t in local] == [
        (date(2026, 9, 6), 1, 0),  # moved forward by the gap
        (date(2026, 9, 7), 0, 0),
    ]
    assert next_fire(p, start) == datetime(2026, 9, 6, 4, tzinfo=UTC)


def test_berlin_0230_on_its_spring_forward_day_fires_late() -> None:
    p = profile("30 2 * * *", "Europe/Berlin")
    start = datetime(2026, 3, 28, 12, tzinfo=UTC)
    assert fire_times(p, start, start + timedelta(days=1)) == [
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 CEST
    ]


def test_every_quarter_hour_through_a_gap_fires_in_order_and_once() -> None:
    p = profile("*/15 * * * *", "Europe/Berlin")
    start = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # 01:30 CET
    times = fire_times(p, start, start + timedelta(hours=2))
    assert times == sorted(set(times))
    assert times[0] == start and times[-1] == start + timedelta(hours=2)


# --- time zones --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "zone"),
    [("europe/berlin", "Europe/Berlin"), ("utc", "UTC"), ("AMERICA/SANTIAGO", "America/Santiago")],
)
def test_zone_names_match_case_insensitively(typed: str, zone: str) -> None:
    assert check_schedule("0 9 * * *", typed) == ("0 9 * * *", zone)
    assert ChannelSettings(platform="console", id="c", timezone=typed).timezone == zone


@pytest.mark.parametrize(
    "typed",
    [
        "localtime",
        "Factory",
        "posixrules",
        "right/Europe/Berlin",
        "posix/Europe/Berlin",
        "Mars/Olympus",
        "../etc/passwd",
        "",
    ],
)
def test_zones_that_are_not_a_place_are_refused(typed: str) -> None:
    with pytest.raises(ValueError, match="time zone"):
        check_schedule("0 9 * * *", typed)
    with pytest.raises(ValidationError, match="time zone"):
        ChannelSettings(platform="console", id="c", timezone=typed)


# --- the same rules from chat and in `paperboy channels` --------------------------------

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)  # a Saturday


class Clock:
    def __call__(self) -> datetime:
        return NOW


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    app: App = build_app(
        Settings(database=str(tmp_path / "p.db"), commands=CommandSettings(per_minute=0)),
        clock=Clock(),
    )
    yield app.services()
    app.close()


def req(text: str) -> CommandRequest:
    return CommandRequest(
        platform="slack",
        channel_id="C0CRON",
        user_id="U1",
        text=text,
        can_manage=True,
        manage_rule="admins",
        channel_name="papers",
    )


async def test_chat_schedule_counts_weekdays_as_crontab(services: Services) -> None:
    reply = await dispatch(req("schedule 0 9 * * 1-5 europe/berlin"), services)
    assert not reply.error, reply
    assert "Next digest: Mon 23 Nov 09:00 Europe/Berlin" in reply.lines
    reply = await dispatch(req("schedule 0 9 * * 7"), services)
    assert not reply.error, reply
    assert "Next digest: Sun 22 Nov 09:00 Europe/Berlin" in reply.lines


async def test_chat_refuses_a_schedule_that_never_fires(services: Services) -> None:
    reply = await dispatch(req("schedule 30 2 31 2 *"), services)
    assert reply.error and "never" in reply.title


def test_channels_lists_each_channels_next_digest(tmp_path: Path) -> None:
    config = tmp_path / "paperboy.yaml"
    config.write_text(
        f"database: {tmp_path / 'p.db'}\n"
        "channels:\n"
        "  - {platform: console, id: berlin, topics: [moe], schedule: '0 9 * * 1-5',"
        " timezone: europe/berlin}\n"
        "  - {platform: console, id: sunday, topics: [moe], schedule: '30 7 * * 0'}\n"
    )
    result = CliRunner().invoke(cli, ["--config", str(config), "channels"])
    assert result.exit_code == 0, result.output
    shown = re.findall(r"next digest:\s+(\w{3}) \d{1,2} \w{3} (\d\d:\d\d) (\S+)", result.output)
    assert len(shown) == 2, result.output
    berlin, sunday = shown
    assert berlin[0] in ("Mon", "Tue", "Wed", "Thu", "Fri") and berlin[1:] == (
        "09:00",
        "Europe/Berlin",
    )
    assert sunday == ("Sun", "07:30", "UTC")


# --- the next firing near DST changes, against a brute-force reading -------------------

DST_ZONES = ["Europe/Berlin", "America/Santiago", "America/New_York", "Australia/Lord_Howe"]
CHANGES = [  # instants near which these zones change their clocks in 2026
    datetime(2026, 3, 29, 1, tzinfo=UTC),
    datetime(2026, 4, 5, 3, tzinfo=UTC),
    datetime(2026, 9, 6, 4, tzinfo=UTC),
    datetime(2026, 10, 4, 15, 30, tzinfo=UTC),
    datetime(2026, 10, 25, 1, tzinfo=UTC),
    datetime(2026, 3, 8, 7, tzinfo=UTC),
    datetime(2026, 11, 1, 6, tzinfo=UTC),
]


def brute_next(schedule: str, zone: str, start: datetime) -> datetime:
    """The first instant at or after `start` of any local reading the (minute, hour)
    schedule names, each reading at its every occurrence, a reading in a gap with the
    offset before the gap: every minute of three local days looked at."""
    tz = ZoneInfo(zone)
    minute, hour = schedule.split()[:2]
    minutes = set(range(0, 60, 15)) if minute == "*/15" else {int(minute)}
    hours = set(range(24)) if hour == "*" else {int(hour)}
    wall = start.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0) - timedelta(days=1)
    found = []
    for i in range(3 * 24 * 60):
        w = wall + timedelta(minutes=i)
        if w.minute in minutes and w.hour in hours:
            first = w.replace(tzinfo=tz, fold=0).astimezone(UTC)
            if first.astimezone(tz).replace(tzinfo=None) != w:
                found.append(first)  # in a gap
            else:
                found += [first, w.replace(tzinfo=tz, fold=1).astimezone(UTC)]
    return min(t for t in found if t >= start)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(DST_ZONES),
    st.sampled_from(CHANGES),
    st.integers(-180, 180),
    st.sampled_from(["*/15 * * * *", "0 0 * * *", "30 2 * * *", "30 1 * * *", "45 * * * *"]),
)
def test_next_firing_near_dst_changes_matches_brute_force(
    zone: str, change: datetime, minutes: int, schedule: str
) -> None:
    start = change + timedelta(minutes=minutes, seconds=7)
    assert next_fire(profile(schedule, zone), start) == brute_next(schedule, zone, start)
