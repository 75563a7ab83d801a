"""`/papers weekly <when> | off`: when this channel's weekly digest (the week's top papers
and the trend chart, docs/weekly.md) is posted, in the channel's time zone, or no weekly
digest. `<when>` is a weekday and a 24-hour time (`fri 16:00`) or five cron fields, read
by bot.schedule.check_weekly as the configuration's `weekly` is."""

from __future__ import annotations

from dataclasses import replace

from bot.models import Profile
from bot.pipeline.render.common import clean
from bot.schedule import MAX_WEEKLY_CHARS, WEEKLY_EXAMPLE, weekly_trigger
from bot.store import aio
from handlers.common import ensure_profile, error, now, when
from handlers.reply import CommandRequest, Reply
from handlers.services import Services
from handlers.spec import Command, CommandSpec, Option

OFF = "off"
USAGE = f"/papers weekly {WEEKLY_EXAMPLE} (a weekday and a time), or /papers weekly off"


def _when(command: Command) -> Command | Reply:
    """A schedule, or `off`: given, and short enough to be one."""
    arg = clean(command.arg)
    if not arg:
        return error(f"When should the weekly digest come? e.g. {USAGE}")
    if len(arg) > MAX_WEEKLY_CHARS:
        return error(f"That is {len(arg):,} characters, no schedule. e.g. {USAGE}")
    return replace(command, arg=arg)


async def weekly(command: Command, request: CommandRequest, services: Services) -> Reply:
    """Set or clear this channel's weekly digest."""
    wanted = None if command.arg.casefold() == OFF else command.arg

    def change() -> tuple[bool, Profile]:
        ensure_profile(request, services)
        changed = services.profiles.set_weekly(
            request.platform, request.channel_id, wanted, now=now(services)
        )
        profile = services.profiles.get(request.platform, request.channel_id)
        assert profile is not None  # ensured above
        return changed, profile

    try:
        changed, profile = await aio.run(change)
    except ValueError as e:
        return error(f"That weekly schedule can't be used: {e}.", f"For example: {USAGE}")
    if profile.weekly is None:
        verb = "no longer gets a" if changed else "gets no"
        return Reply(f"This channel {verb} weekly digest.", (f"Turn it on: {USAGE}",))
    upcoming = weekly_trigger(profile).next_at_or_after(now(services))
    lines = [f"Next weekly digest: {when(upcoming, profile)}"] if upcoming else []
    if not (profile.topics or profile.authors):
        lines.append("It follows no topics yet: /papers subscribe <topic> to follow one.")
    verb = "now comes" if changed else "already comes"
    return Reply(
        f"This channel's weekly digest {verb} on “{profile.weekly}” ({profile.timezone}).",
        tuple(lines),
    )


SPEC = CommandSpec(
    "weekly",
    weekly,
    summary="When this channel's weekly digest with its trend chart is posted",
    usage="weekly <day HH:MM | cron | off>",
    help="weekly <day HH:MM> / weekly off — a weekly digest with a trend chart (fri 16:00)",
    options=(Option("when", f"A weekday and a time, e.g. {WEEKLY_EXAMPLE}; or cron; or off"),),
    permission="manage",
    check=_when,
)
