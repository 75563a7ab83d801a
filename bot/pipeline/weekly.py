"""The weekly digest's choice of papers (issue 19): the week's top papers for one channel.
Pure: the application (bot.weekly) reads the archive, the votes and the ledger, and passes
them in.

The rule:

- **The week** is the 7 local days ending on the run's local day (`end`, included) in the
  channel's zone, the "this week" of the trend chart (bot.pipeline.trends): a paper
  belongs to the week when its day (`bot.pipeline.trends.paper_day`: its HF daily listing
  day, else the local day it was published, else first stored) is one of them.
- **Which papers**: those the channel's profile selects (`Matcher.best`: its topics and
  authors, less its exclusions, the same relevance as the daily digest). Papers the
  channel never saw are allowed: the weekly digest is a summary of the week in the
  channel's topics, not a repeat of what it was sent. A paper the channel voted down
  (net 👎: more "Not for us" than "More like this") is left out.
- **The order**: the channel's feedback first (net 👍 on the paper in this channel, most
  first), then HF upvotes (most first; none counts as 0), then relevance (`Match.score`),
  then the paper's key (a stable order for ties).
- **How many**: the channel's `max_posts`, at most WEEKLY_CAP (10: one message on every
  platform, a Discord message holds 10 embeds); `max_posts: 0` (no cap) means
  WEEKLY_CAP. The rest is counted in `more`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from bot.models import DigestItem, Feedback, Paper, Profile
from bot.pipeline.match import Matcher
from bot.pipeline.matches import Match
from bot.pipeline.summarize import summarize
from bot.pipeline.trends import paper_day

WEEK_DAYS = 7
WEEKLY_CAP = 10
# A weekly item's summary is shorter than a daily one's: ten papers and a chart in one
# message.
WEEKLY_SUMMARY_CHARS = 200
WEEK_KEY_PREFIX = "week:"
CHUNK_DAYS = 1  # papers a trend Matcher holds: a day's, first stored (`by_days`), as the
# daily digests match them and as benchmarks/charts.py measures (--chunk-days 1)


@dataclass(frozen=True, slots=True)
class WeeklyDigest:
    """What one channel's weekly digest posts: its top papers of the week (`items`,
    ranked, `DigestItem.score` the relevance and `votes` the channel's net votes by paper
    key), how many more matched (`more`), the week (`first_day` to `end`, local days; `week`
    its ISO name, `2026-W49`), and the trend chart's description in words (`trend`, the
    chart's alt text, filled by the application)."""

    channel_ref: str
    channel_name: str
    week: str
    first_day: date
    end: date
    items: tuple[DigestItem, ...]
    more: int = 0
    topics: tuple[str, ...] = ()
    trend: str = ""
    votes: Mapping[str, int] | None = None


def week_name(end: date) -> str:
    """The ISO week of the local day `end`: `2026-W49` (ISO year, week 01-53)."""
    year, week, _ = end.isocalendar()
    return f"{year}-W{week:02d}"


def week_key(end: date) -> str:
    """The weekly digest's key in the channel's weekly ledger (bot.weekly): one per ISO
    week, `week:2026-W49`, so a week's digest is posted once whatever fires it."""
    return WEEK_KEY_PREFIX + week_name(end)


def week_start(end: date) -> date:
    """The first local day of the week ending on `end` (`end` - 6 days)."""
    return end - timedelta(days=WEEK_DAYS - 1)


def by_days(papers: Sequence[Paper], days: int = CHUNK_DAYS) -> list[list[Paper]]:
    """`papers` in groups of `days` days by the UTC date they were first stored (counted
    from the earliest), oldest first, each paper in exactly one group; papers never
    stored (no `first_seen`) go with the first group. The weekly cycle counts its charts a
    group at a time (one Matcher each: bot.pipeline.trends.count_channels)."""
    stamped = [p.first_seen.date() for p in papers if p.first_seen is not None]
    if not stamped:
        return [list(papers)] if papers else []
    first = min(stamped)
    groups: dict[int, list[Paper]] = {}
    for p in papers:
        n = 0 if p.first_seen is None else (p.first_seen.date() - first).days // days
        groups.setdefault(n, []).append(p)
    return [groups[n] for n in sorted(groups)]


def net_votes(votes: Iterable[Feedback]) -> dict[str, int]:
    """Each voted paper's net votes (👍 minus 👎, one vote per person: bot.store.feedback
    keeps each person's latest)."""
    out: dict[str, int] = {}
    for vote in votes:
        out[vote.paper_key] = out.get(vote.paper_key, 0) + int(vote.vote)
    return out


class WeekPapers:
    """The papers of a Matcher that are in a week (see the module's docstring), by zone and
    last day, each worked out once (channels sharing a zone share it). Not thread-safe."""

    def __init__(self, matcher: Matcher) -> None:
        self._matcher = matcher
        self._outside: dict[tuple[str, date], frozenset[int]] = {}

    def outside(self, zone: str, end: date) -> frozenset[int]:
        """Indexes of the Matcher's papers not in the week ending on `end` in `zone`."""
        key = (zone, end)
        found = self._outside.get(key)
        if found is None:
            tz, first = ZoneInfo(zone), week_start(end)
            found = frozenset(
                i
                for i, p in enumerate(self._matcher.papers)
                if not ((day := paper_day(p, tz)) is not None and first <= day <= end)
            )
            self._outside[key] = found
        return found


def cap_of(profile: Profile) -> int:
    """How many papers the channel's weekly digest shows (see the module's docstring)."""
    return min(profile.max_posts, WEEKLY_CAP) if profile.max_posts else WEEKLY_CAP


def rank(matches: Iterable[Match], votes: Mapping[str, int]) -> list[Match]:
    """`matches` in the weekly order (see the module's docstring), those voted down left
    out."""
    kept = [m for m in matches if votes.get(m.paper.key, 0) >= 0]
    return sorted(
        kept,
        key=lambda m: (
            -votes.get(m.paper.key, 0),
            -(m.paper.upvotes or 0),
            -round(m.score, 6),
            m.paper.key,
        ),
    )


def select_week(
    matcher: Matcher,
    profile: Profile,
    *,
    end: date,
    votes: Mapping[str, int],
    week: WeekPapers | None = None,
    summary_chars: int = WEEKLY_SUMMARY_CHARS,
) -> WeeklyDigest:
    """The channel's weekly digest (without its `trend`): its top papers of the week
    ending on its local day `end`, by the rule of the module's docstring. `votes`: the
    channel's net votes by paper key (`net_votes`). `week` shares the week's papers
    between channels (one is made when not given)."""
    week = week if week is not None else WeekPapers(matcher)
    outside = week.outside(profile.timezone, end)
    matches, _ = matcher.best(profile, drop=(outside,), limit=0)
    ranked = rank(matches, votes)
    cap = cap_of(profile)
    items = tuple(
        DigestItem(
            paper=m.paper,
            score=m.score,
            topics=tuple(m.topics),
            summary=summarize(m.paper, max_chars=summary_chars),
        )
        for m in ranked[:cap]
    )
    shown = {i.paper.key: votes[i.paper.key] for i in items if votes.get(i.paper.key)}
    return WeeklyDigest(
        channel_ref=profile.ref,
        channel_name=profile.name or profile.channel_id,
        week=week_name(end),
        first_day=week_start(end),
        end=end,
        items=items,
        more=max(0, len(ranked) - len(items)),
        topics=profile.topics,
        votes=shown,
    )
