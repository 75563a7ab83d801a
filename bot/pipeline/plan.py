"""A channel's digest from its unposted matches: cap, summarize. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from bot.models import Digest, DigestItem, Profile
from bot.pipeline.matches import Match
from bot.pipeline.summarize import SUMMARY_CHARS, summarize


def plan_digest(
    profile: Profile,
    matches: Sequence[Match],
    *,
    day: date,
    summary_chars: int = SUMMARY_CHARS,
    matched: int | None = None,
    asked: Sequence[Match] = (),
) -> Digest:
    """The digest for `profile`: `matches` (already ranked, best first, the channel's posted
    papers already left out by the caller), capped at `max_posts` (0 = no cap) with the rest
    counted in `more`, each with its summary. `matched`: how many unposted matches there are
    in all, when `matches` holds only the best of them (`Matcher.best`). `asked`: the papers
    the digest asks about (`bot.pipeline.match.asked`), after the matches, marked `unsure`
    and not counted against `max_posts`; a paper among the kept matches is not asked."""
    cap = profile.max_posts or len(matches)
    kept = matches[:cap]
    more = max(0, (len(matches) if matched is None else matched) - len(kept))
    shown = {m.paper.key for m in kept}
    questions = [m for m in asked if m.paper.key not in shown]
    items = tuple(
        DigestItem(
            paper=m.paper,
            score=m.score,
            topics=tuple(t for t in m.topics),
            summary=summarize(m.paper, max_chars=summary_chars),
            unsure=unsure,
        )
        for ms, unsure in ((kept, False), (questions, True))
        for m in ms
    )
    return Digest(
        channel_ref=profile.ref,
        channel_name=profile.name or profile.channel_id,
        day=day,
        items=items,
        more=more,
        topics=profile.topics,
    )
