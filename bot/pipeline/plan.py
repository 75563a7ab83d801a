"""A channel's digest from its matches: drop what was posted, cap, summarize. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime

from bot.models import Digest, DigestItem, Profile
from bot.pipeline.match import Match
from bot.pipeline.summarize import summarize


def in_window(m: Match, start: datetime, end: datetime) -> bool:
    """True when the paper entered the archive within [start, end]. Windows of successive
    digests share their boundary instant; the posted ledger keeps that paper to one post."""
    seen = m.paper.first_seen
    return seen is not None and start <= seen <= end


def plan_digest(
    profile: Profile,
    matches: Sequence[Match],
    posted: Mapping[str, datetime],
    *,
    day: date,
    summary_chars: int = 280,
    matched: int | None = None,
) -> Digest:
    """The digest for `profile`: `matches` (already ranked, best first) minus papers in the
    channel's posted ledger, capped at `max_posts` (0 = no cap) with the rest counted in
    `more`, each with its summary. `matched`: how many unposted matches there are in all,
    when `matches` holds only the best of them (`Matcher.best`)."""
    fresh = [m for m in matches if m.paper.key not in posted]
    cap = profile.max_posts or len(fresh)
    kept = fresh[:cap]
    more = max(0, (len(fresh) if matched is None else matched) - len(kept))
    items = tuple(
        DigestItem(
            paper=m.paper,
            score=m.score,
            topics=tuple(t for t in m.topics),
            summary=summarize(m.paper, max_chars=summary_chars),
        )
        for m in kept
    )
    return Digest(
        channel_ref=profile.ref,
        channel_name=profile.name or profile.channel_id,
        day=day,
        items=items,
        more=more,
        topics=profile.topics,
    )
