"""The weekly digest's pure parts: its schedule (`fri 16:00` or cron) and its check in the
configuration, the week's choice of papers (bot.pipeline.weekly) and its message on each
platform (bot.pipeline.render.weekly)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from bot.models import Attachment, DigestItem, Feedback, Paper, Profile
from bot.pipeline.lexicon import build
from bot.pipeline.match import Matcher
from bot.pipeline.render import discord_embeds as dc
from bot.pipeline.render import slack as sl
from bot.pipeline.render.weekly import (
    render_weekly,
    render_weekly_discord,
    render_weekly_slack,
    render_weekly_text,
)
from bot.pipeline.weekly import (
    WEEKLY_CAP,
    WeeklyDigest,
    by_days,
    cap_of,
    net_votes,
    select_week,
    week_key,
    week_name,
)
from bot.schedule import check_weekly, weekly_cron, weekly_missed
from bot.settings import ChannelSettings
from bot.weekly_example import END, TOPICS, synthetic_papers

# --- the schedule ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "cron"),
    [
        ("fri 16:00", "0 16 * * fri"),
        ("Friday 9:30", "30 9 * * fri"),
        ("  MON   07:05 ", "5 7 * * mon"),
        ("thurs 23:59", "59 23 * * thu"),
        ("0 16 * * fri", "0 16 * * fri"),
        ("0  8 *  * 1", "0 8 * * 1"),
    ],
)
def test_weekly_shorthand_and_cron(typed: str, cron: str) -> None:
    assert weekly_cron(typed) == cron
    assert check_weekly(typed, "europe/berlin") == (cron, "Europe/Berlin")


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("fri 25:00", "not a time of day"),
        ("fri 16:60", "not a time of day"),
        ("frx 16:00", "'frx' is not a weekday"),
        ("every friday", "five fields"),
        ("", "five fields"),
        ("0 16 31 2 *", "never fires"),
        ("x" * 5000, "not 5000 characters"),
    ],
)
def test_a_bad_weekly_schedule_says_what_to_type(typed: str, says: str) -> None:
    with pytest.raises(ValueError) as e:
        check_weekly(typed, "UTC")
    assert says in str(e.value)
    assert "fri 16:00" in str(e.value)  # what to type
    assert len(str(e.value)) < 600  # a 5,000-character input is not echoed back


def test_a_bad_weekly_schedule_in_the_configuration_is_refused_clearly() -> None:
    ok = ChannelSettings(platform="console", id="c", weekly="Fri 16:00", timezone="Asia/Tokyo")
    assert ok.profile().weekly == "0 16 * * fri"
    assert ok.profile().timezone == "Asia/Tokyo"
    with pytest.raises(ValidationError) as e:
        ChannelSettings(platform="console", id="c", weekly="friday at four")
    assert "weekly" in str(e.value) and "fri 16:00" in str(e.value)


def test_a_missed_weekly_run_is_caught_up_within_the_grace() -> None:
    p = Profile(platform="console", channel_id="c", topics=("x",), weekly="0 16 * * fri")
    friday = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
    assert weekly_missed(p, friday + timedelta(hours=20), timedelta(days=1)) == friday
    assert weekly_missed(p, friday + timedelta(days=2), timedelta(days=1)) is None
    assert weekly_missed(p, friday - timedelta(minutes=1), timedelta(days=1)) is None


# --- the choice of papers -------------------------------------------------------------------


def profile(**kw: object) -> Profile:
    base = Profile(platform="console", channel_id="ml", topics=TOPICS, weekly="0 16 * * fri")
    return replace(base, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    papers = synthetic_papers()
    return Matcher(papers, build(papers))


def test_the_week_is_seven_local_days_and_named_by_its_iso_week(matcher: Matcher) -> None:
    weekly = select_week(matcher, profile(max_posts=0), end=END, votes={})
    assert (weekly.first_day, weekly.end) == (date(2026, 11, 21), END)
    assert weekly.week == "2026-W48" and week_key(END) == "week:2026-W48"
    assert week_name(date(2027, 1, 1)) == "2026-W53"  # a Friday in the ISO year before
    days = {i.paper.published.date() for i in weekly.items if i.paper.published}
    assert days and all(weekly.first_day <= d <= END for d in days)
    assert len(weekly.items) == WEEKLY_CAP and weekly.more > 0  # no cap means WEEKLY_CAP


def test_ranked_by_votes_then_upvotes_then_relevance(matcher: Matcher) -> None:
    p = profile(max_posts=5)
    plain = select_week(matcher, p, end=END, votes={})
    upvotes = [i.paper.upvotes or 0 for i in plain.items]
    assert upvotes == sorted(upvotes, reverse=True) and upvotes[0] > 0
    # a paper the channel liked comes first, one it voted down is gone
    everyone = select_week(matcher, profile(max_posts=0), end=END, votes={}).items
    liked = everyone[-1].paper  # the fewest upvotes of the ten
    assert (liked.upvotes or 0) < (plain.items[0].paper.upvotes or 0)
    disliked = plain.items[0].paper
    votes = net_votes(
        [
            Feedback(p.ref, "u1", liked.key, 1, datetime(2026, 11, 25, tzinfo=UTC)),
            Feedback(p.ref, "u2", liked.key, 1, datetime(2026, 11, 25, tzinfo=UTC)),
            Feedback(p.ref, "u1", disliked.key, -1, datetime(2026, 11, 25, tzinfo=UTC)),
        ]
    )
    assert votes == {liked.key: 2, disliked.key: -1}
    voted = select_week(matcher, p, end=END, votes=votes)
    assert voted.items[0].paper.key == liked.key
    assert disliked.key not in {i.paper.key for i in voted.items}
    assert voted.votes == {liked.key: 2}
    assert cap_of(profile(max_posts=3)) == 3 and cap_of(profile(max_posts=50)) == WEEKLY_CAP


def test_papers_are_chosen_by_relevance_and_exclusions(matcher: Matcher) -> None:
    only_speech = select_week(
        matcher, profile(topics=("speech recognition",), max_posts=0), end=END, votes={}
    )
    assert only_speech.items
    assert all("Speech" in i.paper.title for i in only_speech.items)
    none = select_week(matcher, profile(topics=("protein folding",)), end=END, votes={})
    assert none.items == () and none.more == 0
    no_rl = select_week(
        matcher, profile(exclude=("reinforcement learning",), max_posts=0), end=END, votes={}
    )
    assert not any("Reinforcement" in i.paper.title for i in no_rl.items)


# --- the message ----------------------------------------------------------------------------

CHART = Attachment("trends-2026-11-27.png", b"\x89PNG\r\n\x1a\nfake", alt="")
NASTY = "<!channel> @everyone *bold* [x](https://evil.example) <@U123> `code`"


def nasty_weekly(n: int = WEEKLY_CAP) -> WeeklyDigest:
    items = tuple(
        DigestItem(
            paper=Paper(
                title=f"{NASTY} {i} " + "long title " * 40,
                abstract="",
                arxiv_id=f"2611.{i:05d}",
                authors=("@here", "<!everyone>"),
                upvotes=100 - i,
            ),
            score=0.5,
            topics=("moe <!here>",),
            summary=NASTY + " summary " * 80,
        )
        for i in range(n)
    )
    return WeeklyDigest(
        channel_ref="slack:C1",
        channel_name="<!channel>",
        week="2026-W48",
        first_day=date(2026, 11, 21),
        end=END,
        items=items,
        more=3,
        topics=("moe",),
        trend="moe: 14 papers this week, up from 6 the week before; @everyone <!here>.",
        votes={items[0].paper.key: 2},
    )


def test_slack_message_is_escaped_within_limits_and_carries_the_chart() -> None:
    m = render_weekly_slack(nasty_weekly(), CHART, key="week:2026-W48")
    assert m.keys == ("week:2026-W48",)
    assert m.files and m.files[0].content == CHART.content
    assert "up from 6" in m.files[0].alt  # the trend sentence is the chart's alt text
    body = json.dumps(m.payload, ensure_ascii=False)
    for ping in ("<!channel>", "<!here>", "<!everyone>", "<@U123>"):
        assert ping not in body
    blocks = m.payload["blocks"]
    assert isinstance(blocks, list) and len(blocks) <= sl.MAX_BLOCKS
    assert sum(sl.block_text_len(b) for b in blocks) <= sl.MAX_MESSAGE_TEXT
    assert len(str(m.payload["text"])) <= sl.MAX_FALLBACK
    assert "up from 6" in body and "👍 2" in body and "and 3 more" in body


def test_discord_message_is_escaped_within_limits_and_shows_the_chart() -> None:
    m = render_weekly_discord(nasty_weekly(), CHART, key="week:2026-W48")
    payload = m.payload
    assert payload["allowed_mentions"] == {"parse": []}
    embeds = payload["embeds"]
    assert isinstance(embeds, list) and len(embeds) == 1
    embed = embeds[0]
    assert embed["image"] == {"url": "attachment://trends-2026-11-27.png"}
    assert len(str(payload["content"])) <= dc.MAX_CONTENT
    assert len(str(embed["description"])) <= dc.MAX_DESCRIPTION
    assert dc.embed_size(embed) <= dc.MAX_TOTAL
    text = json.dumps(payload, ensure_ascii=False)
    assert "@everyone" not in text.replace("@\u200beveryone", "")
    assert "<@U123>" not in text and "](https://evil" not in text
    assert "more this week" in str(embed.get("footer"))
    assert m.files == (replace(CHART, alt=m.files[0].alt),) and m.keys == ("week:2026-W48",)


def test_text_message_and_the_platform_choice() -> None:
    weekly = nasty_weekly(2)
    m = render_weekly_text(weekly, CHART, key="k")
    text = str(m.payload["text"])
    assert text.startswith("This week in #")
    assert "Trend: moe: 14 papers this week" in text and "Chart: trends-2026-11-27.png" in text
    assert "1. " in text and "2. " in text and "and 3 more this week" in text
    assert "blocks" in render_weekly("slack-webhook", weekly, CHART).payload
    assert "embeds" in render_weekly("discord-webhook", weekly, CHART).payload
    assert "text" in render_weekly("console", weekly, None).payload
    assert render_weekly("console", weekly, None).files == ()
    empty = replace(weekly, items=(), more=0)
    assert "No paper on this channel's topics this week" in str(
        render_weekly_text(empty).payload["text"]
    )


def test_papers_are_grouped_a_week_at_a_time_each_in_one_group() -> None:
    papers = synthetic_papers()
    groups = by_days(papers)
    assert sum(len(g) for g in groups) == len(papers)
    assert {p.key for g in groups for p in g} == {p.key for p in papers}
    for group in groups:
        days = {p.first_seen.date() for p in group if p.first_seen}
        assert (max(days) - min(days)).days < 7
    assert by_days([]) == []
    unstamped = [Paper(title="No Stamp"), papers[0]]
    assert by_days(unstamped) == [unstamped]


# --- review findings (issue 19) --------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "0 16 * * mon,fri",
        "0 16 * * *",
        "*/1 * * * *",
        "0 9,16 * * fri",
        "0 16 1 * *",
        "0 16 * 1-6 fri",
        "0-5 16 * * fri",
        "0 16 * * mon-fri",
    ],
)
def test_a_weekly_schedule_that_fires_more_than_once_a_week_is_refused(typed: str) -> None:
    with pytest.raises(ValueError) as e:
        check_weekly(typed, "UTC")
    assert "more than once a week" in str(e.value)
    assert "fri 16:00" in str(e.value) and "0 16 * * fri" in str(e.value)  # what to type
    with pytest.raises(ValidationError, match="more than once a week"):
        ChannelSettings(platform="console", id="c", weekly=typed)


@pytest.mark.parametrize("typed", ["0 16 * * 5", "00 7 * * sun", "0 16 * * 7", "59 23 * * FRI"])
def test_a_weekly_schedule_firing_once_a_week_is_accepted(typed: str) -> None:
    assert check_weekly(typed, "UTC")[0] == typed
