"""The /papers handlers called directly, over a real SQLite archive of the bundled sample."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import App, build_app
from bot.models import Paper
from bot.settings import CommandSettings, Settings
from bot.sources.detect import parse_any
from fakes.clock import Clock
from handlers.commands import dispatch, topic_suggestions
from handlers.render import discord_reply, slack_reply
from handlers.reply import CommandRequest, Reply
from handlers.services import Services

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SAMPLE = Path(__file__).resolve().parents[2] / "bot" / "data" / "sample-dump.txt"
CHANNEL = "C0HANDLERS"


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def app(tmp_path: Path, clock: Clock) -> Iterator[App]:
    # Many commands from one user at one instant: the rate limit (tests/reliability) is off.
    settings = Settings(database=str(tmp_path / "p.db"), commands=CommandSettings(per_minute=0))
    app = build_app(settings, clock=clock)
    papers = parse_any(SAMPLE.read_bytes(), source="sample").papers
    app.archive.upsert(papers, now=NOW - timedelta(hours=2))
    yield app
    app.close()


@pytest.fixture
def services(app: App) -> Services:
    return app.services()


def req(text: str, *, can_manage: bool = True, channel: str = CHANNEL) -> CommandRequest:
    return CommandRequest(
        platform="slack",
        channel_id=channel,
        user_id="U1",
        text=text,
        can_manage=can_manage,
        manage_rule="only the admins listed in slack.admins can change this channel's topics",
        channel_name="papers",
    )


def everything(reply: Reply) -> str:
    parts = [reply.title, *reply.lines, reply.footer or ""]
    for line in reply.papers:
        parts += [line.paper.title, line.summary, line.detail or ""]
    return "\n".join(parts)


async def test_empty_command_is_help(services: Services) -> None:
    reply = await dispatch(req(""), services)
    assert "subscribe" in everything(reply)
    assert not reply.error


async def test_search_finds_mixture_of_experts_by_acronym(services: Services) -> None:
    reply = await dispatch(req("moe"), services)
    assert reply.papers, everything(reply)
    assert all(
        "experts" in p.paper.title.casefold()
        or "moe" in p.paper.title.casefold()
        or "mixture-of-experts" in p.paper.abstract.casefold()
        for p in reply.papers
    )
    assert not reply.public


async def test_search_share_and_more(services: Services) -> None:
    shared = await dispatch(req("search speech --share"), services)
    assert shared.public and shared.papers
    one = await dispatch(req("search speech --top 1"), services)
    assert len(one.papers) == 1


async def test_search_with_a_typo_still_finds_papers(services: Services) -> None:
    reply = await dispatch(req("mixtrue of experts"), services)
    assert reply.papers
    assert "experts" in reply.papers[0].paper.title.casefold()


async def test_search_says_when_nothing_matches(services: Services) -> None:
    reply = await dispatch(req("search zebrafish xylophone"), services)
    assert not reply.papers
    assert "No archived paper" in reply.title


async def test_empty_search_says_what_to_type(services: Services) -> None:
    reply = await dispatch(req("search"), services)
    assert reply.error and "/papers" in reply.title


async def test_bad_top_value_is_explained(services: Services) -> None:
    reply = await dispatch(req("moe --top lots"), services)
    assert reply.error and "--top" in reply.title


async def test_subscribe_previews_and_list_shows_it(services: Services) -> None:
    reply = await dispatch(req("subscribe speech recognition"), services)
    assert "now follows" in reply.title
    assert any("would have matched" in line for line in reply.lines), reply.lines
    assert 1 <= len(reply.papers) <= 3
    again = await dispatch(req("subscribe Speech  Recognition"), services)
    assert "already follows" in again.title
    listed = await dispatch(req("list"), services)
    text = everything(listed)
    assert "speech recognition" in text and "Next digest" in text and "Last digest: none" in text


async def test_subscribe_needs_permission(services: Services) -> None:
    reply = await dispatch(req("subscribe speech", can_manage=False), services)
    assert reply.error and "slack.admins" in reply.title
    assert services.profiles.get("slack", CHANNEL) is None


async def test_subscribe_refuses_a_huge_topic(services: Services) -> None:
    reply = await dispatch(req("subscribe " + "x" * 5000), services)
    assert reply.error and "5,000 characters" in reply.title


async def test_unsubscribe_suggests_the_closest_topic(services: Services) -> None:
    await dispatch(req("subscribe machine translation"), services)
    reply = await dispatch(req("unsubscribe machine translaton"), services)
    assert reply.error
    assert "Did you mean “machine translation”" in everything(reply)
    done = await dispatch(req("unsubscribe Machine Translation"), services)
    assert "no longer follows" in done.title
    profile = services.profiles.get("slack", CHANNEL)
    assert profile is not None and profile.topics == ()


async def test_unsubscribe_with_nothing_followed(services: Services) -> None:
    reply = await dispatch(req("unsubscribe moe"), services)
    assert reply.error and "follows no topics" in reply.title


async def test_exclude_and_include(services: Services) -> None:
    await dispatch(req("subscribe speech"), services)
    reply = await dispatch(req("exclude survey"), services)
    assert "no longer be posted" in reply.title
    profile = services.profiles.get("slack", CHANNEL)
    assert profile is not None and profile.exclude == ("survey",)
    back = await dispatch(req("include Survey"), services)
    assert "no longer hidden" in back.title
    missing = await dispatch(req("include benchmark"), services)
    assert missing.error


async def test_digest_preview_posts_and_records_nothing(services: Services) -> None:
    await dispatch(req("subscribe mixture of experts"), services)
    reply = await dispatch(req("digest"), services)
    assert reply.papers and not reply.public
    assert "only you see it" in reply.title
    assert services.ledger.posted(f"slack:{CHANNEL}") == {}
    assert services.runs.last(f"slack:{CHANNEL}") is None


async def test_why_explains_matched_unmatched_posted_and_unknown(services: Services) -> None:
    await dispatch(req("subscribe mixture of experts"), services)
    moe = (await dispatch(req("moe --top 1"), services)).papers[0].paper
    other = next(p for p in services.archive.all() if "speech" in p.title.casefold())

    reply = await dispatch(req(f"why {moe.title}"), services)
    assert "was not posted" in reply.title
    assert "next digest will include it" in everything(reply)

    reply = await dispatch(req(f"why {other.title}"), services)
    assert "does not match" in everything(reply)

    services.ledger.reserve(f"slack:{CHANNEL}", [moe.key], now=NOW, lease=timedelta(minutes=5))
    services.ledger.confirm(f"slack:{CHANNEL}", [moe.key], ref="ts", now=NOW)
    reply = await dispatch(req(f"why {moe.title.upper()}"), services)
    assert reply.title.startswith("Why") and "was posted here" in reply.title
    assert "posted here on Mon 23 Nov" in everything(reply)

    unknown = await dispatch(req("why 2999.99999"), services)
    assert unknown.error and "not in the archive" in unknown.title


async def test_why_excluded(services: Services) -> None:
    await dispatch(req("subscribe mixture of experts"), services)
    moe = (await dispatch(req("moe --top 1"), services)).papers[0].paper
    await dispatch(req("exclude experts"), services)
    reply = await dispatch(req(f"why {moe.title}"), services)
    assert "excludes" in everything(reply)


async def test_search_marks_papers_posted_here(services: Services) -> None:
    moe = (await dispatch(req("moe --top 1"), services)).papers[0].paper
    services.ledger.reserve(f"slack:{CHANNEL}", [moe.key], now=NOW, lease=timedelta(minutes=5))
    services.ledger.confirm(f"slack:{CHANNEL}", [moe.key], ref="ts", now=NOW)
    reply = await dispatch(req("moe"), services)
    marked = [p for p in reply.papers if p.posted_on is not None]
    assert [p.paper.key for p in marked] == [moe.key]
    elsewhere = await dispatch(req("moe", channel="C0OTHER"), services)
    assert all(p.posted_on is None for p in elsewhere.papers)


async def test_autocomplete(services: Services) -> None:
    await dispatch(req("subscribe machine translation"), services)
    await dispatch(req("subscribe speech"), services)
    mine = await topic_suggestions(services, f"slack:{CHANNEL}", "spe", mine=True)
    assert mine[0] == "speech"
    known = await topic_suggestions(services, f"slack:{CHANNEL}", "mixture", mine=False)
    assert any("mixture" in k.casefold() for k in known)
    assert len(await topic_suggestions(services, "slack:C0NONE", "", mine=False)) <= 25


HOSTILE = [
    "<!channel> moe",
    "@everyone @here",
    '"mixture of experts',
    "-moe",
    "moe NOT survey",
    "title: moe",
    "C++",
    "(",
    "🤖🧪",
    "שלום עולם",
    "x" * 5000,
    "\x00\x01",
    "AND OR NEAR *",
]


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("sub", ["", "search ", "subscribe ", "unsubscribe ", "why ", "exclude "])
async def test_hostile_input_gets_an_answer(services: Services, sub: str, text: str) -> None:
    reply = await dispatch(req(sub + text), services)
    assert reply.title
    slack = slack_reply(reply).body()
    discord = discord_reply(reply).body()
    for body in (str(slack), str(discord["content"]) + str(discord["embeds"])):
        assert "<!channel>" not in body
    assert "@everyone" not in str(discord["content"]).replace("@\u200beveryone", "")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=300))
async def test_no_text_makes_dispatch_raise(services: Services, text: str) -> None:
    reply = await dispatch(req(text), services)
    assert isinstance(reply, Reply) and reply.title


def _break_database(app: App) -> None:
    """Replace the database file by a directory: every query fails from now on."""
    app.engine.dispose()
    db = Path(str(app.engine.url.database))
    db.unlink()
    db.mkdir()


async def test_store_failure_is_a_clear_message(services: Services, app: App) -> None:
    _break_database(app)
    reply = await dispatch(req("subscribe moe"), services)
    assert reply.error and "not reachable" in reply.title


def test_papers_fixture_is_realistic(app: App) -> None:
    papers: list[Paper] = app.archive.all()
    assert len(papers) >= 10


async def test_schedule_changes_when_the_digest_is_posted(services: Services) -> None:
    reply = await dispatch(req("schedule 30 7 * * mon-fri Europe/Berlin"), services)
    assert "now posts" in reply.title and "Europe/Berlin" in reply.title
    assert any(
        line.startswith("Next digest: Tue 24 Nov 07:30 Europe/Berlin") for line in reply.lines
    )
    profile = services.profiles.get("slack", CHANNEL)
    assert profile is not None
    assert (profile.schedule, profile.timezone) == ("30 7 * * mon-fri", "Europe/Berlin")
    same_zone = await dispatch(req("schedule 0 8 * * *"), services)
    assert "now posts" in same_zone.title and "Europe/Berlin" in same_zone.title


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("schedule", "five cron fields"),
        ("schedule 0 9 * *", "five cron fields"),
        ("schedule 0 25 * * *", "can't be used"),
        ("schedule 0 9 * * * Mars/Olympus", "unknown time zone"),
    ],
)
async def test_bad_schedules_are_explained(services: Services, text: str, says: str) -> None:
    reply = await dispatch(req(text), services)
    assert reply.error and says in everything(reply)


async def test_schedule_needs_permission(services: Services) -> None:
    reply = await dispatch(req("schedule 0 9 * * *", can_manage=False), services)
    assert reply.error and "slack.admins" in reply.title
