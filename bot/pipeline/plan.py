"""A channel's digest from its unposted matches: cap, summarize. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from bot.models import Digest, DigestItem, Profile
from bot.pipeline.matches import Match
from bot.pipeline.summarize import SUMMARY_CHARS, summarize


class Items:
    """The DigestItem of each selected Match, made once (with its summary): channels that
    follow a topic share its Matches (bot.pipeline.match), so their digests share the
    items. For one cycle and one `summary_chars`. It keeps the Matches it saw, so the id
    it knows one by is never another's; a Match asked about (`unsure`) is made each time."""

    def __init__(self, summary_chars: int = SUMMARY_CHARS) -> None:
        self.summary_chars = summary_chars
        self._made: dict[int, tuple[Match, DigestItem]] = {}

    def __call__(self, m: Match, unsure: bool = False) -> DigestItem:
        if unsure:
            return self._item(m, True)
        found = self._made.get(id(m))
        if found is not None and found[0] is m:
            return found[1]
        item = self._item(m, False)
        self._made[id(m)] = (m, item)
        return item

    def _item(self, m: Match, unsure: bool) -> DigestItem:
        return DigestItem(
            paper=m.paper,
            score=m.score,
            topics=tuple(m.topics),
            summary=summarize(m.paper, max_chars=self.summary_chars),
            unsure=unsure,
        )


def plan_digest(
    profile: Profile,
    matches: Sequence[Match],
    *,
    day: date,
    summary_chars: int = SUMMARY_CHARS,
    matched: int | None = None,
    asked: Sequence[Match] = (),
    items: Items | None = None,
) -> Digest:
    """The digest for `profile`: `matches` (already ranked, best first, the channel's posted
    papers already left out by the caller), capped at `max_posts` (0 = no cap) with the rest
    counted in `more`, each with its summary. `matched`: how many unposted matches there are
    in all, when `matches` holds only the best of them (`Matcher.best`). `asked`: the papers
    the digest asks about (`bot.pipeline.match.asked`), after the matches, marked `unsure`
    and not counted against `max_posts`; a paper among the kept matches is not asked.
    `items`: the cycle's items made so far (`Items`, its `summary_chars` then counts)."""
    cap = profile.max_posts or len(matches)
    kept = matches[:cap]
    more = max(0, (len(matches) if matched is None else matched) - len(kept))
    shown = {m.paper.key for m in kept}
    questions = [m for m in asked if m.paper.key not in shown]
    made = items if items is not None else Items(summary_chars)
    return Digest(
        channel_ref=profile.ref,
        channel_name=profile.name or profile.channel_id,
        day=day,
        items=(*(made(m) for m in kept), *(made(m, True) for m in questions)),
        more=more,
        topics=profile.topics,
    )
