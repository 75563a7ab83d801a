"""`/papers more <paper>`, `/papers less <paper>`: teach the channel's digest what it wants
(bot.feedback); `/papers feedback` lists the channel's votes, `/papers feedback clear
[paper]` forgets them (only those who may change the channel)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import datetime

from bot.feedback import AmbiguousPaper, FeedbackError
from bot.models import Feedback, Paper, Vote
from bot.pipeline.learn import MIN_VOTES
from bot.pipeline.render.common import clean, cut, format_day
from bot.store import aio
from handlers.common import MAX_QUERY_CHARS, error, paper_line, quoted
from handlers.reply import CommandRequest, Reply
from handlers.services import Services
from handlers.spec import ME, Command, CommandSpec, Option

MAX_LISTED = 20  # papers in the `feedback` listing (the most recently voted)
MAX_VOTERS = 5  # people named per paper and vote
TITLE_SHOWN = 90
_PAPER = "An arXiv id (2401.04088), its arXiv URL, or the paper's title"
_VERB = {1: "more like this", -1: "not for us"}


def _check(command: Command) -> Command | Reply:
    arg = clean(command.arg)
    if not arg:
        return error(
            f"Which paper? e.g. /papers {command.name} 2401.04088 (an arXiv id, its URL or "
            "its title)"
        )
    if len(arg) > MAX_QUERY_CHARS:
        return error("That is too long for a paper id or title; paste the arXiv id instead.")
    return replace(command, arg=arg)


def _refused(e: FeedbackError) -> Reply:
    if isinstance(e, AmbiguousPaper):
        return error(str(e), *(f"{p.arxiv_id or p.key}: {p.title}" for p in e.candidates))
    return error(str(e))


async def _vote(command: Command, request: CommandRequest, services: Services, vote: Vote) -> Reply:
    try:
        given = await services.teach.give(
            request.channel_ref, request.user_id, command.arg, vote, "command"
        )
    except FeedbackError as e:
        return _refused(e)
    votes = await services.teach.listing(request.channel_ref)
    lines = []
    if given.replaced:
        lines.append("Your earlier vote on it is replaced.")
    if len(votes) < MIN_VOTES:
        lines.append(
            f"The channel's digest starts learning from its votes at {MIN_VOTES}; "
            f"it has {len(votes)}."
        )
    else:
        lines.append(
            f"The next digest learns from this channel's {len(votes)} votes, beside its topics."
        )
    said = "More papers like" if vote > 0 else "Fewer papers like"
    return Reply(
        f"Noted: {said} {quoted(given.paper.title)} in this channel.",
        tuple(lines),
        (paper_line(given.paper, services, {}),),
        footer="/papers feedback lists the votes · /papers why <paper> shows their effect",
    )


async def more(command: Command, request: CommandRequest, services: Services) -> Reply:
    return await _vote(command, request, services, 1)


async def less(command: Command, request: CommandRequest, services: Services) -> Reply:
    return await _vote(command, request, services, -1)


def _people(users: list[str]) -> str:
    shown = ", ".join(users[:MAX_VOTERS])
    return shown + (f" and {len(users) - MAX_VOTERS} more" if len(users) > MAX_VOTERS else "")


def listing_lines(votes: list[Feedback], titles: dict[str, str]) -> list[str]:
    """One line per voted paper, the most recently voted first: its title, who said what,
    and when last. Plain text (the renderers escape it). Pure."""
    by_paper: dict[str, list[Feedback]] = defaultdict(list)
    for v in votes:
        by_paper[v.paper_key].append(v)
    last: dict[str, datetime] = {k: max(v.at for v in vs) for k, vs in by_paper.items()}
    lines = []
    for key in sorted(by_paper, key=lambda k: (-last[k].timestamp(), k)):
        parts = []
        for vote in (1, -1):
            users = [v.user for v in by_paper[key] if v.vote == vote]
            if users:
                parts.append(f"{_VERB[vote]}: {_people(users)}")
        title = cut(titles.get(key, key), TITLE_SHOWN)
        lines.append(f"“{title}” — {'; '.join(parts)} (last {format_day(last[key].date())})")
    return lines


async def feedback(command: Command, request: CommandRequest, services: Services) -> Reply:
    words = command.arg.split()
    if words and words[0].casefold() == "clear":
        return await _clear(" ".join(words[1:]) or None, request, services)
    if words:
        return error(
            "/papers feedback lists this channel's votes; /papers feedback clear [paper] "
            "forgets them (all, or one paper's).",
            "To vote: /papers more <paper> or /papers less <paper>",
        )
    votes = await services.teach.listing(request.channel_ref)
    if not votes:
        return Reply(
            "Nobody has taught this channel's digest yet.",
            (
                "/papers more <paper> or /papers less <paper> (an arXiv id or title), or the "
                "buttons and 👍/👎 on a posted paper: the digest learns from them.",
            ),
        )

    def titles() -> dict[str, str]:
        out = {}
        for key in {v.paper_key for v in votes}:
            paper: Paper | None = services.archive.get(key)
            out[key] = paper.title if paper is not None else key
        return out

    lines = listing_lines(votes, await aio.run(titles))
    papers = len(lines)
    shown = lines[:MAX_LISTED]
    if papers > MAX_LISTED:
        shown.append(f"…and {papers - MAX_LISTED} more papers.")
    people = len({v.user for v in votes})
    return Reply(
        f"This channel's feedback: {len(votes)} votes on {papers} papers from {people} "
        f"{'person' if people == 1 else 'people'}",
        tuple(shown),
        footer="/papers feedback clear [paper] forgets them · /papers why <paper>: their effect",
    )


async def _clear(paper: str | None, request: CommandRequest, services: Services) -> Reply:
    if not request.can_manage:
        rule = request.manage_rule or "you may not change this channel's profile"
        return error(f"You can't clear this channel's feedback: {rule}.")
    try:
        n = await services.teach.clear(request.channel_ref, paper)
    except FeedbackError as e:
        return _refused(e)
    what = f"on {quoted(paper)}" if paper else "in this channel"
    if n == 0:
        return Reply(f"There were no votes {what} to forget.")
    return Reply(
        f"Forgot {n} vote{'s' if n != 1 else ''} {what}.",
        ("The next digest selects by the channel's topics and its remaining votes.",),
    )


SPECS = (
    CommandSpec(
        "more",
        more,
        summary="More papers like this one in this channel's digest",
        usage="more <paper>",
        help="more <paper> / less <paper> — teach the digest: more like this, or not for us",
        options=(Option("paper", _PAPER), ME),
        check=_check,
    ),
    CommandSpec(
        "less",
        less,
        summary="Fewer papers like this one in this channel's digest",
        usage="less <paper>",
        help=None,  # more's help line covers it
        options=(Option("paper", _PAPER), ME),
        check=_check,
    ),
    CommandSpec(
        "feedback",
        feedback,
        summary="This channel's votes on papers; “clear [paper]” forgets them",
        usage="feedback [clear [paper]]",
        help="feedback [clear [paper]] — the votes the digest learns from; clear forgets them",
        options=(
            Option(
                "paper",
                "Empty: list the votes. “clear”: forget them all; “clear <paper>”: one paper's",
                required=False,
            ),
        ),
    ),
)
