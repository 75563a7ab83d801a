"""Personal alerts on Slack end to end (issue 19): signed `/papers … --me` commands into the
real front-end, scheduled digests through the service, DMs opened with conversations.open
and posted with chat.postMessage on the fake Slack, a real SQLite database behind."""

from __future__ import annotations

import io
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from bot.app import App, build_app, build_deliveries
from bot.chat.slack_app import SlackFrontend, start_slack
from bot.service import Service
from bot.settings import CommandSettings, Settings, SlackSettings
from bot.sources.detect import parse_any
from bot.sources.retrieve import FileRetriever
from bot.store.profile_rules import PAUSED
from fakes.clock import Clock
from fakes.slack import FakeSlack
from fakes.slack_dms import BOT, DEACTIVATED
from helpers import slack_signature, wait_until

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
CHANNEL, OTHER_CHANNEL = "C0PAPERS01", "C0OTHERS01"
ANNA, BORIS, CARL = "U0ANNA0001", "U0BORIS001", "U0CARL0001"
ADMIN = "U0ADMIN001"
MONDAY = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
NINE = MONDAY + timedelta(hours=1, seconds=1)  # 09:00:01 UTC: the default schedule fired
ROOT = Path(__file__).resolve().parents[2]
ARCHIVE = [
    ROOT / "tests" / "fixtures" / "dump_layout_a.txt",
    ROOT / "bot" / "data" / "sample-dump.txt",
]
WAIT = 15.0


@pytest.fixture(autouse=True)
def _no_slack_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in [n for n in os.environ if n.startswith("SLACK_")]:
        monkeypatch.delenv(name)


def ingest(app: App, *paths: Path) -> None:
    for path in paths:
        app.archive.upsert(parse_any(path.read_bytes(), source=path.name).papers, now=app.clock())


def moe_papers(tmp_path: Path, day: int) -> Path:
    records = [
        f"Load-Balanced Routing {day}.{i} for Sparse Mixture-of-Experts Transformers\n\n"
        f"We propose routing rule {i} for Mixture-of-Experts (MoE) layers: a learned gate "
        f"sends each token to two experts, and rule {i} keeps expert load balanced."
        for i in range(3)
    ]
    path = tmp_path / f"day{day}.txt"
    path.write_text("new\n\nNov 24\n\n" + "\n\n".join(records) + "\n")
    return path


@dataclass
class Bot:
    slack: FakeSlack
    app: App
    frontend: SlackFrontend
    http: aiohttp.ClientSession
    clock: Clock
    service: Service

    async def run(self, text: str, *, user: str, channel: str = CHANNEL) -> dict[str, Any]:
        """A signed /papers command from `user` in `channel`; the reply on its response_url."""
        response_url = self.slack.response_url(channel)
        form = {
            "team_id": FakeSlack.TEAM_ID,
            "channel_id": channel,
            "channel_name": "ml-papers",
            "user_id": user,
            "user_name": "someone",
            "command": "/papers",
            "text": text,
            "api_app_id": "A0PAPERBOY",
            "response_url": response_url,
            "trigger_id": "1.2.3",
        }
        body = urlencode(form)
        stamp = int(time.time())
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": str(stamp),
            "X-Slack-Signature": slack_signature(SECRET, body, stamp),
        }
        assert self.frontend.url is not None
        async with self.http.post(self.frontend.url, data=body, headers=headers) as resp:
            assert resp.status == 200
        await wait_until(lambda: self.slack.responses(response_url), WAIT, "a reply")
        return self.slack.responses(response_url)[0]


def shown(reply: dict[str, Any]) -> str:
    return (reply.get("text") or "") + json.dumps(reply.get("blocks"), ensure_ascii=False)


Start = Callable[..., Awaitable[Bot]]


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(channels=[CHANNEL, OTHER_CHANNEL]) as fake:
        for user in (ANNA, BORIS, CARL, ADMIN):
            fake.dms.add_user(user, channels=[CHANNEL, OTHER_CHANNEL])
        yield fake


@pytest.fixture
async def start(tmp_path: Path, slack: FakeSlack) -> AsyncIterator[Start]:
    stack = AsyncExitStack()

    async def starter(*, admins: tuple[str, ...] = ()) -> Bot:
        settings = Settings(
            database=str(tmp_path / "p.db"),
            slack=SlackSettings(
                bot_token=slack.token,
                signing_secret=SECRET,
                api_url=slack.url,
                http_port=0,
                admins=list(admins),
            ),
            commands=CommandSettings(per_minute=0),
        )
        clock = Clock(MONDAY - timedelta(hours=1))
        app = build_app(settings, clock=clock)
        stack.callback(app.close)
        ingest(app, *ARCHIVE)
        clock.now = MONDAY
        frontend = await start_slack(settings.slack, app.services())
        stack.push_async_callback(frontend.close)
        http = await stack.enter_async_context(aiohttp.ClientSession())
        deliveries = build_deliveries(settings, stream=io.StringIO())
        for delivery in deliveries.values():
            stack.push_async_callback(delivery.aclose)
        service = Service(app, deliveries, FileRetriever(), clock)
        return Bot(slack, app, frontend, http, clock, service)

    async with stack:
        yield starter


def dm_keys(slack: FakeSlack, user: str) -> list[str]:
    keys: list[str] = []
    for m in slack.dms.messages_to(user):
        keys += ((m.get("metadata") or {}).get("event_payload") or {}).get("papers", [])
    return keys


def person_ref(user: str) -> str:
    return f"user:slack:{user}"


async def test_subscribe_me_then_scheduled_dm_then_unsubscribe_me(
    start: Start, slack: FakeSlack, tmp_path: Path
) -> None:
    bot = await start(admins=(ADMIN,))  # Anna may not change the channel, but her own alerts
    refused = await bot.run("subscribe moe", user=ANNA)
    assert "can't change what this channel follows" in refused["text"]
    reply = await bot.run("subscribe moe --me", user=ANNA)
    assert reply["response_type"] == "ephemeral"
    assert "Your personal alerts now follow “moe”" in reply["text"]
    assert "direct message" in shown(reply)
    entry = bot.app.profiles.person("slack", ANNA)
    assert entry is not None and entry.profile.topics == ("moe",)
    assert entry.profile.home == f"slack:{CHANNEL}" and entry.profile.person
    assert bot.app.profiles.get("slack", CHANNEL) is None  # the channel is untouched

    # The scheduler knows her like a channel: her job, at her schedule.
    bot.service.scheduler.start(paused=True)
    await bot.service.sync_jobs()
    job = bot.service.scheduler.get_job(f"digest:{person_ref(ANNA)}")
    assert job is not None and "hour='9'" in str(job.trigger)

    bot.clock.now = NINE
    outcome = await bot.service.scheduled_digest(person_ref(ANNA))
    assert outcome is not None and outcome.status == "done" and outcome.posted
    dm = slack.dms.dm_of(ANNA)
    assert dm is not None and dm.startswith("D")
    assert sorted(dm_keys(slack, ANNA)) == sorted(outcome.posted)
    assert slack.messages(CHANNEL) == []  # nothing posted in the channel
    shown_dms = slack.dms.messages_to(ANNA)
    assert shown_dms[0]["text"].startswith(f"{len(outcome.posted)} new papers for you")
    blocks = [b for m in shown_dms for b in m.get("blocks") or []]
    assert not any(b["type"] == "actions" for b in blocks)  # no feedback buttons in a DM
    titles = [bot.app.archive.get(k).title for k in outcome.posted]  # type: ignore[union-attr]
    assert any("Mixture-of-Experts" in t for t in titles)
    # Her votes teach her own alerts, not the channel's.
    voted = await bot.run(f"more {outcome.posted[0]} --me", user=ANNA)
    assert "in your personal alerts" in voted["text"], voted["text"]
    assert [v.paper_key for v in bot.app.feedback.votes(person_ref(ANNA))] == outcome.posted[:1]
    assert bot.app.feedback.votes(f"slack:{CHANNEL}") == []
    again = await bot.service.scheduled_digest(person_ref(ANNA))  # a repeated firing
    assert again is not None and again.status == "claimed"

    # Day 2: new MoE papers; she unsubscribes first: no DM any more, no job.
    bot.clock.now = MONDAY + timedelta(days=1) - timedelta(hours=1)
    ingest(bot.app, moe_papers(tmp_path, 2))
    bot.clock.now = NINE + timedelta(days=1)
    bye = await bot.run("unsubscribe moe --me", user=ANNA)
    assert "no longer follow “moe”" in bye["text"] and "no more direct messages" in bye["text"]
    await bot.service.sync_jobs()
    assert bot.service.scheduler.get_job(f"digest:{person_ref(ANNA)}") is None
    before = len(slack.dms.messages_to(ANNA))
    day2 = await bot.service.scheduled_digest(person_ref(ANNA))
    assert day2 is None or not day2.posted
    assert len(slack.dms.messages_to(ANNA)) == before
    assert slack.dms.opened == 1  # the DM channel was opened once


async def test_a_persons_alerts_are_theirs_alone(start: Start, slack: FakeSlack) -> None:
    bot = await start()
    await bot.run("subscribe streaming speech --me", user=ANNA)
    await bot.run("exclude survey --me", user=ANNA)
    # Boris sees no trace of Anna's topics, with or without --me, and cannot change them.
    mine = await bot.run("list --me", user=BORIS)
    assert "no personal alerts" in mine["text"] and "speech" not in shown(mine)
    channel = await bot.run("list", user=BORIS)
    assert "follows no topics" in channel["text"] and "speech" not in shown(channel)
    gone = await bot.run("unsubscribe streaming speech --me", user=BORIS)
    assert "no personal alerts" in gone["text"]
    entry = bot.app.profiles.person("slack", ANNA)
    assert entry is not None and entry.profile.topics == ("streaming speech",)
    assert entry.profile.exclude == ("survey",)
    # Anna's own list: private, with her topics; --share is refused with --me.
    listed = await bot.run("list --me", user=ANNA)
    assert listed["response_type"] == "ephemeral" and "streaming speech" in shown(listed)
    shared = await bot.run("list --me --share", user=ANNA)
    assert shared["response_type"] == "ephemeral" and "private" in shared["text"]
    assert slack.messages(CHANNEL) == []


async def test_home_channel_posts_of_the_day_are_not_dmed_unless_asked(
    start: Start, slack: FakeSlack
) -> None:
    bot = await start()
    await bot.run("subscribe moe", user=ANNA)  # the channel follows moe
    await bot.run("subscribe moe --me", user=ANNA)  # and Anna too, leaving channel posts out
    reply = await bot.run("subscribe moe --me --include-channel-posts", user=BORIS)
    assert "sent too" in shown(reply)
    bot.clock.now = NINE
    channel = await bot.service.scheduled_digest(f"slack:{CHANNEL}")
    assert channel is not None and channel.status == "done" and channel.posted
    anna = await bot.service.scheduled_digest(person_ref(ANNA))
    boris = await bot.service.scheduled_digest(person_ref(BORIS))
    assert anna is not None and anna.status == "empty" and not anna.posted
    assert dm_keys(slack, ANNA) == []
    assert boris is not None and sorted(boris.posted) == sorted(channel.posted)
    assert sorted(dm_keys(slack, BORIS)) == sorted(channel.posted)
    # Turning it on later is a private setting of her own alerts.
    on = await bot.run("list --me --include-channel-posts on", user=ANNA)
    assert "Channel posts: included" in shown(on)
    entry = bot.app.profiles.person("slack", ANNA)
    assert entry is not None and entry.profile.include_channel_posts


async def test_a_user_who_cannot_be_dmed_is_paused_and_told_once(
    start: Start, slack: FakeSlack, tmp_path: Path
) -> None:
    bot = await start()
    await bot.run("subscribe moe", user=ANNA)  # the channel
    await bot.run("subscribe moe --me", user=BORIS)
    await bot.run("subscribe moe --me", user=CARL)
    slack.dms.set_state(BORIS, DEACTIVATED)  # Boris left the workspace
    bot.clock.now = NINE
    outcomes = await bot.service.cycle.run(bot.app.profiles.all())
    by_ref = {o.profile.ref: o for o in outcomes}
    assert by_ref[f"slack:{CHANNEL}"].status == "done" and slack.messages(CHANNEL)
    assert by_ref[person_ref(CARL)].status == "done" and dm_keys(slack, CARL)
    failed = by_ref[person_ref(BORIS)]
    assert failed.status == "failed" and "user_disabled" in (failed.error or "")
    entry = bot.app.profiles.person("slack", BORIS)
    assert entry is not None and entry.state == PAUSED
    assert entry.reason is not None and "deactivated" in entry.reason
    assert entry.notified_at is not None
    assert slack.dms.ephemerals == [
        {"channel": CHANNEL, "user": BORIS, "text": slack.dms.ephemerals[0]["text"]}
    ]
    assert "/papers resume --me" in slack.dms.ephemerals[0]["text"]
    # Not retried: the next runs skip him; told once, not at his next command either.
    assert person_ref(BORIS) not in {p.ref for p in bot.app.profiles.all()}
    assert await bot.service.scheduled_digest(person_ref(BORIS)) is None
    listed = await bot.run("list --me", user=BORIS)
    assert "could not send" not in listed["text"] and "Paused (your Slack account" in shown(listed)
    assert len(slack.dms.ephemerals) == 1
    # Back in the workspace, he resumes: the reason is gone and DMs flow again.
    slack.dms.set_state(BORIS, "active")
    resumed = await bot.run("resume --me", user=BORIS)
    assert "back on" in resumed["text"]
    entry = bot.app.profiles.person("slack", BORIS)
    assert entry is not None and entry.state == "active" and entry.reason is None
    bot.clock.now = MONDAY + timedelta(days=1) - timedelta(hours=1)
    ingest(bot.app, moe_papers(tmp_path, 2))
    bot.clock.now = NINE + timedelta(days=1)
    later = await bot.service.scheduled_digest(person_ref(BORIS))
    assert later is not None and later.status == "done" and dm_keys(slack, BORIS)


async def test_a_bot_user_and_an_unreachable_home_are_handled(
    start: Start, slack: FakeSlack
) -> None:
    """A bot user (cannot_dm_bot) whose ephemeral cannot be shown (no longer in the home
    channel): paused, and told with their next command instead, once."""
    bot = await start()
    await bot.run("subscribe moe --me", user=CARL)
    slack.dms.set_state(CARL, BOT)
    slack.dms.members[CHANNEL].discard(CARL)  # user_not_in_channel for the ephemeral
    bot.clock.now = NINE
    outcome = await bot.service.scheduled_digest(person_ref(CARL))
    assert outcome is not None and outcome.status == "failed"
    assert slack.dms.ephemerals == []
    entry = bot.app.profiles.person("slack", CARL)
    assert entry is not None and entry.state == PAUSED and entry.notified_at is None
    first = await bot.run("moe", user=CARL, channel=OTHER_CHANNEL)
    assert first["response_type"] == "ephemeral"
    assert first["text"].startswith("Paperboy could not send your personal alerts")
    assert "cannot_dm_bot" in first["text"]
    second = await bot.run("moe", user=CARL, channel=OTHER_CHANNEL)
    assert "could not send" not in second["text"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("subscribe --me", "Which topic? e.g. /papers subscribe mixture of experts --me"),
        ("subscribe moe --mee", "has no option --mee. Did you mean --me?"),
        ("subscribe moe --verbose", "has no option --verbose"),
        ("search moe --me", "has no --me form"),
        ("subscribe moe --include-channel-posts", "add --me"),
        ("list --me --include-channel-posts=maybe", "takes on or off"),
    ],
)
async def test_bad_personal_input_says_what_to_type(
    start: Start, slack: FakeSlack, text: str, expected: str
) -> None:
    bot = await start()
    reply = await bot.run(text, user=ANNA)
    assert reply["response_type"] == "ephemeral"
    assert expected in shown(reply), shown(reply)
    assert bot.app.profiles.person("slack", ANNA) is None
    assert bot.app.profiles.get("slack", CHANNEL) is None
