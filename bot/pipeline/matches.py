"""What relevance decides, as values: a `Match` (a paper selected for a profile, with its
topics and reasons), a `Verdict` (the decision for one paper, matched or not), and
`rank_key`, the order matches rank in (score, then upvotes, then recency, then key).
Pure; `bot.pipeline.match.Matcher` makes them."""

from __future__ import annotations

from dataclasses import dataclass

from bot.models import Paper


@dataclass(frozen=True, slots=True)
class Match:
    """A paper selected for a profile: the best topic score, every matching topic, reasons.
    `unsure`: not selected but nearly (`Matcher.unsure`), shown to ask the channel "Unsure —
    is this for you?" so its votes teach the model where its threshold lies."""

    paper: Paper
    score: float
    topics: tuple[str, ...]
    reasons: tuple[str, ...]
    unsure: bool = False


RankKey = tuple[float, int, float, str]


@dataclass(frozen=True, slots=True)
class Verdict:
    """The decision for one paper against one profile, matched or not (for `why`)."""

    paper: Paper
    matched: bool
    score: float
    topics: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    excluded_by: str | None = None
    best_topic: str | None = None


def rank_key(m: Match) -> RankKey:
    """Sort key: match score, then HF upvotes when known, then recency, then key."""
    p = m.paper
    when = p.published or p.first_seen
    return (-round(m.score, 6), -(p.upvotes or 0), -(when.timestamp() if when else 0.0), p.key)
