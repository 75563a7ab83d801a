"""What a channel follows (`list`) and what its next digest would post (`digest`, a
dry run only the caller sees)."""

from __future__ import annotations

from bot.models import Profile
from bot.schedule import next_fire
from bot.store import aio
from bot.store.profile_rules import format_duration
from handlers.common import now, paper_count, when
from handlers.reply import CommandRequest, PaperLine, Reply
from handlers.services import Services
from handlers.spec import CHANNEL_POSTS, ME, Command, CommandSpec


async def list_command(command: Command, request: CommandRequest, services: Services) -> Reply:
    def read() -> tuple[Profile | None, str | None]:
        profile = services.profiles.get(request.platform, request.channel_id)
        if profile is None:
            return None, None
        run = services.runs.last_complete(profile.ref)
        if run is None:
            return profile, None
        return profile, f"{when(run.started_at, profile)} ({paper_count(run.posted)})"

    profile, last = await aio.run(read)
    if profile is None or not (profile.topics or profile.authors):
        return Reply(
            "This channel follows no topics yet.",
            ("Start with /papers subscribe <topic>, e.g. /papers subscribe mixture of experts",),
        )
    upcoming = next_fire(profile, now(services))  # the service's own reading of the schedule
    lines = [
        "Topics: " + ", ".join(profile.topics) if profile.topics else "Topics: (none)",
        "Excluded: " + (", ".join(profile.exclude) if profile.exclude else "(nothing)"),
    ]
    if profile.authors:
        lines.append("Authors: " + ", ".join(profile.authors))
    cap = str(profile.max_posts) if profile.max_posts else "no cap"
    lines.append(
        f"Schedule: {profile.schedule} ({profile.timezone}), up to {cap} papers, "
        f"looking back {format_duration(profile.lookback)} on the first digest"
    )
    if upcoming is not None:
        lines.append(f"Next digest: {when(upcoming, profile)}")
    lines.append(f"Last digest: {last}" if last else "Last digest: none yet")
    return Reply(f"What this channel follows ({len(profile.topics)} topics)", tuple(lines))


async def digest(command: Command, request: CommandRequest, services: Services) -> Reply:
    profile = await aio.run(services.profiles.get, request.platform, request.channel_id)
    if profile is None or not (profile.topics or profile.authors):
        return Reply(
            "This channel follows no topics, so its digest would be empty.",
            ("/papers subscribe <topic> to follow one.",),
        )
    outcomes = await services.digests.run([profile], dry_run=True)
    planned = outcomes[0].digest if outcomes else None
    if planned is None or not planned.items:
        return Reply(
            "The next digest would post nothing yet: no new paper matches this channel's topics.",
            ("/papers search <words> finds older papers.",),
        )
    lines = []
    if planned.more:
        lines.append(f"…and {planned.more} more beyond the cap of {profile.max_posts} papers.")
    papers = tuple(
        PaperLine(
            item.paper,
            item.summary,
            detail=f"score {item.score:.2f} · {', '.join(item.topics)}",
        )
        for item in planned.items
    )
    n = len(papers)
    return Reply(
        f"The next digest would post {paper_count(n)} (preview, only you see it)",
        tuple(lines),
        papers,
        public=False,
    )


LIST = CommandSpec(
    "list",
    list_command,
    summary="This channel's topics, exclusions, schedule",
    usage="list",
    help="list — this channel's topics, exclusions, schedule and last digest",
    options=(ME, CHANNEL_POSTS),
)
DIGEST = CommandSpec(
    "digest",
    digest,
    summary="Preview this channel's next digest (only you see it)",
    usage="digest",
    help="digest — preview the next digest (only you see it)",
)
