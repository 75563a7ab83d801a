"""Changing what a channel follows: subscribe (with a preview), unsubscribe, exclude,
include and schedule. Only those who may manage the channel run them (spec permission)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

from rapidfuzz import fuzz, process

from bot.models import Profile
from bot.pipeline.match import Matcher, topics_profile
from bot.pipeline.render.common import clean, cut
from bot.schedule import next_fire
from bot.store import aio
from bot.store.profile_rules import topic_key
from handlers.common import (
    MAX_QUERY_SHOWN,
    argument,
    ensure_profile,
    error,
    now,
    paper_count,
    paper_line,
    quoted,
    when,
)
from handlers.reply import CommandRequest, Reply
from handlers.services import Services
from handlers.spec import ME, Command, CommandSpec, Option
from handlers.suggest import SUGGESTION_SIMILARITY

PREVIEW_DAYS = 7
PREVIEW_SHOWN = 3
SCHEDULE_EXAMPLE = "/papers schedule 0 9 * * mon-fri Europe/Berlin"


async def subscribe(command: Command, request: CommandRequest, services: Services) -> Reply:
    topic = command.arg

    def change() -> tuple[bool, Profile]:
        ensure_profile(request, services)
        added = services.profiles.add_topic(
            request.platform, request.channel_id, topic, now=now(services)
        )
        return added, _stored(request, services)

    try:
        added, profile = await aio.run(change)
    except ValueError as e:
        return error(f"Could not follow {quoted(topic)}: {e}.")
    preview = await aio.run(_preview, topic, profile, services)
    verb = "now follows" if added else "already follows"
    return Reply(f"This channel {verb} {quoted(topic)}.", preview.lines, preview.papers)


def _stored(request: CommandRequest, services: Services) -> Profile:
    """The channel's profile as stored, just after a change that ensured it exists."""
    profile = services.profiles.get(request.platform, request.channel_id)
    assert profile is not None
    return profile


def _preview(topic: str, profile: Profile, services: Services) -> Reply:
    """What `topic` would have matched over the last PREVIEW_DAYS days (with the channel's
    exclusions), and how the topic was understood."""
    moment = now(services)
    papers = services.archive.since(moment - timedelta(days=PREVIEW_DAYS), moment)
    matcher = Matcher(papers, services.lexicon())
    matches = matcher.match(topics_profile([topic], profile.exclude))
    notes = matcher.concept(topic).notes
    if not matches:
        lines = (
            *notes,
            f"It matched no paper of the last {PREVIEW_DAYS} days. "
            f"/papers search {cut(topic, MAX_QUERY_SHOWN)} shows older ones.",
        )
        return Reply("", lines)
    n = len(matches)
    shown = min(n, PREVIEW_SHOWN)
    lines = (
        *notes,
        f"In the last {PREVIEW_DAYS} days it would have matched {paper_count(n)}; the top {shown}:",
    )
    posted = services.ledger.posted(profile.ref, [m.paper.key for m in matches[:shown]])
    return Reply("", lines, tuple(paper_line(m.paper, services, posted) for m in matches[:shown]))


def _closest(wanted: str, choices: Sequence[str]) -> str | None:
    found = process.extractOne(
        topic_key(wanted),
        {c: topic_key(c) for c in choices},
        scorer=fuzz.WRatio,
        score_cutoff=SUGGESTION_SIMILARITY,
    )
    return str(found[2]) if found else None


async def unsubscribe(command: Command, request: CommandRequest, services: Services) -> Reply:
    return await _remove(command, request, services, field="topics")


async def include(command: Command, request: CommandRequest, services: Services) -> Reply:
    return await _remove(command, request, services, field="exclude")


async def _remove(
    command: Command, request: CommandRequest, services: Services, *, field: str
) -> Reply:
    arg = command.arg

    def change() -> tuple[bool, Profile | None]:
        profile = services.profiles.get(request.platform, request.channel_id)
        items: Sequence[str] = getattr(profile, field) if profile else ()
        if topic_key(arg) not in {topic_key(i) for i in items}:
            return False, profile
        remove = (
            services.profiles.remove_topic
            if field == "topics"
            else services.profiles.remove_exclude
        )
        return remove(request.platform, request.channel_id, arg, now=now(services)), profile

    removed, profile = await aio.run(change)
    if removed:
        if field == "topics":
            return Reply(f"This channel no longer follows {quoted(arg)}.")
        return Reply(f"Papers about {quoted(arg)} are no longer hidden here.")
    items: tuple[str, ...] = getattr(profile, field) if profile else ()
    if not items:
        none = "follows no topics" if field == "topics" else "excludes nothing"
        return error(f"This channel {none}, so there is nothing to remove.")
    verb = "follow" if field == "topics" else "exclude"
    missing = f"This channel doesn't {verb} {quoted(arg)}."
    suggestion = _closest(arg, items)
    if suggestion is not None:
        return error(
            missing, f"Did you mean {quoted(suggestion)}? /papers {command.name} {suggestion}"
        )
    return error(missing, f"It {verb}s: " + ", ".join(items))


async def exclude(command: Command, request: CommandRequest, services: Services) -> Reply:
    term = command.arg

    def change() -> bool:
        ensure_profile(request, services)
        return services.profiles.add_exclude(
            request.platform, request.channel_id, term, now=now(services)
        )

    try:
        added = await aio.run(change)
    except ValueError as e:
        return error(f"Could not exclude {quoted(term)}: {e}.")
    if not added:
        return Reply(f"Papers about {quoted(term)} are already hidden here.")
    return Reply(
        f"Papers about {quoted(term)} will no longer be posted here.",
        (f"/papers include {cut(term, MAX_QUERY_SHOWN)} shows them again.",),
    )


def _cron(command: Command) -> Command | Reply:
    """`schedule <5 cron fields> [IANA zone]`: five or six words."""
    parts = clean(command.arg).split()
    if len(parts) not in (5, 6):
        return error(
            "Give five cron fields (minute hour day month weekday) and optionally a time "
            f"zone, e.g. {SCHEDULE_EXAMPLE}"
        )
    return replace(command, arg=" ".join(parts))


async def schedule(command: Command, request: CommandRequest, services: Services) -> Reply:
    """When this channel's digest is posted."""
    parts = command.arg.split()

    def change() -> tuple[bool, Profile]:
        current = ensure_profile(request, services)
        zone = parts[5] if len(parts) == 6 else current.timezone
        changed = services.profiles.set_schedule(
            request.platform, request.channel_id, " ".join(parts[:5]), zone, now=now(services)
        )
        return changed, _stored(request, services)

    try:
        changed, profile = await aio.run(change)
    except ValueError as e:
        return error(f"That schedule can't be used: {e}.", f"For example: {SCHEDULE_EXAMPLE}")
    upcoming = next_fire(profile, now(services))  # the service's own reading of the schedule
    lines = (f"Next digest: {when(upcoming, profile)}",) if upcoming else ()
    verb = "now posts" if changed else "already posts"
    return Reply(
        f"This channel's digest {verb} on “{profile.schedule}” ({profile.timezone}).", lines
    )


_TOPIC = "Free text, as you would say it: moe, multi-task learning"
SPECS = (
    CommandSpec(
        "subscribe",
        subscribe,
        summary="Follow a topic in this channel (with a preview)",
        usage="subscribe <topic>",
        help="subscribe <topic> — follow a topic here, with a preview of what it matches",
        options=(Option("topic", _TOPIC, suggest="archive"), ME),
        permission="manage",
        check=argument("topic", "mixture of experts"),
    ),
    CommandSpec(
        "unsubscribe",
        unsubscribe,
        summary="Stop following a topic in this channel",
        usage="unsubscribe <topic>",
        help="unsubscribe <topic> — stop following a topic",
        options=(Option("topic", "One of this channel's topics", suggest="channel"), ME),
        permission="manage",
        check=argument("topic", "mixture of experts"),
    ),
)
EXCLUSIONS = (
    CommandSpec(
        "exclude",
        exclude,
        summary="Hide papers about a term in this channel",
        usage="exclude <term>",
        help="exclude <term> / include <term> — hide papers about a term, or show them again",
        options=(Option("term", "e.g. survey"), ME),
        permission="manage",
        check=argument("term", "survey"),
    ),
    CommandSpec(
        "include",
        include,
        summary="Show papers about an excluded term again",
        usage="include <term>",
        help=None,  # exclude's help line covers it
        options=(Option("term", "One of this channel's exclusions"), ME),
        permission="manage",
        check=argument("exclusion", "survey"),
    ),
)
SCHEDULE = CommandSpec(
    "schedule",
    schedule,
    summary="When this channel's digest is posted",
    usage="schedule <cron> [time zone]",
    help="schedule <cron> [time zone] — when the digest is posted (0 9 * * mon-fri UTC)",
    options=(
        Option("cron", "Five cron fields: minute hour day month weekday, e.g. 0 9 * * mon-fri"),
        Option(
            "timezone",
            "An IANA time zone, e.g. Europe/Berlin (default: the channel's current one)",
            required=False,
        ),
        ME,
    ),
    permission="manage",
    check=_cron,
)
