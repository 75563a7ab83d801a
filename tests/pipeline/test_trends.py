"""trends: papers per day per topic over the last 8 weeks, in the channel's zone, with the
digest's relevance (`Matcher`), each topic counted once for every channel following it;
and the chart's alt text in words (`describe`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest

from bot.models import Paper, Profile
from bot.pipeline.lexicon import build
from bot.pipeline.match import Matcher
from bot.pipeline.trends import (
    ALT_CHARS,
    LEAD,
    LINES,
    OTHER,
    WEEKS,
    TopicTrend,
    TrendCounter,
    Trends,
    count_channels,
    default_title,
    describe,
    first_counted,
    legend,
    paper_day,
    trends_for,
    wanted,
    window,
)

END = date(2026, 12, 4)  # a Friday
DAYS = WEEKS * 7
SUBJECTS = (
    "graph partitioning",
    "weather forecasting",
    "protein folding",
    "robot grasping",
    "tabular data",
    "point clouds",
)


def filler(n: int = 60) -> list[Paper]:
    """Papers on unrelated subjects that share generic words, as a real archive has."""
    return [
        Paper(
            title=f"Scalable {SUBJECTS[i % len(SUBJECTS)].title()} Study {i}",
            arxiv_id=f"2401.{i:05d}",
            abstract=f"We present a learning framework for {SUBJECTS[i % len(SUBJECTS)]}. "
            f"Experiments on benchmark {i} show consistent gains.",
            published=datetime(2026, 11, 1, 12, tzinfo=UTC),
        )
        for i in range(n)
    ]


_ids = iter(range(10_000))


def moe(
    *,
    published: datetime | None = None,
    daily: date | None = None,
    first_seen: datetime | None = None,
    extra: str = "",
) -> Paper:
    i = next(_ids)
    return Paper(
        title=f"Sparse Mixture-of-Experts Routing Study {i}",
        abstract=f"We propose routing variant {i} for Mixture-of-Experts (MoE) language "
        f"models. A learned gate selects experts per token. {extra}",
        arxiv_id=f"2611.{i:05d}",
        published=published,
        daily_date=daily,
        first_seen=first_seen,
    )


def diffusion(published: datetime) -> Paper:
    i = next(_ids)
    return Paper(
        title=f"Video Diffusion Models with Temporal Attention {i}",
        abstract=f"We train video diffusion models, variant {i}, that denoise frames jointly.",
        arxiv_id=f"2612.{i:05d}",
        published=published,
    )


def counter(papers: Sequence[Paper]) -> TrendCounter:
    everything = [*papers, *filler()]
    return TrendCounter(Matcher(everything, build(everything)))


def at(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def profile(*topics: str, zone: str = "UTC", exclude: Sequence[str] = ()) -> Profile:
    return Profile(
        platform="console", channel_id="c", topics=topics, timezone=zone, exclude=tuple(exclude)
    )


# --- days ------------------------------------------------------------------------------------


def test_window_is_eight_weeks_ending_on_the_day() -> None:
    first, week_start = window(END)
    assert first == END - timedelta(days=55)
    assert week_start == END - timedelta(days=6)
    t = trends_for(counter([]), profile("mixture of experts"), END)
    assert (t.first_day, t.end, t.week_start) == (first, END, week_start)
    assert len(t.days) == DAYS and t.days[0] == first and t.days[-1] == END
    assert len(t.series[0].counts) == DAYS


def test_a_paper_counts_on_its_daily_listing_day_else_published_else_first_seen() -> None:
    zone = ZoneInfo("UTC")
    listed = moe(published=at(END - timedelta(days=3)), daily=END - timedelta(days=1))
    assert paper_day(listed, zone) == END - timedelta(days=1)
    published = moe(published=at(END - timedelta(days=3)), first_seen=at(END))
    assert paper_day(published, zone) == END - timedelta(days=3)
    seen = moe(first_seen=at(END - timedelta(days=2)))
    assert paper_day(seen, zone) == END - timedelta(days=2)
    assert paper_day(moe(), zone) is None
    counts = counter([listed, published, seen, moe()]).counts(
        "mixture of experts", zone="UTC", end=END
    )
    assert counts[-2] == 1 and counts[-4] == 1 and counts[-3] == 1
    assert sum(counts) == 3  # the one without any date is not counted


def test_days_are_the_channels_local_days() -> None:
    # 23:30 UTC on Thursday is Friday in Tokyo and Thursday afternoon in Los Angeles.
    late = moe(published=at(END - timedelta(days=1), 23, 30))
    c = counter([late])
    utc = c.counts("mixture of experts", zone="UTC", end=END)
    tokyo = c.counts("mixture of experts", zone="Asia/Tokyo", end=END)
    la = c.counts("mixture of experts", zone="America/Los_Angeles", end=END)
    assert utc[-2] == 1 and sum(utc) == 1
    assert tokyo[-1] == 1 and sum(tokyo) == 1
    assert la[-2] == 1 and sum(la) == 1
    # The daily listing day is a calendar day: the same in every zone.
    listed = moe(published=at(END, 23, 30), daily=END - timedelta(days=5))
    c = counter([listed])
    for zone in ("UTC", "Asia/Tokyo", "Pacific/Kiritimati", "America/Los_Angeles"):
        assert c.counts("mixture of experts", zone=zone, end=END)[-6] == 1


def test_papers_outside_the_eight_weeks_are_not_counted() -> None:
    first, _ = window(END)
    inside = [moe(published=at(first)), moe(published=at(END, 23, 59))]
    outside = [
        moe(published=at(first - timedelta(days=1), 23, 59)),
        moe(published=at(END + timedelta(days=1), 0, 0)),
    ]
    counts = counter([*inside, *outside]).counts("mixture of experts", zone="UTC", end=END)
    assert counts[0] == 1 and counts[-1] == 1 and sum(counts) == 2


# --- relevance -------------------------------------------------------------------------------


def test_a_topic_counts_the_papers_the_digest_would_match() -> None:
    papers = [moe(published=at(END - timedelta(days=k % 20))) for k in range(30)]
    papers += [diffusion(at(END - timedelta(days=k))) for k in range(5)]
    c = counter(papers)
    for topic in ("mixture of experts", "moe", "video diffusion"):
        counts = c.counts(topic, zone="UTC", end=END)
        matched = c.matcher.match(profile(topic))
        days = [paper_day(m.paper, ZoneInfo("UTC")) for m in matched]
        expected = [days.count(day) for day in window_days()]
        assert list(counts) == expected, topic
        assert sum(counts) > 0
    assert sum(c.counts("mixture of experts", zone="UTC", end=END)) == 30
    assert sum(c.counts("video diffusion", zone="UTC", end=END)) == 5


def window_days() -> list[date]:
    first, _ = window(END)
    return [first + timedelta(days=d) for d in range(DAYS)]


def test_a_topic_without_papers_has_a_line_of_zeros() -> None:
    c = counter([moe(published=at(END))])
    t = trends_for(c, profile("mixture of experts", "quantum error correction"), END)
    assert [s.topic for s in t.series] == ["mixture of experts", "quantum error correction"]
    assert t.series[1].counts == (0,) * DAYS
    assert t.series[0].total == 1


def test_exclusions_drop_their_papers_as_in_the_digest() -> None:
    papers = [moe(published=at(END - timedelta(days=k))) for k in range(4)]
    papers += [moe(published=at(END - timedelta(days=k)), extra="On phones.") for k in range(3)]
    papers += [
        Paper(
            title=f"Mixture-of-Experts on Phones {k}",
            abstract="We run MoE language models on mobile phones.",
            arxiv_id=f"2610.{k:05d}",
            published=at(END - timedelta(days=k)),
        )
        for k in range(2)
    ]
    c = counter(papers)
    plain = trends_for(c, profile("mixture of experts"), END).series[0]
    excluding = trends_for(c, profile("mixture of experts", exclude=["phones"]), END).series[0]
    digest = c.matcher.match(profile("mixture of experts", exclude=["phones"]))
    assert plain.total == len(c.matcher.match(profile("mixture of experts"))) == 9
    assert excluding.total == len(digest) < plain.total
    assert all("Phones" not in m.paper.title for m in digest)


def test_each_distinct_topic_is_counted_once_for_every_channel() -> None:
    c = counter([moe(published=at(END - timedelta(days=k))) for k in range(10)])
    calls: list[str] = []
    selected = c.matcher.selected

    def spy(topic: str) -> frozenset[int]:
        calls.append(topic)
        return selected(topic)

    c.matcher.selected = spy  # type: ignore[method-assign]
    channels = [profile("mixture of experts", "video diffusion") for _ in range(50)]
    channels += [profile("Mixture of Experts") for _ in range(50)]  # folds alike
    made = [trends_for(c, p, END) for p in channels]
    assert sorted(calls) == ["mixture of experts", "video diffusion"]
    assert made[0].series[0].counts == made[-1].series[0].counts
    assert made[0] == made[49]  # equal values: one chart for both (ChartCache)


def test_a_topic_listed_twice_is_one_line_and_topics_can_be_asked_for() -> None:
    c = counter([moe(published=at(END))])
    p = profile("mixture of experts", "video diffusion", "mixture of experts")
    assert [s.topic for s in trends_for(c, p, END).series] == [
        "mixture of experts",
        "video diffusion",
    ]
    one = trends_for(c, p, END, topics=["video diffusion"])
    assert [s.topic for s in one.series] == ["video diffusion"]
    assert one.title == default_title(END) == "Papers per day, 8 weeks to 4 Dec 2026"


# --- legend and alt text ---------------------------------------------------------------------


def trends(*series: tuple[str, Sequence[int]]) -> Trends:
    first, week_start = window(END)
    made = []
    for name, tail in series:
        counts = (0,) * (DAYS - len(tail)) + tuple(tail)
        made.append(TopicTrend(name, counts))
    return Trends("t", first, END, week_start, tuple(made))


def week(n: int) -> list[int]:
    """7 days holding `n` papers."""
    return [n] + [0] * 6


def test_describe_says_this_week_against_the_week_before() -> None:
    t = trends(
        ("MoE", week(6) + week(14)), ("RLHF", week(3) + week(3)), ("KV cache", week(5) + week(0))
    )
    assert describe(t) == (
        "MoE: 14 papers this week, up from 6 the week before; "
        "RLHF: 3 papers this week, same as the week before; "
        "KV cache: 0 papers this week, down from 5 the week before."
    )


def test_describe_says_one_paper_and_the_empty_cases() -> None:
    assert describe(trends(("MoE", week(1) + week(1)))) == (
        "MoE: 1 paper this week, same as the week before."
    )
    assert describe(trends()) == "No topics followed: nothing to chart (10 Oct to 4 Dec 2026)."
    assert describe(trends(("MoE", []), ("RLHF", []))) == (
        "No papers on these topics from 10 Oct to 4 Dec 2026."
    )


def test_more_topics_than_lines_keep_the_busiest_and_sum_the_rest() -> None:
    names = [f"topic {k}" for k in range(LINES + 3)]
    # topic k has k papers this week; ties broken by order: topic 0..3 are the quietest
    t = trends(*((n, week(k)) for k, n in enumerate(names)))
    lines = legend(t)
    assert len(lines) == LINES
    assert [x.topic for x in lines[:-1]] == names[4:]
    assert lines[-1].topic == OTHER
    assert lines[-1].this_week == 0 + 1 + 2 + 3
    text = describe(t)
    # every topic, the drawn ones first (legend order), then the summed ones
    assert text.index("topic 4:") < text.index("topic 10:") < text.index("topic 0:")
    assert all(f"{n}:" in text for n in names)
    assert OTHER not in text


def test_few_topics_are_drawn_as_listed() -> None:
    t = trends(("b", week(1)), ("a", week(9)))
    assert legend(t) == t.series


def test_describe_fits_the_alt_text_limits() -> None:
    names = [f"a rather long topic name number {k} about something" for k in range(40)]
    t = trends(*((n, week(k)) for k, n in enumerate(names)))
    text = describe(t)
    assert len(text) <= ALT_CHARS
    assert text.endswith("more topics.")
    short = describe(t, limit=80)
    assert len(short) <= 80 and short.startswith(f"{names[33]}: 33 papers")


def test_hostile_topic_names_are_described_as_typed() -> None:
    t = trends(("<!channel> $x^2$ 🚀", week(2)))
    assert describe(t) == "<!channel> $x^2$ 🚀: 2 papers this week, up from 0 the week before."


def test_an_unknown_zone_is_an_error() -> None:
    with pytest.raises(ZoneInfoNotFoundError):
        counter([]).counts("moe", zone="Nowhere/Atlantis", end=END)


def test_the_days_before_the_chart_are_counted_for_its_first_weeks_mean() -> None:
    first, _ = window(END)
    assert first_counted(END) == first - timedelta(days=LEAD)
    before = [moe(published=at(first - timedelta(days=k))) for k in range(1, LEAD + 2)]
    t = trends_for(counter(before), profile("mixture of experts", "video diffusion"), END)
    moe_line, other_line = t.series
    assert moe_line.lead == (1,) * LEAD and moe_line.total == 0
    assert other_line.lead == (0,) * LEAD
    # the line summing quiet topics sums their lead days too
    many = trends(*((f"t{k}", week(k)) for k in range(LINES + 1)))
    leads = tuple(TopicTrend(s.topic, s.counts, (k,) * LEAD) for k, s in enumerate(many.series))
    grouped = legend(Trends("t", many.first_day, END, many.week_start, leads))
    assert grouped[-1].topic == OTHER and grouped[-1].lead == (0 + 1,) * LEAD


# --- a run's papers a day at a time ----------------------------------------------------------


def test_counting_a_day_at_a_time_gives_the_counts_of_all_the_papers_at_once() -> None:
    papers = [moe(published=at(END - timedelta(days=k % 12), 6 + k % 17)) for k in range(40)]
    papers += [diffusion(at(END - timedelta(days=k))) for k in range(6)]
    background = filler()
    lexicon = build([*papers, *background])
    channels = [
        profile("mixture of experts", "video diffusion", zone="Asia/Tokyo"),
        profile("moe", exclude=["phones"]),
        profile("video diffusion", "quantum error correction", zone="America/Los_Angeles"),
    ]
    by_day: dict[date, list[Paper]] = {}
    for p in papers:
        assert p.published is not None
        by_day.setdefault(p.published.date(), []).append(p)
    # (the background's papers, in every chunk, are about none of these topics)
    chunks = [Matcher([*day, *background], lexicon) for day in by_day.values()]
    counted = count_channels(iter(chunks), channels, END)
    once = TrendCounter(Matcher([*papers, *background], lexicon))
    for p in channels:
        assert trends_for(counted, p, END) == trends_for(once, p, END)
    assert trends_for(counted, channels[1], END).series[0].total == 40  # (UTC)
    assert trends_for(counted, channels[0], END).series[0].total == 39  # one on Tokyo's Saturday
    # only the counts the channels need were made: another raises KeyError
    with pytest.raises(KeyError, match="not counted"):
        trends_for(counted, profile("mixture of experts"), END)
    # the topics evaluated in two processes: the same counts
    split = count_channels(
        [Matcher([*day, *background], lexicon) for day in by_day.values()],
        channels,
        END,
        split=True,
    )
    for p in channels:
        assert trends_for(split, p, END) == trends_for(counted, p, END)
    # a channel's day may be its own
    days = count_channels(chunks, channels, lambda p: END - timedelta(days=1))
    assert trends_for(days, channels[1], END - timedelta(days=1)).end == END - timedelta(days=1)


def test_no_papers_at_all_are_counts_of_zero() -> None:
    counted = count_channels([], [profile("moe", "rlhf")], END)
    t = trends_for(counted, profile("moe", "rlhf"), END)
    assert [s.total for s in t.series] == [0, 0]
    assert wanted([profile("moe", "MoE"), profile("moe")], END) == [("moe", (), "UTC", END)]


def test_hostile_topics_are_counted_without_error() -> None:
    c = counter([moe(published=at(END))])
    hostile = ("<!channel>", "$x^2$", "🚀", "@everyone", "moe 🚀", "a" * 300, "((", "\\frac{a}{b}")
    t = trends_for(c, profile(*hostile), END)
    assert [s.topic for s in t.series] == list(hostile)
    assert t.series[4].total == 1  # "moe 🚀" is MoE
    assert all(s.total == 0 for k, s in enumerate(t.series) if k != 4)
    split = count_channels([c.matcher], [profile(*hostile)], END)
    assert trends_for(split, profile(*hostile), END) == t
