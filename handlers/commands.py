"""The /papers commands, platform-neutral: (request, services) -> Reply.

Each handler reads the stores in a worker thread, decides with the pure pipeline functions,
and answers with a Reply that says what happened — or, for bad input, what was wrong and
what to type instead. No handler raises for anything a user can type.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from rapidfuzz import fuzz, process

from bot.errors import StoreError
from bot.models import Paper, Profile, normalize_title, parse_arxiv_id
from bot.pipeline.evidence import THRESHOLD
from bot.pipeline.match import Matcher, topics_profile
from bot.pipeline.render.common import clean, cut, format_day
from bot.pipeline.summarize import summarize
from bot.schedule import next_fire
from bot.store.profiles import MAX_TOPIC_CHARS, format_duration, topic_key
from handlers.parse import MAX_LIMIT, Command, UsageError, parse_command
from handlers.reply import CommandRequest, PaperLine, Reply
from handlers.services import Services

log = logging.getLogger(__name__)

PREVIEW_DAYS = 7
PREVIEW_SHOWN = 3
MAX_QUERY_SHOWN = 80
MAX_QUERY_CHARS = 500
TITLE_SIMILARITY = 90.0  # `why <title>`: how close a typed title must be to an archived one
SUGGESTION_SIMILARITY = 60.0
MAX_SUGGESTIONS = 25  # Discord's autocomplete limit

Handler = Callable[[Command, CommandRequest, Services], Awaitable[Reply]]

HELP_LINES = (
    "/papers <words> — search the archive (add --more or --top N for more results)",
    "/papers subscribe <topic> — follow a topic here, with a preview of what it matches",
    "/papers unsubscribe <topic> — stop following a topic",
    "/papers list — this channel's topics, exclusions, schedule and last digest",
    "/papers exclude <term> / include <term> — hide papers about a term, or show them again",
    "/papers digest — preview the next digest (only you see it)",
    "/papers schedule <cron> [time zone] — when the digest is posted (0 9 * * mon-fri UTC)",
    "/papers why <arXiv id or title> — why a paper was or was not posted here",
    "Add --share to post an answer to the channel instead of only to you.",
)


async def dispatch(request: CommandRequest, services: Services) -> Reply:
    """Answer one /papers command. Never raises: bad input, refusals, a user over the rate
    limit and store failures become replies that say what happened and what to do."""
    if (slow_down := _rate_limited(request, services)) is not None:
        return slow_down
    try:
        command = parse_command(request.text)
    except UsageError as e:
        return _error(str(e))
    handler = HANDLERS[command.name]
    try:
        reply = await handler(command, request, services)
    except StoreError as e:
        log.warning("/papers %s in %s: %s", command.name, request.channel_ref, e)
        return _error(
            "The paper archive is not reachable right now, so nothing was changed. "
            "Try again in a minute."
        )
    if command.share and not reply.error:
        return Reply(reply.title, reply.lines, reply.papers, reply.footer, public=True)
    return reply


def _rate_limited(request: CommandRequest, services: Services) -> Reply | None:
    """A private "slow down" when this user is over the limit (before anything is read)."""
    limiter = services.limiter
    if limiter is None:
        return None
    wait = limiter.take(f"{request.platform}:{request.user_id}")
    if wait <= 0:
        return None
    seconds = max(1, math.ceil(wait))
    log.info(
        "/papers rate-limited %s:%s in %s for %s s",
        request.platform,
        request.user_id,
        request.channel_ref,
        seconds,
        extra={"event": "ratelimit"},
    )
    return _error(
        f"Slow down: try again in {seconds} s.",
        f"/papers answers each person {limiter.burst} commands in a row, "
        f"then {limiter.per_minute:g} a minute.",
    )


def _error(text: str, *lines: str) -> Reply:
    return Reply(text, tuple(lines), error=True)


def _quoted(text: str) -> str:
    return f"“{cut(clean(text), MAX_QUERY_SHOWN)}”"


def _now(services: Services) -> datetime:
    return services.clock()


def _line(paper: Paper, services: Services, posted: dict[str, datetime]) -> PaperLine:
    when = posted.get(paper.key)
    return PaperLine(
        paper=paper,
        summary=summarize(paper, max_chars=services.summary_chars),
        posted_on=when.date() if when else None,
    )


# --- help and search ----------------------------------------------------------------------


async def help_command(command: Command, request: CommandRequest, services: Services) -> Reply:
    return Reply("Paperboy brings research papers to this channel.", HELP_LINES)


async def search(command: Command, request: CommandRequest, services: Services) -> Reply:
    query = clean(command.arg)
    if not query:
        return _error(
            "Search for what? Give a few words, e.g. /papers mixture of experts",
            "/papers help lists every command.",
        )
    lines: list[str] = []
    result = await asyncio.to_thread(services.search.search, query, limit=command.limit)
    lines += list(result.notes)
    if not result.hits:
        return Reply(
            f"No archived paper matches {_quoted(query)}.",
            (*lines, "Try fewer or more general words, or check the spelling."),
        )
    posted = await asyncio.to_thread(
        services.ledger.posted, request.channel_ref, [h.paper.key for h in result.hits]
    )
    papers = tuple(_line(h.paper, services, posted) for h in result.hits)
    shown = len(papers)
    title = f"Top {shown} papers for {_quoted(query)}"
    if result.total <= shown:
        title = f"{shown} paper{'s' if shown != 1 else ''} for {_quoted(query)}"
    footer = None
    if result.total > shown and command.limit < MAX_LIMIT:
        footer = f"More: /papers search {cut(query, MAX_QUERY_SHOWN)} --top {MAX_LIMIT}"
    return Reply(title, tuple(lines), papers, footer)


# --- profile changes ----------------------------------------------------------------------


def _refusal(request: CommandRequest) -> Reply | None:
    if request.can_manage:
        return None
    rule = request.manage_rule or "you may not change this channel's profile"
    return _error(f"You can't change what this channel follows: {rule}.")


def _profile(request: CommandRequest, services: Services) -> Profile:
    return services.profiles.ensure(
        request.platform, request.channel_id, name=request.channel_name, now=_now(services)
    )


def _argument(command: Command, what: str, example: str) -> str | Reply:
    arg = clean(command.arg)
    if not arg:
        return _error(f"Which {what}? e.g. /papers {command.name} {example}")
    if len(arg) > MAX_TOPIC_CHARS:
        return _error(
            f"That {what} is {len(arg):,} characters long; keep it under {MAX_TOPIC_CHARS}, "
            f"a few words like “{example}”."
        )
    return arg


async def subscribe(command: Command, request: CommandRequest, services: Services) -> Reply:
    topic = _argument(command, "topic", "mixture of experts")
    if isinstance(topic, Reply):
        return topic
    if refused := _refusal(request):
        return refused

    def change() -> tuple[bool, Profile]:
        _profile(request, services)
        added = services.profiles.add_topic(
            request.platform, request.channel_id, topic, now=_now(services)
        )
        profile = services.profiles.get(request.platform, request.channel_id)
        assert profile is not None
        return added, profile

    try:
        added, profile = await asyncio.to_thread(change)
    except ValueError as e:
        return _error(f"Could not follow {_quoted(topic)}: {e}.")
    preview = await asyncio.to_thread(_preview, topic, profile, services)
    if not added:
        return Reply(
            f"This channel already follows {_quoted(topic)}.", preview.lines, preview.papers
        )
    return Reply(f"This channel now follows {_quoted(topic)}.", preview.lines, preview.papers)


def _preview(topic: str, profile: Profile, services: Services) -> Reply:
    """What `topic` would have matched over the last PREVIEW_DAYS days (with the channel's
    exclusions), and how the topic was understood."""
    now = _now(services)
    papers = services.archive.since(now - timedelta(days=PREVIEW_DAYS), now)
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
        f"In the last {PREVIEW_DAYS} days it would have matched {n} paper"
        f"{'s' if n != 1 else ''}; the top {shown}:",
    )
    posted = services.ledger.posted(profile.ref, [m.paper.key for m in matches[:shown]])
    return Reply("", lines, tuple(_line(m.paper, services, posted) for m in matches[:shown]))


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
    what = "topic" if field == "topics" else "exclusion"
    arg = _argument(command, what, "mixture of experts" if field == "topics" else "survey")
    if isinstance(arg, Reply):
        return arg
    if refused := _refusal(request):
        return refused

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
        return remove(request.platform, request.channel_id, arg, now=_now(services)), profile

    removed, profile = await asyncio.to_thread(change)
    if removed:
        if field == "topics":
            return Reply(f"This channel no longer follows {_quoted(arg)}.")
        return Reply(f"Papers about {_quoted(arg)} are no longer hidden here.")
    items: tuple[str, ...] = getattr(profile, field) if profile else ()
    if not items:
        none = "follows no topics" if field == "topics" else "excludes nothing"
        return _error(f"This channel {none}, so there is nothing to remove.")
    listed = "follows" if field == "topics" else "excludes"
    suggestion = _closest(arg, items)
    command_name = "unsubscribe" if field == "topics" else "include"
    if suggestion is not None:
        return _error(
            f"This channel doesn't follow {_quoted(arg)}."
            if field == "topics"
            else f"This channel doesn't exclude {_quoted(arg)}.",
            f"Did you mean {_quoted(suggestion)}? /papers {command_name} {suggestion}",
        )
    return _error(
        f"This channel doesn't {'follow' if field == 'topics' else 'exclude'} {_quoted(arg)}.",
        f"It {listed}: " + ", ".join(items),
    )


async def exclude(command: Command, request: CommandRequest, services: Services) -> Reply:
    term = _argument(command, "term", "survey")
    if isinstance(term, Reply):
        return term
    if refused := _refusal(request):
        return refused

    def change() -> bool:
        _profile(request, services)
        return services.profiles.add_exclude(
            request.platform, request.channel_id, term, now=_now(services)
        )

    try:
        added = await asyncio.to_thread(change)
    except ValueError as e:
        return _error(f"Could not exclude {_quoted(term)}: {e}.")
    if not added:
        return Reply(f"Papers about {_quoted(term)} are already hidden here.")
    return Reply(
        f"Papers about {_quoted(term)} will no longer be posted here.",
        (f"/papers include {cut(term, MAX_QUERY_SHOWN)} shows them again.",),
    )


async def schedule(command: Command, request: CommandRequest, services: Services) -> Reply:
    """`schedule <5 cron fields> [IANA zone]`: when this channel's digest is posted."""
    parts = clean(command.arg).split()
    example = "/papers schedule 0 9 * * mon-fri Europe/Berlin"
    if len(parts) not in (5, 6):
        return _error(
            "Give five cron fields (minute hour day month weekday) and optionally a time "
            f"zone, e.g. {example}"
        )
    if refused := _refusal(request):
        return refused

    def change() -> tuple[bool, Profile]:
        current = _profile(request, services)
        zone = parts[5] if len(parts) == 6 else current.timezone
        changed = services.profiles.set_schedule(
            request.platform, request.channel_id, " ".join(parts[:5]), zone, now=_now(services)
        )
        updated = services.profiles.get(request.platform, request.channel_id)
        assert updated is not None
        return changed, updated

    try:
        changed, profile = await asyncio.to_thread(change)
    except ValueError as e:
        return _error(f"That schedule can't be used: {e}.", f"For example: {example}")
    upcoming = _next_digest(profile, _now(services))
    lines = (f"Next digest: {_when(upcoming, profile)}",) if upcoming else ()
    verb = "now posts" if changed else "already posts"
    return Reply(
        f"This channel's digest {verb} on “{profile.schedule}” ({profile.timezone}).", lines
    )


# --- reading the profile ------------------------------------------------------------------


def _next_digest(profile: Profile, now: datetime) -> datetime | None:
    return next_fire(profile, now)  # the service's own reading of the schedule


def _when(moment: datetime, profile: Profile) -> str:
    local = moment.astimezone(ZoneInfo(profile.timezone))
    return f"{format_day(local.date())} {local:%H:%M} {profile.timezone}"


async def list_command(command: Command, request: CommandRequest, services: Services) -> Reply:
    def read() -> tuple[Profile | None, str | None]:
        profile = services.profiles.get(request.platform, request.channel_id)
        if profile is None:
            return None, None
        run = services.runs.last_complete(profile.ref)
        if run is None:
            return profile, None
        posted = f"{run.posted} paper{'s' if run.posted != 1 else ''}"
        return profile, f"{_when(run.started_at, profile)} ({posted})"

    profile, last = await asyncio.to_thread(read)
    if profile is None or not (profile.topics or profile.authors):
        return Reply(
            "This channel follows no topics yet.",
            ("Start with /papers subscribe <topic>, e.g. /papers subscribe mixture of experts",),
        )
    now = _now(services)
    upcoming = _next_digest(profile, now)
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
        lines.append(f"Next digest: {_when(upcoming, profile)}")
    lines.append(f"Last digest: {last}" if last else "Last digest: none yet")
    return Reply(f"What this channel follows ({len(profile.topics)} topics)", tuple(lines))


async def digest(command: Command, request: CommandRequest, services: Services) -> Reply:
    profile = await asyncio.to_thread(services.profiles.get, request.platform, request.channel_id)
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
        f"The next digest would post {n} paper{'s' if n != 1 else ''} (preview, only you see it)",
        tuple(lines),
        papers,
        public=False,
    )


# --- why ----------------------------------------------------------------------------------


def _find_paper(ref: str, services: Services) -> Paper | None:
    arxiv_id = parse_arxiv_id(ref)
    if arxiv_id is not None:
        return services.archive.get(arxiv_id)
    exact = services.archive.get(normalize_title(ref))
    if exact is not None:
        return exact
    wanted = normalize_title(ref)
    for hit in services.search.search(ref, limit=5).hits:
        if fuzz.ratio(wanted, hit.paper.title_norm) >= TITLE_SIMILARITY:
            return hit.paper
    return None


def _explain(paper: Paper, profile: Profile | None, services: Services) -> list[str]:
    """Why `paper` was or was not posted in the channel of `profile`: the first line says
    "posted here on <date>" exactly when it was."""
    if profile is None or not (profile.topics or profile.authors):
        return ["This channel follows no topics, so nothing is posted here."]
    posted = services.ledger.posted(profile.ref, [paper.key])
    if paper.key in posted:
        return [f"It was posted here on {format_day(posted[paper.key].date())}."]
    verdict = Matcher([paper], services.lexicon()).verdict(profile, 0)
    if verdict.excluded_by is not None:
        return [
            f"It matches {', '.join(verdict.topics)}, but it is about "
            f"“{verdict.excluded_by}”, which this channel excludes.",
            f"/papers include {verdict.excluded_by} would let such papers through.",
        ]
    if not verdict.matched:
        near = (
            f" The closest topic is “{verdict.best_topic}” with score {verdict.score:.2f}; "
            f"a match needs {THRESHOLD:.2f}."
            if verdict.best_topic
            else " None of the topics appears in its title or abstract."
        )
        return [f"It does not match this channel's topics.{near}"]
    reasons = "; ".join(verdict.reasons[:3])
    matched = f"It matches {', '.join(verdict.topics)} (score {verdict.score:.2f}: {reasons})."
    start, _ = services.digests.window(profile, _now(services), None)
    seen = paper.first_seen
    last = services.runs.last_complete(profile.ref)
    if seen is not None and seen < start:
        if last is None:
            return [
                matched,
                f"It arrived on {format_day(seen.date())}, before this channel's first digest "
                f"window (the last {format_duration(profile.lookback)}), so it is not posted. "
                "/papers search finds it.",
            ]
        return [
            matched,
            f"It arrived on {format_day(seen.date())}, in the window of an earlier digest, "
            "which had more matches than its cap or ran before this topic was followed.",
        ]
    return [matched, "It is new since the last digest: the next digest will include it."]


async def why(command: Command, request: CommandRequest, services: Services) -> Reply:
    ref = clean(command.arg)
    if not ref:
        return _error("Why what? Give an arXiv id or a title, e.g. /papers why 2401.04088")
    if len(ref) > MAX_QUERY_CHARS:
        return _error("That is too long for a paper id or title; paste the arXiv id instead.")

    def read() -> tuple[Paper | None, list[str]]:
        paper = _find_paper(ref, services)
        if paper is None:
            return None, []
        profile = services.profiles.get(request.platform, request.channel_id)
        return paper, _explain(paper, profile, services)

    paper, lines = await asyncio.to_thread(read)
    if paper is None:
        return _error(
            f"{_quoted(ref)} is not in the archive, so it could not be posted.",
            "Check the arXiv id, or search: /papers search <words of its title>",
        )
    was = "was" if lines[0].startswith("It was posted here on") else "was not"
    return Reply(
        f"Why {_quoted(paper.title)} {was} posted here",
        tuple(lines),
        (_line(paper, services, {}),),
    )


# --- autocomplete -------------------------------------------------------------------------


async def topic_suggestions(
    services: Services, channel_ref: str, prefix: str, *, mine: bool
) -> list[str]:
    """Topics for autocomplete, best first, at most MAX_SUGGESTIONS: the channel's own
    topics (`mine`, for unsubscribe) or topics the archive knows — long forms of learned
    acronyms and HF keywords — for subscribe. Never raises."""
    typed = clean(prefix)[:MAX_TOPIC_CHARS]
    platform, _, channel_id = channel_ref.partition(":")

    def read() -> list[str]:
        if mine:
            profile = services.profiles.get(platform, channel_id)
            return list(profile.topics) if profile else []
        lexicon = services.lexicon()
        known = {lexicon.spelling(lf) for forms in lexicon.acronyms.values() for lf in forms}
        known |= set(lexicon.acronyms)
        return sorted(known)

    try:
        choices = await asyncio.to_thread(read)
    except StoreError:
        return []
    if not typed:
        return choices[:MAX_SUGGESTIONS]
    key = topic_key(typed)
    starts = [c for c in choices if topic_key(c).startswith(key)]
    fuzzy = process.extract(
        key, {c: topic_key(c) for c in choices}, scorer=fuzz.WRatio, limit=MAX_SUGGESTIONS
    )
    ranked = [*starts, *(str(c[2]) for c in fuzzy if c[1] >= SUGGESTION_SIMILARITY)]
    return list(dict.fromkeys(ranked))[:MAX_SUGGESTIONS]


HANDLERS: dict[str, Handler] = {
    "help": help_command,
    "search": search,
    "subscribe": subscribe,
    "unsubscribe": unsubscribe,
    "list": list_command,
    "exclude": exclude,
    "include": include,
    "digest": digest,
    "schedule": schedule,
    "why": why,
}

__all__ = ["HANDLERS", "dispatch", "topic_suggestions"]
