"""Trends: how many papers each of a channel's topics had per day over the last weeks, and
the words that describe it (the weekly digest's chart and its alt text, issue 19).

Pure. A `TrendCounter` counts over the papers of one `Matcher`, or of several, a day or a
few at a time (`count_channels`: the archive's papers of the last WEEKS weeks and LEAD days
more, with a day's margin for time zones), and evaluates each distinct topic once per
Matcher, whatever the number of channels following it: a topic's papers
are the ones the Matcher selects for it (`Matcher.selected`, the digest's relevance for a
profile subscribed to that topic alone), less the ones the channel's exclusions drop
(`Matcher.excluded`, as the digest drops them). Authors a channel follows and its feedback
model are left out: the chart shows topics, and a topic's line is the same for every
channel following it (with the same exclusions, zone and day).

A paper's day is its Hugging Face daily listing day (`Paper.daily_date`, a calendar date
taken as it is) when it has one, else the day in the channel's zone of when it was
`published`, else of when it was `first_seen`; a paper with none of them is not counted.

"This week" is the 7 days ending on the chart's last day `end` (included), whatever the
weekday; "the week before" the 7 days before those. The chart covers WEEKS weeks (56 days):
`first_day` is `end - 55 days`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from bot.models import Paper, Profile
from bot.pipeline.match import Matcher
from bot.pipeline.query import fold_topic

WEEKS = 8
WEEK = 7
# Days counted before a chart's first day (`TopicTrend.lead`): its 7-day mean is one of 7
# days from its first day on.
LEAD = WEEK - 1
# Lines a chart draws at most: with more topics than that, the LINES - 1 busiest keep their
# line and the others are summed into one, "other topics" (`legend`).
LINES = 8
OTHER = "other topics"
# Characters of alt text at most (`describe`): Discord's attachment description takes
# 1,024 (discordeno's validation: "Attachment description length must be less than 1024
# characters"), Slack's image block alt_text 2,000 (docs.slack.dev, @slack/web-api
# ImageBlock: "Maximum length for this field is 2000 characters").
ALT_CHARS = 1000


@dataclass(frozen=True, slots=True)
class TopicTrend:
    """One topic's papers per day, `counts[0]` on the chart's `first_day`, the last on its
    `end`; `lead` those of the LEAD days before `first_day` (for the chart's 7-day mean on
    its first days; not part of the chart's weeks). `topic` is the topic as the channel
    typed it (or OTHER for the sum of the topics a chart has no line for)."""

    topic: str
    counts: tuple[int, ...]
    lead: tuple[int, ...] = ()

    @property
    def this_week(self) -> int:
        """Papers of the last 7 days (ending on the chart's `end`, included)."""
        return sum(self.counts[-WEEK:])

    @property
    def week_before(self) -> int:
        """Papers of the 7 days before `this_week`'s."""
        return sum(self.counts[-2 * WEEK : -WEEK])

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True, slots=True)
class Trends:
    """A chart's data: each topic's papers per day from `first_day` to `end` (both
    included, local days of the channel's zone), `week_start` the first day of "this week"
    (`end - 6 days`), `series` in the channel's topic order. Hashable and compared by
    value: identical trends make identical charts (`bot.pipeline.render.chart.ChartCache`).
    `title` is drawn above the chart; the default (`trends_for`) names no channel, so that
    channels with the same topics share their chart."""

    title: str
    first_day: date
    end: date
    week_start: date
    series: tuple[TopicTrend, ...]

    @property
    def days(self) -> tuple[date, ...]:
        """Every day of the chart, `first_day` to `end`."""
        n = (self.end - self.first_day).days + 1
        return tuple(self.first_day + timedelta(days=d) for d in range(n))


def paper_day(paper: Paper, zone: ZoneInfo) -> date | None:
    """The day a paper counts on (see the module's docstring), None without any date."""
    if paper.daily_date is not None:
        return paper.daily_date
    moment = paper.published or paper.first_seen
    return moment.astimezone(zone).date() if moment is not None else None


def window(end: date, weeks: int = WEEKS) -> tuple[date, date]:
    """(first_day, week_start) of a chart of `weeks` weeks ending on `end`."""
    return end - timedelta(days=weeks * WEEK - 1), end - timedelta(days=WEEK - 1)


def first_counted(end: date, weeks: int = WEEKS) -> date:
    """The first day a chart ending on `end` counts papers on (its `lead` included): a
    weekly cycle reads the archive's papers from the day before it (the widest zone
    difference) to the day after `end`."""
    return end - timedelta(days=weeks * WEEK + LEAD - 1)


_Key = tuple[str, tuple[str, ...], str, date]  # folded topic, exclusions, zone, end


def _key(topic: str, exclude: Sequence[str], zone: str, end: date) -> _Key:
    return (fold_topic(topic), tuple(sorted({fold_topic(e) for e in exclude})), zone, end)


class _Days:
    """Each paper of one Matcher's day (`paper_day`) in a zone as a proleptic ordinal, 0
    without one; worked out once per zone."""

    def __init__(self, papers: Sequence[Paper]) -> None:
        self._papers = papers
        self._by_zone: dict[str, list[int]] = {}

    def __call__(self, zone: str) -> list[int]:
        found = self._by_zone.get(zone)
        if found is None:
            tz = ZoneInfo(zone)
            found = []
            for p in self._papers:
                day = paper_day(p, tz)
                found.append(day.toordinal() if day is not None else 0)
            self._by_zone[zone] = found
        return found


def _count(
    into: list[int],
    matcher: Matcher,
    days: _Days,
    topic: str,
    dropped: AbstractSet[int],
    zone: str,
    end: date,
) -> None:
    """Adds to `into` (one number a day, the last on `end`) the papers per day in `zone` of
    `topic` among `matcher`'s papers, less those of `dropped` (by the exclusions)."""
    n = len(into)
    first = end.toordinal() - n + 1
    ordinals = days(zone)
    for i in matcher.selected(topic):
        d = ordinals[i] - first
        if 0 <= d < n and i not in dropped:
            into[d] += 1


def _dropped(matcher: Matcher, exclude: Sequence[str]) -> frozenset[int]:
    """The papers of `matcher` any of `exclude` drops (as the digest drops them)."""
    if not exclude:
        return frozenset()
    return frozenset().union(*(matcher.excluded(e) for e in exclude))


@dataclass
class TrendCounter:
    """Papers per day of any number of topics (each with a channel's exclusions, zone and
    last day: a count), over the papers of one Matcher or of several (`count_channels`).
    Each count is made once and remembered, so 10,000 channels sharing a few thousand
    topics cost a few thousand counts.

    With `matcher`, counts are made when asked for (`counts`, `trends`, `trends_for`).
    Without one, only the counts `add` made are known: asking for another raises KeyError.
    Not thread-safe (nor is a Matcher): hold the Matcher's lock while using it."""

    matcher: Matcher | None = None
    weeks: int = WEEKS
    _days: _Days | None = field(init=False, default=None)
    _spans: dict[_Key, tuple[int, ...]] = field(init=False, default_factory=dict)
    _sums: dict[_Key, list[int]] = field(init=False, default_factory=dict)  # by `add`
    _keys: dict[tuple[str, tuple[str, ...], str, date], _Key] = field(
        init=False, default_factory=dict
    )

    @property
    def counted(self) -> int:
        """Distinct counts made so far (topic, exclusions, zone and day)."""
        return len(self._spans) + len(self._sums)

    def add(
        self,
        matcher: Matcher,
        wanted: Sequence[tuple[str, Sequence[str], str, date]],
        *,
        split: bool = False,
    ) -> None:
        """Adds the papers per day among `matcher`'s papers of each (topic, exclusions, zone,
        end) of `wanted` (each distinct one once) to its count so far. Give every Matcher of
        a run the same `wanted`, and each paper to one Matcher only: the counts are then the
        counts over all of their papers (`count_channels`). With `split`, the topics and
        exclusions are evaluated in two processes first (`Matcher.evaluate`)."""
        if split:
            terms = dict.fromkeys(t for topic, ex, _, _ in wanted for t in (topic, *ex))
            matcher.evaluate(terms, split=True)
        days = _Days(matcher.papers)
        dropped: dict[tuple[str, ...], frozenset[int]] = {}
        done: set[_Key] = set()
        for topic, exclude, zone, end in wanted:
            key = self._keyed(topic, exclude, zone, end)
            if key in done:
                continue
            done.add(key)
            ex = tuple(exclude)
            if ex not in dropped:
                dropped[ex] = _dropped(matcher, ex)
            into = self._sums.get(key)
            if into is None:
                into = self._sums[key] = [0] * (self.weeks * WEEK + LEAD)
            _count(into, matcher, days, topic, dropped[ex], zone, end)

    def _keyed(self, topic: str, exclude: Sequence[str], zone: str, end: date) -> _Key:
        """`_key`, remembered (a run asks for the same ones for each of its Matchers)."""
        asked = (topic, tuple(exclude), zone, end)
        key = self._keys.get(asked)
        if key is None:
            key = self._keys[asked] = _key(topic, exclude, zone, end)
        return key

    def zeros(self, wanted: Iterable[tuple[str, Sequence[str], str, date]]) -> None:
        """Counts of no paper for those of `wanted` not counted yet."""
        n = self.weeks * WEEK + LEAD
        for topic, exclude, zone, end in wanted:
            self._sums.setdefault(self._keyed(topic, exclude, zone, end), [0] * n)

    def counts(
        self, topic: str, *, zone: str, end: date, exclude: Sequence[str] = ()
    ) -> tuple[int, ...]:
        """Papers per day of `topic` (the papers the Matcher selects for it, less those any
        of `exclude` drops) over the `weeks` weeks ending on `end` in `zone` (an IANA name;
        raises ZoneInfoNotFoundError for an unknown one). Remembered: topics typed
        differently that fold alike (`fold_topic`) share a count."""
        return self._span(topic, zone, end, exclude)[LEAD:]

    def _span(self, topic: str, zone: str, end: date, exclude: Sequence[str]) -> tuple[int, ...]:
        """`counts` with the LEAD days before them first (`TopicTrend.lead`)."""
        key = self._keyed(topic, exclude, zone, end)
        found = self._spans.get(key)
        if found is not None:
            return found
        summed = self._sums.get(key)
        if summed is not None:
            return tuple(summed)  # (more may be added: not remembered)
        if self.matcher is None:
            raise KeyError(f"not counted: {topic!r} excluding {list(exclude)} in {zone} to {end}")
        if self._days is None:
            self._days = _Days(self.matcher.papers)
        into = [0] * (self.weeks * WEEK + LEAD)
        _count(into, self.matcher, self._days, topic, _dropped(self.matcher, exclude), zone, end)
        found = self._spans[key] = tuple(into)
        return found

    def trends(
        self,
        topics: Sequence[str],
        *,
        zone: str,
        end: date,
        exclude: Sequence[str] = (),
        title: str | None = None,
    ) -> Trends:
        """The Trends of `topics` (in their order, each once) over the `weeks` weeks ending
        on `end` in `zone`; `title` defaults to `default_title(end, weeks)`."""
        first, week_start = window(end, self.weeks)
        spans = {t: self._span(t, zone, end, exclude) for t in dict.fromkeys(topics)}
        series = tuple(TopicTrend(t, s[LEAD:], s[:LEAD]) for t, s in spans.items())
        return Trends(
            title if title is not None else default_title(end, self.weeks),
            first,
            end,
            week_start,
            series,
        )


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def day_text(day: date) -> str:
    """ "4 Dec": spelled here, not by the process's locale (`%b` would follow it)."""
    return f"{day.day} {MONTHS[day.month - 1]}"


def default_title(end: date, weeks: int = WEEKS) -> str:
    """ "Papers per day, 8 weeks to 4 Dec 2026": names no channel (see `Trends`)."""
    return f"Papers per day, {weeks} weeks to {day_text(end)} {end.year}"


def trends_for(
    counter: TrendCounter,
    profile: Profile,
    end: date,
    *,
    topics: Sequence[str] | None = None,
    title: str | None = None,
) -> Trends:
    """A channel's Trends: its topics (or `topics`, e.g. the one `/papers trends <topic>`
    asks about), its exclusions, its zone, over the weeks ending on its local day `end`.
    With a counter of `count_channels`, only what it counted for its profiles and days is
    known (KeyError otherwise): a topic the channel does not follow needs a profile that
    follows it in `count_channels`' profiles (or a `TrendCounter(matcher)`)."""
    return counter.trends(
        profile.topics if topics is None else topics,
        zone=profile.timezone,
        end=end,
        exclude=profile.exclude,
        title=title,
    )


def wanted(
    profiles: Iterable[Profile], end: date | Callable[[Profile], date]
) -> list[tuple[str, tuple[str, ...], str, date]]:
    """The counts the charts of `profiles` need: each topic of each, with its exclusions,
    zone and last day (`end`, or `end(profile)`: channels in zones far apart may be on
    different days at the same instant). Each distinct one once."""
    out: dict[_Key, tuple[str, tuple[str, ...], str, date]] = {}
    for p in profiles:
        last = end if isinstance(end, date) else end(p)
        for t in p.topics:
            out.setdefault(_key(t, p.exclude, p.timezone, last), (t, p.exclude, p.timezone, last))
    return list(out.values())


def count_channels(
    matchers: Iterable[Matcher],
    profiles: Sequence[Profile],
    end: date | Callable[[Profile], date],
    *,
    weeks: int = WEEKS,
    split: bool = False,
) -> TrendCounter:
    """The counts of every chart of `profiles` (`wanted`) over the papers of `matchers`,
    each Matcher used once and let go: a weekly cycle indexes its WEEKS weeks of papers a
    day (or a few) at a time, as the daily digests do, so its memory is a day's, and a
    topic is evaluated over a day's papers (the digest's own relevance, related terms
    included) rather than over 60,000 at once (slower per paper: benchmarks/charts.py).
    Each paper must be in one Matcher only. `trends_for(counter, profile, ...)` then makes
    each chart; a count not asked for here raises KeyError. `split`: each Matcher evaluates
    the topics in two processes (`Matcher.evaluate`; for a machine with an idle core)."""
    counter = TrendCounter(weeks=weeks)
    needed = wanted(profiles, end)
    for matcher in matchers:
        counter.add(matcher, needed, split=split)
    counter.zeros(needed)  # no Matcher at all: no paper
    return counter


def legend(trends: Trends) -> tuple[TopicTrend, ...]:
    """The lines a chart draws, in legend order: every topic in the channel's order when
    there are LINES or fewer; with more, the LINES - 1 busiest (most papers over the whole
    chart; a tie goes to the topic listed first) in the channel's order, then OTHER, the
    sum of the rest per day."""
    series = trends.series
    if len(series) <= LINES:
        return series
    busiest = sorted(range(len(series)), key=lambda i: (-series[i].total, i))[: LINES - 1]
    kept = sorted(busiest)
    rest = [s for i, s in enumerate(series) if i not in set(kept)]
    other = tuple(sum(day) for day in zip(*(s.counts for s in rest), strict=True))
    lead = tuple(sum(day) for day in zip(*(s.lead for s in rest), strict=True))
    return (*(series[i] for i in kept), TopicTrend(OTHER, other, lead))


def _papers(n: int) -> str:
    return f"{n} paper" if n == 1 else f"{n} papers"


def _sentence(t: TopicTrend) -> str:
    now, before = t.this_week, t.week_before
    if now == before:
        change = "same as the week before"
    elif now > before:
        change = f"up from {before} the week before"
    else:
        change = f"down from {before} the week before"
    return f"{t.topic}: {_papers(now)} this week, {change}"


def describe(trends: Trends, limit: int = ALT_CHARS) -> str:
    """The chart in words (its alt text): for every topic, in legend order (`legend`; the
    topics summed into OTHER follow, in the channel's order), its papers this week and the
    week before, e.g. "MoE: 14 papers this week, up from 6 the week before; RLHF: 3 papers
    this week, same as the week before." Without topics, or without any paper, one short
    sentence says so. At most `limit` characters: topics that do not fit are counted
    ("… and 3 more topics.")."""
    span = f"{day_text(trends.first_day)} to {day_text(trends.end)} {trends.end.year}"
    if not trends.series:
        return f"No topics followed: nothing to chart ({span})."
    if not any(t.total for t in trends.series):
        return f"No papers on these topics from {span}."
    lines = legend(trends)
    named = list(lines)
    if len(lines) < len(trends.series):  # grouped: the lines drawn, then the summed ones
        named = named[:-1]
        shown = {id(t) for t in named}
        named += [t for t in trends.series if id(t) not in shown]
    parts = [_sentence(t) for t in named]
    text = "; ".join(parts) + "."
    if len(text) <= limit:
        return text
    for k in range(len(parts) - 1, 0, -1):
        more = len(parts) - k
        text = "; ".join(parts[:k]) + f"; and {more} more topic{'s' if more > 1 else ''}."
        if len(text) <= limit:
            return text
    return text[: limit - 1] + "…"
