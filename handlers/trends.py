"""`/papers trends [topic]`: the trend chart of this channel's topics (or of any one topic)
over the last eight weeks, answered to the caller only, with the trend in words.

The chart is the weekly digest's (bot.pipeline.trends, bot.pipeline.render.chart): papers
per day of each topic by the digest's relevance, in the channel's time zone (UTC for a
channel without a profile), "this week" the 7 days ending today. A topic given needs no
subscription: any topic can be charted; the channel's exclusions apply only to its own
topics' chart.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.models import Attachment, Profile
from bot.pipeline.match import Matcher
from bot.pipeline.render.chart import render_chart
from bot.pipeline.render.common import clean
from bot.pipeline.repairs import prefill
from bot.pipeline.trends import WEEKS, Trends, count_channels, describe, first_counted, trends_for
from bot.pipeline.weekly import by_days
from bot.store import aio
from bot.store.profile_rules import MAX_TOPIC_CHARS
from handlers.common import error, now, quoted
from handlers.reply import CommandRequest, Reply
from handlers.services import Services
from handlers.spec import Command, CommandSpec, Option

EXAMPLE = "mixture of experts"
MARGIN = timedelta(days=2)  # papers stored this much before the first counted day are read


def _topic(command: Command) -> Command | Reply:
    """The optional topic: none (the channel's topics), or a few words with letters or
    digits, at most MAX_TOPIC_CHARS."""
    arg = clean(command.arg)
    if len(arg) > MAX_TOPIC_CHARS:
        return error(
            f"That topic is {len(arg):,} characters long; give a few words, at most "
            f"{MAX_TOPIC_CHARS}, e.g. /papers trends {EXAMPLE}",
        )
    if arg and not any(ch.isalnum() for ch in arg):
        return error(
            "A topic needs words, not only punctuation: e.g. /papers trends "
            f"{EXAMPLE}, or /papers trends alone for this channel's topics."
        )
    return Command(command.name, arg, command.share, command.limit)


def chart_of(
    services: Services, profile: Profile | None, topic: str | None, at: datetime
) -> tuple[Trends, Attachment]:
    """The trends and chart of `topic` (or of the profile's topics, less its exclusions)
    over the WEEKS weeks ending on the local day of `at`, counted a day of papers at a
    time as the weekly digest counts them (bot.weekly). Blocking: in a worker thread."""
    zone = profile.timezone if profile is not None else "UTC"
    end = at.astimezone(ZoneInfo(zone)).date()
    start = datetime.combine(first_counted(end), time(), tzinfo=UTC) - MARGIN
    papers = services.archive.since(start, at)
    lexicon = services.lexicon()
    if topic or profile is None:
        charted = Profile(platform="chat", channel_id="trends", timezone=zone)
        charted = replace(charted, topics=(topic,) if topic else ())
    else:
        charted = profile
    prefill([*charted.topics, *charted.exclude], lexicon)
    counter = count_channels((Matcher(chunk, lexicon) for chunk in by_days(papers)), [charted], end)
    trends = trends_for(counter, charted, end)
    return trends, render_chart(trends)


async def trends(command: Command, request: CommandRequest, services: Services) -> Reply:
    """The chart of this channel's topics, or of the topic given, to the caller."""
    topic = command.arg or None
    profile = await aio.run(services.profiles.get, request.platform, request.channel_id)
    if topic is None and (profile is None or not profile.topics):
        return Reply(
            "This channel follows no topics yet, so there is no trend to chart.",
            (
                f"Follow one with /papers subscribe <topic>, e.g. /papers subscribe {EXAMPLE}, "
                f"or chart any topic with /papers trends <topic>.",
            ),
        )
    found, chart = await aio.run(chart_of, services, profile, topic, now(services))
    what = quoted(topic) if topic else "this channel's topics"
    private = "" if command.share else " (only you see this)"
    return Reply(
        f"Papers per day on {what}, last {WEEKS} weeks{private}",
        (describe(found),),
        files=(chart,),
        public=command.share,
    )


SPEC = CommandSpec(
    "trends",
    trends,
    summary="Chart of this channel's topics (or one topic) over 8 weeks",
    usage="trends [topic]",
    help="trends [topic] — papers per day on this channel's topics (or any topic), 8 weeks",
    options=(
        Option(
            "topic",
            "Any topic (default: this channel's topics), e.g. mixture of experts",
            required=False,
            suggest="archive",
        ),
    ),
    check=_topic,
)
