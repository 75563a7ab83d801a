"""Discord feedback end to end: a digest posted through the real Discord delivery to the
fake Discord carries a "More like this" / "Not for us" row per paper; button clicks
(INTERACTION_CREATE type 3) and reactions (MESSAGE_REACTION_ADD) from the fake gateway go
through discord.py's own dispatch (view store, DynamicItem, raw reaction events), the votes
are stored, and the next digest changes. A new client still handles an old button."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import discord.http
import pytest
from feedback_days import OTHERS, dump

from bot.app import App, build_app, build_deliveries
from bot.chat.discord_app import PaperboyClient, discord_client
from bot.chat.feedback import DAMAGED, NOT_ON_MESSAGE
from bot.delivery.webhook import DiscordWebhookDelivery
from bot.digest import ChannelOutcome
from bot.models import Digest, DigestItem, Paper
from bot.pipeline.render.discord_embeds import escape, feedback_id
from bot.settings import CommandSettings, DiscordSettings, Settings
from bot.sources.detect import parse_any
from fakes.clock import Clock
from fakes.discord import FakeDiscordApp
from fakes.discord_interactions import EPHEMERAL

pytestmark = pytest.mark.usefixtures("discord_route")  # Route.BASE restored

TEAM, CONTROL, SINGLE = "1200000000000000042", "1200000000000000043", "1200000000000000044"
ADA, BOB = "1400000000000000007", "1400000000000000008"
DAY1 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
FETCH_LEAD = timedelta(hours=1)


@dataclass
class World:
    fake: FakeDiscordApp
    app: App
    clock: Clock
    client: PaperboyClient
    tmp_path: Path

    def ingest(self, day: int, *, others: int = OTHERS) -> None:
        self.clock.now = DAY1 + timedelta(days=day - 1) - FETCH_LEAD
        path = dump(self.tmp_path, day, others)
        papers = parse_any(path.read_bytes(), source=path.name).papers
        self.app.archive.upsert(papers, now=self.clock())
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
        """The bot's posted message whose buttons are about `key`."""
        wanted = feedback_id("more", key)
        for message in self.fake.messages(channel):
            ids = [c["custom_id"] for r in message["components"] for c in r["components"]]
            if message["via"] == "bot" and wanted in ids:
                return message
        raise AssertionError(f"{key} not posted in {channel}")

    async def click(
        self, channel: str, key: str, vote: str, *, client: PaperboyClient | None = None, **kw: Any
    ) -> dict[str, Any]:
        """Press `vote` ("more"/"less") under `key`; the private answer's message."""
        message = self.message_of(channel, key)
        custom_id = kw.pop("custom_id", feedback_id(vote, key))
        payload = await self.fake.gateway.click(
            client or self.client, message["id"], custom_id, **kw
        )
        return self.answer(payload)

    def answer(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The interaction's answer: deferred privately at once, then edited in."""
        log = [e for e in self.fake.interactions.log if e["interaction_id"] == payload["id"]]
        assert log, "the click was not answered"
        assert log[0]["kind"] == "callback" and log[0]["type"] == 5
        assert log[0]["data"]["flags"] & EPHEMERAL
        (message,) = [m for m in self.fake.messages() if m["id"] == log[-1]["message_id"]]
        assert message["flags"] & EPHEMERAL
        return message

    async def votes(self, channel: str) -> list[tuple[str, str, int, str]]:
        listing = await self.app.services().teach.listing(f"discord:{channel}")
        return sorted((v.user, v.paper_key, v.vote, v.via) for v in listing)


async def _client(app: App, fake: FakeDiscordApp) -> PaperboyClient:
    discord.http.Route.BASE = fake.base
    client = discord_client(app.settings.discord, app.services())
    await client.login(fake.token)  # HTTP only, as in production; the gateway is the fake's
    return client


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with AsyncExitStack() as stack:
        fake = await stack.enter_async_context(FakeDiscordApp(channels=[TEAM, CONTROL, SINGLE]))
        settings = Settings(
            database=str(tmp_path / "p.db"),
            discord=DiscordSettings(bot_token=fake.token, api_url=fake.base),  # type: ignore[arg-type]
            commands=CommandSettings(per_minute=0),
        )
        clock = Clock(DAY1 - FETCH_LEAD)
        app = build_app(settings, clock=clock)
        stack.callback(app.close)
        for channel, topic in ((TEAM, "mixture of experts"), (CONTROL, "mixture of experts"),
                               (SINGLE, "tabular data cleaning")):  # fmt: skip
            app.profiles.ensure("discord", channel, name=f"c{channel[-2:]}", now=clock())
            app.profiles.add_topic("discord", channel, topic, now=clock())
        client = await _client(app, fake)
        stack.push_async_callback(client.close)
        yield World(fake, app, clock, client, tmp_path)


def speech(world: World, keys: list[str]) -> list[str]:
    return [k for k in keys if "Speech" in world.title(k)]


def vision(world: World, keys: list[str]) -> list[str]:
    return [k for k in keys if "Vision" in world.title(k)]


async def test_clicks_are_stored_and_change_the_next_digest(world: World) -> None:
    world.ingest(1)
    day1 = await world.digest()
    posted = list(day1[TEAM].posted)
    assert len(speech(world, posted)) == 3 and len(vision(world, posted)) == 3
    (message,) = [m for m in world.fake.messages(TEAM) if m["via"] == "bot"]
    assert [e["author"]["name"] for e in message["embeds"]] == [f"Paper {n}" for n in range(1, 7)]
    assert [len(r["components"]) for r in message["components"]] == [4, 4, 4]  # 2 papers a row

    for key in speech(world, posted):
        answer = await world.click(TEAM, key, "less", user=ADA)
        assert answer["content"].startswith("**Noted: fewer papers like “Mixture")
    for key in vision(world, posted)[:2]:
        answer = await world.click(TEAM, key, "more", user=BOB)
        assert answer["content"].startswith("**Noted: more papers like “Mixture")
    assert await world.votes(TEAM) == sorted(
        [(ADA, k, -1, "button") for k in speech(world, posted)]
        + [(BOB, k, 1, "button") for k in vision(world, posted)[:2]]
    )
    assert await world.votes(CONTROL) == []

    world.ingest(2)
    day2 = await world.digest()
    control, team = list(day2[CONTROL].posted), list(day2[TEAM].posted)
    shown = {"control": control, "with feedback": team}
    print(
        "\n[feedback discord] day 2:",
        {k: [world.title(p)[19:25] for p in v] for k, v in shown.items()},
    )
    assert control == speech(world, control) + vision(world, control)
    assert len(speech(world, control)) == 3 and len(vision(world, control)) == 3
    assert team[:3] == vision(world, team) and len(team) <= 6
    assert set(team) <= set(control) and team != control


async def test_reactions_count_on_a_single_paper_message_only(world: World) -> None:
    world.ingest(1, others=0)
    day1 = await world.digest()
    (single,) = day1[SINGLE].posted
    (one,) = [m for m in world.fake.messages(SINGLE) if m["via"] == "bot"]
    team = next(m for m in world.fake.messages(TEAM) if m["via"] == "bot")  # six papers
    react = world.fake.gateway.react
    client = world.client

    await react(client, team["id"], "👍", user=ADA)  # several papers: whose?
    await react(client, team["id"], "👎🏽", user=BOB)
    await react(client, one["id"], "🎉", user=ADA)  # not a vote
    await react(client, one["id"], "👍", user=world.fake.BOT_USER_ID, bot=True)  # the bot
    assert await world.votes(TEAM) == [] and await world.votes(SINGLE) == []

    await react(client, one["id"], "👍", user=ADA)
    await react(client, one["id"], "👎🏿", user=BOB)
    assert await world.votes(SINGLE) == [
        (ADA, single, 1, "reaction"),
        (BOB, single, -1, "reaction"),
    ]


async def test_removing_a_reaction_withdraws_its_vote_only(world: World) -> None:
    world.ingest(1, others=0)
    day1 = await world.digest()
    (single,) = day1[SINGLE].posted
    (one,) = [m for m in world.fake.messages(SINGLE) if m["via"] == "bot"]
    team = next(m for m in world.fake.messages(TEAM) if m["via"] == "bot")  # six papers
    gateway, client = world.fake.gateway, world.client
    key = day1[TEAM].posted[0]

    # 👍 stored, then removed: gone (any skin tone).
    await gateway.react(client, one["id"], "👍🏽", user=ADA)
    assert await world.votes(SINGLE) == [(ADA, single, 1, "reaction")]
    await gateway.unreact(client, one["id"], "👍🏽", user=ADA)
    assert await world.votes(SINGLE) == []

    # A vote given by button after the reaction is the person's vote now: removing the
    # reaction leaves it. Another direction's removal leaves a reaction's vote too.
    await gateway.react(client, one["id"], "👍", user=ADA)
    await gateway.react(client, one["id"], "👎", user=BOB)
    await world.click(SINGLE, single, "more", user=ADA)
    await gateway.unreact(client, one["id"], "👍", user=ADA)
    await gateway.unreact(client, one["id"], "👍", user=BOB)  # BOB's vote is a 👎
    assert await world.votes(SINGLE) == [(ADA, single, 1, "button"), (BOB, single, -1, "reaction")]
    await gateway.unreact(client, one["id"], "👎", user=BOB)
    assert await world.votes(SINGLE) == [(ADA, single, 1, "button")]

    # On a message of several papers a reaction is no vote, so its removal withdraws none.
    await world.click(TEAM, key, "more", user=ADA)
    await gateway.react(client, team["id"], "👍", user=ADA)
    await gateway.unreact(client, team["id"], "👍", user=ADA)
    assert await world.votes(TEAM) == [(ADA, key, 1, "button")]


async def test_a_new_client_still_handles_an_old_button(world: World) -> None:
    world.ingest(1, others=0)
    day1 = await world.digest()
    await world.client.close()  # the process restarts: nothing of the old client is left
    client = await _client(world.app, world.fake)
    try:
        key = day1[TEAM].posted[-1]
        answer = await world.click(TEAM, key, "more", user=ADA, client=client)
        assert answer["content"].startswith("**Noted: more papers like")
        assert await world.votes(TEAM) == [(ADA, key, 1, "button")]
    finally:
        await client.close()


async def test_hostile_clicks_get_a_clear_private_error_and_store_nothing(world: World) -> None:
    world.ingest(1, others=0)
    day1 = await world.digest()
    (tabular,) = day1[SINGLE].posted
    key = day1[TEAM].posted[0]
    cases = {
        "unknown key": ("paperboy:more:2401.99999", NOT_ON_MESSAGE),
        "forged: a paper of another message": (feedback_id("more", tabular), NOT_ON_MESSAGE),
        "forged: a hash naming no paper": ("paperboy:less:#0123456789abcdef", NOT_ON_MESSAGE),
        "5,000 characters": ("paperboy:more:" + "x" * 5000, DAMAGED),
        "empty reference": ("paperboy:less:", DAMAGED),
    }
    for what, (custom_id, error) in cases.items():
        answer = await world.click(TEAM, key, "more", user=ADA, custom_id=custom_id, forge=True)
        assert answer["content"] == f"**{escape(error)}**", what
    assert await world.votes(TEAM) == []


async def test_the_fake_refuses_what_discord_refuses(world: World) -> None:
    """Components over Discord's limits are refused; a webhook the application does not own
    cannot carry interactive components (Discord ignores them), so webhook digests have
    none."""
    headers = {"Authorization": f"Bot {world.fake.token}"}
    url = f"{world.fake.base}/channels/{TEAM}/messages"

    def button(custom_id: str) -> dict[str, Any]:
        return {"type": 2, "style": 1, "label": "x", "custom_id": custom_id}

    bad = {
        "custom_id over 100": [{"type": 1, "components": [button("x" * 101)]}],
        "six rows": [{"type": 1, "components": [button(f"b{i}")]} for i in range(6)],
        "six in a row": [{"type": 1, "components": [button(f"b{i}") for i in range(6)]}],
        "duplicate custom_id": [{"type": 1, "components": [button("a"), button("a")]}],
        "label over 80": [{"type": 1, "components": [{**button("a"), "label": "x" * 81}]}],
    }
    async with aiohttp.ClientSession(headers=headers) as http:
        for what, rows in bad.items():
            async with http.post(url, json={"content": "x", "components": rows}) as resp:
                assert resp.status == 400, what
                assert (await resp.json())["code"] == 50035
        hook = world.fake.add_webhook(TEAM)
        rows = [{"type": 1, "components": [button("a")]}]
        async with http.post(hook + "?wait=true", json={"content": "x", "components": rows}) as r:
            assert r.status == 200 and (await r.json())["components"] == []

    papers = [Paper(title=f"Paper {i}", arxiv_id=f"2406.0000{i}") for i in range(3)]
    digest = Digest(
        "discord:1", "x", DAY1.date(), tuple(DigestItem(p, 1.0, (), "") for p in papers)
    )
    for message in DiscordWebhookDelivery.render(None, digest):  # type: ignore[arg-type]
        assert "components" not in message.payload
