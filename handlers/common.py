"""What the /papers command modules share: error replies, quoting, paper lines, arguments."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.models import Paper, Profile
from bot.pipeline.render.common import clean, cut, format_day
from bot.pipeline.summarize import summarize
from bot.store.profile_rules import MAX_TOPIC_CHARS
from handlers.reply import CommandRequest, PaperLine, Reply
from handlers.services import Services
from handlers.spec import Check, Command

MAX_QUERY_SHOWN = 80
# A whole argument that reads as an option (`--me`, `—share`): never a topic or a term.
OPTION_LIKE = re.compile(r"(?:--|—|–)[^\W\d_][\w-]*")
MAX_QUERY_CHARS = 500


def error(text: str, *lines: str) -> Reply:
    return Reply(text, tuple(lines), error=True)


def quoted(text: str) -> str:
    return f"“{cut(clean(text), MAX_QUERY_SHOWN)}”"


def paper_count(n: int) -> str:
    """`n` paper(s), for a reply: "1 paper", "3 papers"."""
    return f"{n} paper{'s' if n != 1 else ''}"


def now(services: Services) -> datetime:
    return services.clock()


def paper_line(paper: Paper, services: Services, posted: dict[str, datetime]) -> PaperLine:
    when = posted.get(paper.key)
    return PaperLine(
        paper=paper,
        summary=summarize(paper, max_chars=services.summary_chars),
        posted_on=when.date() if when else None,
    )


def when(moment: datetime, profile: Profile) -> str:
    local = moment.astimezone(ZoneInfo(profile.timezone))
    return f"{format_day(local.date())} {local:%H:%M} {profile.timezone}"


def ensure_profile(request: CommandRequest, services: Services) -> Profile:
    return services.profiles.ensure(
        request.platform, request.channel_id, name=request.channel_name, now=now(services)
    )


def argument(what: str, example: str) -> Check:
    """A check for a topic-like argument: given, and not longer than a topic may be."""

    def check(command: Command) -> Command | Reply:
        arg = clean(command.arg)
        me = " --me" if command.me else ""
        if not arg:
            return error(f"Which {what}? e.g. /papers {command.name} {example}{me}")
        if OPTION_LIKE.fullmatch(arg):  # typed as a Discord option: `--me` is no topic
            return error(
                f"{arg} is an option, not a {what}: type the {what} before it, "
                f"e.g. /papers {command.name} {example} --me"
            )
        if len(arg) > MAX_TOPIC_CHARS:
            return error(
                f"That {what} is {len(arg):,} characters long; keep it under "
                f"{MAX_TOPIC_CHARS}, a few words like “{example}”."
            )
        return replace(command, arg=arg)

    return check
