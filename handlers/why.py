"""`/papers why <arXiv id or title>`: why a paper was or was not posted in this channel."""

from __future__ import annotations

from rapidfuzz import fuzz

from bot.models import Paper, Profile, normalize_title, parse_arxiv_id
from bot.pipeline.evidence import THRESHOLD
from bot.pipeline.learn import Learned
from bot.pipeline.match import Matcher
from bot.pipeline.matches import Verdict
from bot.pipeline.render.common import clean, format_day
from bot.store import aio
from bot.store.profile_rules import format_duration
from handlers.common import MAX_QUERY_CHARS, error, now, paper_line, quoted
from handlers.reply import CommandRequest, Reply
from handlers.services import Services
from handlers.spec import Command, CommandSpec, Option

TITLE_SIMILARITY = 90.0  # how close a typed title must be to an archived one


def _find_paper(ref: str, services: Services) -> Paper | None:
    arxiv_id = parse_arxiv_id(ref)
    if arxiv_id is not None:
        return services.archive.get(arxiv_id)
    wanted = normalize_title(ref)
    exact = services.archive.get(wanted)
    if exact is not None:
        return exact
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
    matcher = Matcher([paper], services.lexicon())
    by_topics = matcher.verdict(profile, 0)
    learned = services.teach.learned_sync(profile.ref, None)  # None: no feedback here
    verdict = by_topics if learned is None else matcher.verdict(profile, 0, learned)
    taught = _taught(paper, learned, by_topics.matched, verdict.matched)
    if taught is not None and verdict.matched != by_topics.matched:  # the feedback decided
        if verdict.matched:
            return [taught, *_timing(paper, profile, services)]
        return [taught, "/papers feedback lists the votes; /papers feedback clear forgets them."]
    lines = _topics_part(paper, profile, verdict, services)
    return [*lines[:1], *([taught] if taught else []), *lines[1:]]


def _taught(paper: Paper, learned: Learned | None, by_topics: bool, selected: bool) -> str | None:
    """The part of the channel's feedback (its model) in the decision on `paper`, or None
    when the channel has no model or it has no say."""
    if learned is None:
        return None
    reason = learned.reason(paper)  # "feedback: like 'Title…' (+0.42; words)": has the margin
    said = reason.removeprefix("feedback: ") if reason else f"margin {learned.score(paper):+.2f}"
    if by_topics and not selected:
        return f"It matches this channel's topics, but its feedback is against it: {said}."
    if selected and not by_topics:
        return f"It does not match the topics, but this channel's feedback selects it: {said}."
    if reason is None:
        return None
    return f"This channel's feedback: {said}."


def _topics_part(paper: Paper, profile: Profile, verdict: Verdict, services: Services) -> list[str]:
    """Why the topics (and exclusions) decide as they do; the first line says what."""
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
    reasons = "; ".join(r for r in verdict.reasons if not r.startswith("feedback:"))
    matched = f"It matches {', '.join(verdict.topics)} (score {verdict.score:.2f}: {reasons})."
    return [matched, *_timing(paper, profile, services)]


def _timing(paper: Paper, profile: Profile, services: Services) -> list[str]:
    """Whether a selected paper is still to be posted (its window) or was left out."""
    start, _ = services.digests.window(profile, now(services), None)
    seen = paper.first_seen
    last = services.runs.last_complete(profile.ref)
    if seen is not None and seen < start:
        if last is None:
            return [
                f"It arrived on {format_day(seen.date())}, before this channel's first digest "
                f"window (the last {format_duration(profile.lookback)}), so it is not posted. "
                "/papers search finds it.",
            ]
        return [
            f"It arrived on {format_day(seen.date())}, in the window of an earlier digest, "
            "which had more matches than its cap or ran before this topic was followed.",
        ]
    return ["It is new since the last digest: the next digest will include it."]


async def why(command: Command, request: CommandRequest, services: Services) -> Reply:
    ref = clean(command.arg)
    if not ref:
        return error("Why what? Give an arXiv id or a title, e.g. /papers why 2401.04088")
    if len(ref) > MAX_QUERY_CHARS:
        return error("That is too long for a paper id or title; paste the arXiv id instead.")

    def read() -> tuple[Paper | None, list[str]]:
        paper = _find_paper(ref, services)
        if paper is None:
            return None, []
        profile = services.profiles.get(request.platform, request.channel_id)
        return paper, _explain(paper, profile, services)

    paper, lines = await aio.run(read)
    if paper is None:
        return error(
            f"{quoted(ref)} is not in the archive, so it could not be posted.",
            "Check the arXiv id, or search: /papers search <words of its title>",
        )
    was = "was" if lines[0].startswith("It was posted here on") else "was not"
    return Reply(
        f"Why {quoted(paper.title)} {was} posted here",
        tuple(lines),
        (paper_line(paper, services, {}),),
    )


SPEC = CommandSpec(
    "why",
    why,
    summary="Why a paper was or was not posted here",
    usage="why <paper>",
    help="why <arXiv id or title> — why a paper was or was not posted here",
    options=(Option("paper", "An arXiv id (2401.04088) or a title"),),
)
