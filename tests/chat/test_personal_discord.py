"""Personal alerts on Discord end to end (issue 19): raw `/papers … me:True` interactions
through discord.py's command tree (the caller is `interaction.user.id`), scheduled digests
through the service, DMs opened with `POST /users/@me/channels` and posted on the fake
Discord; a user who blocks DMs (403, code 50007) is paused and told at their next command."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import discord.http
import pytest

import fakes.discord
from bot.app import App, build_app, build_deliveries
from bot.chat.discord_app import PaperboyClient, discord_client
from bot.service import Service
from bot.settings import CommandSettings, DiscordSettings, Settings
from bot.sources.detect import parse_any
from bot.sources.retrieve import FileRetriever
from bot.store.profile_rules import PAUSED
from fakes.clock import Clock

pytestmark = pytest.mark.usefixtures("discord_route")

MONDAY = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
NINE = MONDAY + timedelta(hours=1, seconds=1)
GUILD = "1300000000000000001"
CHANNEL = "1200000000000000042"
ADA, BEA, CY = "1400000000000000007", "1400000000000000008", "1400000000000000009"
COMMAND_ID = "1600000000000000001"
VIEW_AND_SEND = (1 << 10) | (1 << 11)  # no Manage Channels: the channel is not theirs


def _dump(tmp_path: Path, day: int) -> Path:
    moe = [
        f"Sparse Mixture-of-Experts Routing {day}.{i}: Balanced Experts at Scale\n\n"
        f"We propose routing variant {i} for Mixture-of-Experts (MoE) language models. "
        f"Each token is sent to two experts by a learned gate, and variant {i} keeps the "
        "expert load balanced without an auxiliary loss."
        for i in range(3)
    ]
    path = tmp_path / f"archive{day}.txt"
    path.write_text("new\n\nNov 23\n\n" + "\n\n".join(moe) + "\n")
    return path


def _ingest(app: App, path: Path) -> None:
    app.archive.upsert(parse_any(path.read_bytes(), source=path.name).papers, now=app.clock())


@pytest.fixture
async def fake() -> AsyncIterator[fakes.discord.FakeDiscordApp]:
    async with fakes.discord.FakeDiscordApp(channels=[CHANNEL]) as server:
        server.dms.add_user(ADA)
        server.dms.add_user(BEA, accepts_dms=False)  # blocks DMs from the bot
        yield server


@pytest.fixture
def app(tmp_path: Path, fake: fakes.discord.FakeDiscordApp) -> Iterator[App]:
    settings = Settings(
        database=str(tmp_path / "p.db"),
        discord=DiscordSettings(bot_token=fake.token, api_url=fake.base),
        commands=CommandSettings(per_minute=0),
    )
    app = build_app(settings, clock=Clock(MONDAY - timedelta(hours=1)))
    _ingest(app, _dump(tmp_path, 1))
    app.clock.now = MONDAY  # type: ignore[attr-defined]
    try:
        yield app
    finally:
        app.close()


@pytest.fixture
async def bot(app: App, fake: fakes.discord.FakeDiscordApp) -> AsyncIterator[PaperboyClient]:
    discord.http.Route.BASE = fake.base
    client = discord_client(app.settings.discord, app.services())
    await client.login(fake.token)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def service(app: App) -> AsyncIterator[Service]:
    deliveries = build_deliveries(app.settings)
    try:
        yield Service(app, deliveries, FileRetriever(), app.clock)
    finally:
        for delivery in deliveries.values():
            await delivery.aclose()


def _option(name: str, value: object) -> dict[str, Any]:
    kind = 5 if isinstance(value, bool) else 4 if isinstance(value, int) else 3
    return {"type": kind, "name": name, "value": value}


def _interaction(
    fake: fakes.discord.FakeDiscord, user_id: str, subcommand: str, **options: object
) -> dict[str, Any]:
    """INTERACTION_CREATE for `/papers <subcommand>` by `user_id` in CHANNEL."""
    interaction_id, token = fake.add_interaction(CHANNEL)
    user = {"id": user_id, "username": "u", "discriminator": "0", "avatar": None}
    return {
        "id": interaction_id,
        "application_id": fake.application_id,
        "type": 2,
        "token": token,
        "version": 1,
        "locale": "en-US",
        "entitlements": [],
        "attachment_size_limit": 10_485_760,
        "app_permissions": str(VIEW_AND_SEND),
        "authorizing_integration_owners": {"0": GUILD},
        "data": {
            "id": COMMAND_ID,
            "name": "papers",
            "type": 1,
            "options": [
                {
                    "type": 1,
                    "name": subcommand,
                    "options": [_option(k, v) for k, v in options.items()],
                }
            ],
        },
        "context": 0,
        "guild_id": GUILD,
        "guild_locale": "en-US",
        "guild": {"id": GUILD, "locale": "en-US", "features": []},
        "channel_id": CHANNEL,
        "channel": {
            "id": CHANNEL,
            "type": 0,
            "guild_id": GUILD,
            "name": "ml-papers",
            "position": 0,
            "permissions": str(VIEW_AND_SEND),
            "nsfw": False,
            "parent_id": None,
            "flags": 0,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "topic": None,
        },
        "member": {
            "user": user,
            "roles": [],
            "joined_at": "2024-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "nick": None,
            "avatar": None,
            "premium_since": None,
            "permissions": str(VIEW_AND_SEND),
        },
    }


async def run(
    client: PaperboyClient,
    fake: fakes.discord.FakeDiscord,
    user_id: str,
    subcommand: str,
    **options: object,
) -> dict[str, Any]:
    """The interaction's answer (its original message, edited after the deferral)."""
    payload = _interaction(fake, user_id, subcommand, **options)
    client._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
    running = [t for t in asyncio.all_tasks() if t.get_name() == "CommandTree-invoker"]
    await asyncio.gather(*running)
    ids = [e["message_id"] for e in fake.interactions.log if e["interaction_id"] == payload["id"]]
    messages = [m for m in fake.messages() if m["id"] in ids]
    assert messages, f"no answer to {subcommand}"
    return messages[-1]


def seen(message: dict[str, Any]) -> str:
    parts = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        parts += [embed.get("title") or "", embed.get("description") or ""]
        parts += [f.get("value", "") for f in embed.get("fields") or []]
    return "\n".join(parts)


def private(message: dict[str, Any]) -> bool:
    return bool((message.get("flags") or 0) & 64)


def ref(user_id: str) -> str:
    return f"user:discord:{user_id}"


async def test_subscribe_me_then_scheduled_dm_then_unsubscribe_me(
    tmp_path: Path,
    app: App,
    fake: fakes.discord.FakeDiscordApp,
    bot: PaperboyClient,
    service: Service,
) -> None:
    refused = await run(bot, fake, ADA, "subscribe", topic="mixture of experts")
    assert "can't change what this channel follows" in seen(refused)
    answer = await run(bot, fake, ADA, "subscribe", topic="mixture of experts", me=True)
    assert private(answer) and "Your personal alerts now follow" in seen(answer)
    entry = app.profiles.person("discord", ADA)
    assert entry is not None and entry.profile.home == f"discord:{CHANNEL}"
    assert app.profiles.get("discord", CHANNEL) is None

    app.clock.now = NINE  # type: ignore[attr-defined]
    outcome = await service.scheduled_digest(ref(ADA))
    assert outcome is not None and outcome.status == "done", outcome
    dms = [m for m in fake.dms.messages_to(ADA) if m["via"] == "bot"]
    titles = [e["title"] for m in dms for e in m["embeds"]]
    assert sum("Mixture-of-Experts" in t for t in titles) == 3
    assert "3 new papers for you" in dms[0]["content"]
    assert not any(m.get("components") for m in dms)  # no feedback buttons in a DM
    assert [m for m in fake.messages(CHANNEL) if m["via"] == "bot"] == []

    gone = await run(bot, fake, ADA, "unsubscribe", topic="mixture of experts", me=True)
    assert private(gone) and "no longer follow" in seen(gone)
    app.clock.now = MONDAY + timedelta(days=1) - timedelta(hours=1)  # type: ignore[attr-defined]
    _ingest(app, _dump(tmp_path, 2))
    app.clock.now = NINE + timedelta(days=1)  # type: ignore[attr-defined]
    later = await service.scheduled_digest(ref(ADA))
    assert later is None or not later.posted
    assert len(fake.dms.messages_to(ADA)) == len(dms)


async def test_blocked_dms_pause_the_person_who_is_told_at_the_next_command(
    app: App, fake: fakes.discord.FakeDiscordApp, bot: PaperboyClient, service: Service
) -> None:
    await run(bot, fake, BEA, "subscribe", topic="mixture of experts", me=True)
    await run(bot, fake, ADA, "subscribe", topic="mixture of experts", me=True)
    app.clock.now = NINE  # type: ignore[attr-defined]
    outcomes = {o.profile.ref: o for o in await service.cycle.run(app.profiles.all())}
    assert outcomes[ref(ADA)].status == "done" and fake.dms.messages_to(ADA)
    failed = outcomes[ref(BEA)]
    assert failed.status == "failed" and "50007" in (failed.error or "")
    assert fake.dms.refused == 1  # one attempt: a refusal is not retried
    entry = app.profiles.person("discord", BEA)
    assert entry is not None and entry.state == PAUSED and entry.notified_at is None
    assert await service.scheduled_digest(ref(BEA)) is None  # paused: skipped
    assert fake.dms.refused == 1

    # Her next command (any, here a search) tells her, privately, once.
    first = await run(bot, fake, BEA, "search", query="experts")
    assert private(first)
    assert "could not send your personal alerts" in seen(first) and "50007" in seen(first)
    second = await run(bot, fake, BEA, "list", me=True)
    assert "could not send" not in seen(second) and "Paused" in seen(second)
    # Ada's answers never carry Bea's notice.
    assert "could not send" not in seen(await run(bot, fake, ADA, "list", me=True))

    fake.dms.add_user(BEA)  # she accepts DMs again
    resumed = await run(bot, fake, BEA, "resume", me=True)
    assert "back on" in seen(resumed)
    entry = app.profiles.person("discord", BEA)
    assert entry is not None and entry.state == "active" and entry.reason is None


async def test_an_unknown_discord_user_is_refused_at_create_dm(
    app: App, fake: fakes.discord.FakeDiscordApp, bot: PaperboyClient, service: Service
) -> None:
    await run(bot, fake, CY, "subscribe", topic="mixture of experts", me=True)  # unknown
    app.clock.now = NINE  # type: ignore[attr-defined]
    outcome = await service.scheduled_digest(ref(CY))
    assert outcome is not None and outcome.status == "failed"
    entry = app.profiles.person("discord", CY)
    assert entry is not None and entry.state == PAUSED
    assert entry.reason is not None and "10013" in entry.reason


async def test_a_typed_topic_that_is_an_option_is_refused(
    app: App, fake: fakes.discord.FakeDiscordApp, bot: PaperboyClient
) -> None:
    answer = await run(bot, fake, ADA, "subscribe", topic="--me", me=True)
    assert private(answer) and "--me is an option, not a topic" in seen(answer)
    assert app.profiles.person("discord", ADA) is None
    posts = await run(bot, fake, ADA, "list", include_channel_posts=True)
    assert "add --me" in seen(posts) and app.profiles.person("discord", ADA) is None


async def test_unsubscribe_me_autocompletes_the_callers_own_topics(
    app: App, fake: fakes.discord.FakeDiscordApp, bot: PaperboyClient
) -> None:
    await run(bot, fake, ADA, "subscribe", topic="speech recognition", me=True)
    await run(bot, fake, BEA, "subscribe", topic="mixture of experts", me=True)
    for user, expected in ((ADA, ["speech recognition"]), (BEA, ["mixture of experts"])):
        payload = _interaction(fake, user, "unsubscribe", topic="", me=True)
        payload["type"] = 4  # APPLICATION_COMMAND_AUTOCOMPLETE
        payload["data"]["options"][0]["options"][0]["focused"] = True
        bot._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
        running = [t for t in asyncio.all_tasks() if t.get_name() == "CommandTree-invoker"]
        await asyncio.gather(*running)
        (callback,) = [
            e for e in fake.interactions.callbacks if e["interaction_id"] == payload["id"]
        ]
        assert [c["value"] for c in callback["data"]["choices"]] == expected


async def test_include_channel_posts_is_a_typed_option_of_every_me_command(
    app: App, fake: fakes.discord.FakeDiscordApp, bot: PaperboyClient
) -> None:
    await run(bot, fake, ADA, "subscribe", topic="mixture of experts", me=True)
    paused = await run(bot, fake, ADA, "pause", me=True, include_channel_posts=True)
    assert private(paused) and "paused" in seen(paused) and "now sent to you too" in seen(paused)
    entry = app.profiles.person("discord", ADA)
    assert entry is not None and entry.profile.include_channel_posts and entry.state == PAUSED
    await run(bot, fake, ADA, "resume", me=True, include_channel_posts=False)
    entry = app.profiles.person("discord", ADA)
    assert entry is not None and not entry.profile.include_channel_posts
