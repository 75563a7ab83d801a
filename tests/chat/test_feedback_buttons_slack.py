"""Slack feedback end to end: a digest posted through the real Slack delivery to the fake
Slack carries "More like this" / "Not for us" buttons; signed clicks and reaction events
from the fake reach bolt over HTTP, the votes are stored, and the next digest changes."""

from __future__ import annotations

import io
import os
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from feedback_days import OTHERS, dump
from slack_sdk.errors import SlackApiError

from bot.app import App, build_app, build_deliveries
from bot.chat.feedback import DAMAGED, NOT_ON_MESSAGE
from bot.chat.slack_app import SlackFrontend, start_slack
from bot.delivery.slack import SlackDelivery, slack_client
from bot.delivery.webhook import SlackWebhookDelivery
from bot.digest import ChannelOutcome
from bot.models import Digest, DigestItem, Paper
from bot.pipeline.render.slack import LESS_ACTION, MORE_ACTION, escape
from bot.settings import CommandSettings, Settings, SlackSettings
from bot.sources.detect import parse_any
from fakes.clock import Clock
from fakes.slack import FakeSlack
from fakes.slack_events import AppAnswer
from helpers import wait_until

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM, CONTROL, SINGLE = "C0FEEDBACK", "C0CONTROL1", "C0SINGLE01"
ADA, BOB = "U0ADA00001", "U0BOB00001"
DAY1 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
FETCH_LEAD = timedelta(hours=1)
ACK_LIMIT = 3.0
WAIT = 15.0


@pytest.fixture(autouse=True)
def _no_slack_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("SLACK_")]:
        monkeypatch.delenv(name)


@dataclass
class World:
    slack: FakeSlack
    app: App
    clock: Clock
    frontend: SlackFrontend
    tmp_path: Path

    def ingest(self, day: int, *, others: int = OTHERS) -> None:
        self.clock.now = DAY1 + timedelta(days=day - 1) - FETCH_LEAD
        path = dump(self.tmp_path, day, others)
        self.app.archive.upsert(
            parse_any(path.read_bytes(), source=path.name).papers, now=self.clock()
        )
        self.clock.now = DAY1 + timedelta(days=day - 1)

    async def digest(self) -> dict[str, ChannelOutcome]:
        deliveries = build_deliveries(self.app.settings, stream=io.StringIO())
        try:
            outcomes = await self.app.digest_cycle(deliveries).run(self.app.profiles.all())
        finally:
            for delivery in deliveries.values():
                await delivery.aclose()
        assert all(not o.failed for o in outcomes), [(o.status, o.error) for o in outcomes]
        return {o.profile.channel_id: o for o in outcomes}

    def title(self, key: str) -> str:
        paper = self.app.archive.get(key)
        assert paper is not None
        return paper.title

    def message_of(self, channel: str, key: str) -> dict[str, Any]:
        """The posted message carrying `key` (its metadata lists the papers)."""
        for message in self.slack.messages(channel):
            if key in message["metadata"]["event_payload"]["papers"]:
                return message
        raise AssertionError(f"{key} not posted in {channel}")

    async def click(self, channel: str, key: str, action_id: str, **kwargs: Any) -> AppAnswer:
        """Press `action_id` under paper `key` in the message that carries it."""
        message = self.message_of(channel, key)
        (block_id,) = [
            b["block_id"]
            for b in message["blocks"]
            if b["type"] == "actions" and b["elements"][0]["value"] == key
        ]
        start = time.monotonic()
        answer = await self.slack.app_requests.click(
            channel, message["ts"], action_id, block_id=block_id, **kwargs
        )
        assert answer.status == 200 and answer.body == "", answer
        assert time.monotonic() - start < ACK_LIMIT
        return answer

    async def reply(self, answer: AppAnswer) -> dict[str, Any]:
        url = answer.response_url
        await wait_until(lambda: self.slack.responses(url), WAIT, "the answer to the click")
        (reply,) = self.slack.responses(url)
        assert reply["response_type"] == "ephemeral" and not reply["replace_original"]
        return reply

    async def votes(self, channel: str) -> list[tuple[str, str, int, str]]:
        listing = await self.app.services().teach.listing(f"slack:{channel}")
        return sorted((v.user, v.paper_key, v.vote, v.via) for v in listing)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with AsyncExitStack() as stack:
        slack = await stack.enter_async_context(FakeSlack(channels=[TEAM, CONTROL, SINGLE]))
        settings = Settings(
            database=str(tmp_path / "p.db"),
            slack=SlackSettings(
                bot_token=slack.token, signing_secret=SECRET, api_url=slack.url, http_port=0
            ),
            commands=CommandSettings(per_minute=0),
        )
        clock = Clock(DAY1 - FETCH_LEAD)
        app = build_app(settings, clock=clock)
        stack.callback(app.close)
        for channel, topic in ((TEAM, "mixture of experts"), (CONTROL, "mixture of experts"),
                               (SINGLE, "tabular data cleaning")):  # fmt: skip
            app.profiles.ensure("slack", channel, name=channel.lower(), now=clock())
            app.profiles.add_topic("slack", channel, topic, now=clock())
        frontend = await start_slack(settings.slack, app.services())
        stack.push_async_callback(frontend.close)
        assert frontend.url is not None
        slack.app_requests.connect(frontend.url, SECRET)
        yield World(slack, app, clock, frontend, tmp_path)


def speech(world: World, keys: list[str]) -> list[str]:
    return [k for k in keys if "Speech" in world.title(k)]


def vision(world: World, keys: list[str]) -> list[str]:
    return [k for k in keys if "Vision" in world.title(k)]


async def test_clicks_are_stored_and_change_the_next_digest(world: World) -> None:
    world.ingest(1)
    day1 = await world.digest()
    posted = list(day1[TEAM].posted)
    assert len(speech(world, posted)) == 3 and len(vision(world, posted)) == 3
    (message,) = world.slack.messages(TEAM)  # six papers, one message, a button pair each
    actions = [b for b in message["blocks"] if b["type"] == "actions"]
    assert len(actions) == 6 and all(b["block_id"].startswith("paperboy_") for b in actions)

    answers = []
    for key in speech(world, posted):
        answers.append(await world.click(TEAM, key, LESS_ACTION, user=ADA))
    for key in vision(world, posted)[:2]:
        answers.append(await world.click(TEAM, key, MORE_ACTION, user=BOB))
    first = await world.reply(answers[0])
    assert first["text"].startswith("Noted: fewer papers like “Mixture-of-Experts Acoustic")
    more = await world.reply(answers[-1])
    assert more["text"].startswith("Noted: more papers like “Mixture-of-Experts Vision")
    stored = await world.votes(TEAM)
    assert stored == sorted(
        [(ADA, k, -1, "button") for k in speech(world, posted)]
        + [(BOB, k, 1, "button") for k in vision(world, posted)[:2]]
    )
    assert await world.votes(CONTROL) == []

    # A second click on the same paper replaces the vote, and says so.
    again = await world.click(TEAM, speech(world, posted)[0], LESS_ACTION, user=ADA)
    assert "replaces your earlier vote" in str((await world.reply(again))["blocks"])
    assert len(await world.votes(TEAM)) == 5

    # Day 2: the control channel (same topic, no feedback) gets all six, the speech papers
    # first; the channel that voted gets the vision papers first, the speech papers after
    # them or not at all.
    world.ingest(2)
    day2 = await world.digest()
    control, team = list(day2[CONTROL].posted), list(day2[TEAM].posted)
    shown = {"control": control, "with feedback": team}
    print(
        "\n[feedback slack] day 2:",
        {k: [world.title(p)[19:25] for p in v] for k, v in shown.items()},
    )
    assert control == speech(world, control) + vision(world, control)
    assert len(speech(world, control)) == 3 and len(vision(world, control)) == 3
    assert team[:3] == vision(world, team) and len(team) <= 6
    assert set(team) <= set(control) and team != control


async def test_reactions_count_on_a_single_paper_message_only(world: World) -> None:
    world.ingest(1, others=0)
    day1 = await world.digest()
    (single,) = day1[SINGLE].posted  # the tabular paper alone: a single-paper message
    (one,) = world.slack.messages(SINGLE)
    (team,) = world.slack.messages(TEAM)  # six papers
    react = world.slack.app_requests.react

    ignored = [
        await react(TEAM, team["ts"], "+1", user=ADA),  # several papers: whose?
        await react(TEAM, team["ts"], "thumbsdown::skin-tone-3", user=BOB),
        await react(SINGLE, one["ts"], "tada", user=ADA),  # not a vote
        await react(SINGLE, one["ts"], "+1", user=world.slack.BOT_USER_ID),  # the bot's own
    ]
    assert all(answer.status == 200 for answer in ignored)
    assert (await react(SINGLE, one["ts"], "thumbsup", user=ADA)).status == 200
    await wait_until(lambda: world.votes(SINGLE), WAIT, "the reaction's vote")
    assert (await react(SINGLE, one["ts"], "-1::skin-tone-2", user=BOB)).status == 200
    await wait_until(lambda: _count(world.votes(SINGLE), 2), WAIT, "the second vote")
    assert world.frontend.votes is not None
    await world.frontend.votes.drain(WAIT)  # whatever was still being handled
    assert await world.votes(TEAM) == []
    assert await world.votes(SINGLE) == [
        (ADA, single, 1, "reaction"),
        (BOB, single, -1, "reaction"),
    ]


async def test_removing_a_reaction_withdraws_its_vote_only(world: World) -> None:
    world.ingest(1, others=0)
    day1 = await world.digest()
    (single,) = day1[SINGLE].posted
    (one,) = world.slack.messages(SINGLE)
    (team,) = world.slack.messages(TEAM)  # six papers
    requests = world.slack.app_requests
    key = day1[TEAM].posted[0]

    # 👍 stored, then removed: gone (any skin tone, as it was added).
    await requests.react(SINGLE, one["ts"], "thumbsup::skin-tone-2", user=ADA)
    await wait_until(lambda: world.votes(SINGLE), WAIT, "the reaction's vote")
    await requests.unreact(SINGLE, one["ts"], "thumbsup::skin-tone-2", user=ADA)
    await wait_until(lambda: _count(world.votes(SINGLE), 0), WAIT, "the vote withdrawn")

    # A vote given by button after the reaction is the person's vote now: removing the
    # reaction leaves it. Another direction's removal leaves a reaction's vote too.
    await requests.react(SINGLE, one["ts"], "+1", user=ADA)
    await requests.react(SINGLE, one["ts"], "-1", user=BOB)
    await wait_until(lambda: _count(world.votes(SINGLE), 2), WAIT, "two reactions' votes")
    await world.reply(await world.click(SINGLE, single, MORE_ACTION, user=ADA))
    assert (ADA, single, 1, "button") in await world.votes(SINGLE)
    await requests.unreact(SINGLE, one["ts"], "+1", user=ADA)
    await requests.unreact(SINGLE, one["ts"], "+1", user=BOB)  # BOB's vote is a 👎

    # On a message of several papers a reaction is no vote, so its removal withdraws none.
    await world.reply(await world.click(TEAM, key, MORE_ACTION, user=ADA))
    await requests.react(TEAM, team["ts"], "+1", user=ADA)
    await requests.unreact(TEAM, team["ts"], "+1", user=ADA)

    await requests.unreact(SINGLE, one["ts"], "-1", user=BOB)  # the last: once it is done,
    await wait_until(lambda: _count(world.votes(SINGLE), 1), WAIT, "BOB's vote withdrawn")
    assert world.frontend.votes is not None
    await world.frontend.votes.drain(WAIT)  # ... the earlier ones are too
    assert await world.votes(SINGLE) == [(ADA, single, 1, "button")]
    assert await world.votes(TEAM) == [(ADA, key, 1, "button")]


async def _count(votes: Any, n: int) -> bool:
    return len(await votes) == n


async def test_hostile_clicks_get_a_clear_private_error_and_store_nothing(world: World) -> None:
    world.ingest(1, others=0)
    day1 = await world.digest()
    (tabular,) = day1[SINGLE].posted
    key = day1[TEAM].posted[0]
    cases = {
        "unknown key": ("2401.99999", NOT_ON_MESSAGE),
        "forged: a paper of another message": (tabular, NOT_ON_MESSAGE),
        "forged: a hash naming no paper": ("#0123456789abcdef", NOT_ON_MESSAGE),
        "5,000 characters": ("x" * 5000, DAMAGED),
        "empty": ("", DAMAGED),
    }
    for what, (value, error) in cases.items():
        answer = await world.click(TEAM, key, MORE_ACTION, user=ADA, value=value)
        reply = await world.reply(answer)
        assert reply["text"] == escape(error), what
        assert "<" not in reply["text"]
    assert await world.votes(TEAM) == []

    # Unsigned, badly signed or stale clicks never reach the listener.
    message = world.message_of(TEAM, key)
    stale = await world.slack.app_requests.click(TEAM, message["ts"], MORE_ACTION, age=600)
    assert stale.status == 401
    world.slack.app_requests.connect(world.frontend.url or "", "not-the-secret")
    forged = await world.slack.app_requests.click(TEAM, message["ts"], MORE_ACTION)
    assert forged.status == 401
    assert await world.votes(TEAM) == [] and world.slack.responses(forged.response_url) == []


async def test_a_restarted_front_end_still_takes_an_old_button(
    world: World, tmp_path: Path
) -> None:
    world.ingest(1, others=0)
    day1 = await world.digest()
    await world.frontend.close()
    frontend = await start_slack(world.app.settings.slack, world.app.services())
    try:
        assert frontend.url is not None
        world.slack.app_requests.connect(frontend.url, SECRET)
        key = day1[TEAM].posted[-1]
        answer = await world.click(TEAM, key, MORE_ACTION, user=ADA)
        assert (await world.reply(answer))["text"].startswith("Noted: more papers like")
        assert await world.votes(TEAM) == [(ADA, key, 1, "button")]
    finally:
        await frontend.close()


def test_webhook_digests_carry_no_buttons() -> None:
    """An incoming webhook may belong to another app: clicks on its buttons would never
    reach Paperboy, so only the bot-token delivery renders them."""
    papers = [Paper(title=f"Paper {i}", arxiv_id=f"2406.0000{i}") for i in range(3)]
    digest = Digest("slack:X", "x", DAY1.date(), tuple(DigestItem(p, 1.0, (), "") for p in papers))
    hooked = SlackWebhookDelivery.render(None, digest)  # type: ignore[arg-type]
    posted = SlackDelivery.render(None, digest)  # type: ignore[arg-type]
    kinds = [b["type"] for m in hooked for b in m.payload["blocks"]]  # type: ignore[attr-defined]
    assert "actions" not in kinds
    kinds = [b["type"] for m in posted for b in m.payload["blocks"]]  # type: ignore[attr-defined]
    assert kinds.count("actions") == 3


async def test_the_fake_refuses_what_slack_refuses() -> None:
    """Actions blocks over Block Kit's limits are refused as Slack refuses them."""

    def button(action_id: str, **kw: Any) -> dict[str, Any]:
        text = {"type": "plain_text", "text": kw.pop("text", "More like this")}
        return {"type": "button", "action_id": action_id, "text": text, "value": "v", **kw}

    bad = {
        "text over 75": [button("a", text="x" * 76)],
        "mrkdwn text": [{**button("a"), "text": {"type": "mrkdwn", "text": "x"}}],
        "value over 2000": [button("a", value="x" * 2001)],
        "action_id over 255": [button("a" * 256)],
        "duplicate action_id in a block": [button("a"), button("a")],
        "26 elements": [button(f"a{i}") for i in range(26)],
        "unknown style": [button("a", style="green")],
    }
    async with FakeSlack(channels=[TEAM]) as slack:
        client = slack_client(slack.token, slack.url)
        for what, elements in bad.items():
            blocks = [{"type": "actions", "elements": elements}]
            with pytest.raises(SlackApiError) as refused:
                await client.chat_postMessage(channel=TEAM, text="x", blocks=blocks)
            assert refused.value.response["error"] == "invalid_blocks", what
        fine = [{"type": "actions", "elements": [button("a"), button("b")]}] * 2
        await client.chat_postMessage(channel=TEAM, text="x", blocks=fine)  # same ids, 2 blocks
