"""/papers on Discord: raw interaction payloads through discord.py's gateway entry point and
command tree, answered over real HTTP to the fake Discord (deadlines and limits enforced)."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
import re
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import discord.http
import pytest
from aiohttp import web
from click.testing import CliRunner

import fakes.discord
from bot.app import App, build_app, build_deliveries
from bot.chat.discord_app import PaperboyClient, discord_client, start_discord, sync_commands
from bot.chat.discord_replies import SOMETHING_WRONG
from bot.cli import cli
from bot.errors import ConfigError
from bot.settings import CommandSettings, DiscordSettings, Settings
from bot.sources.detect import parse_any
from fakes.clock import Clock
from fakes.discord import FakeDiscord
from fakes.discord_interactions import EPHEMERAL, LOADING
from handlers.registry import BY_NAME, SUBCOMMANDS
from handlers.reply import CommandRequest, Reply
from handlers.services import Services

pytestmark = pytest.mark.usefixtures("discord_route")  # Route.BASE restored

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
GUILD = "1300000000000000001"
CHANNEL = "1200000000000000042"
USER = "1400000000000000007"
MANAGER_ROLE = "1500000000000000009"
COMMAND_ID = "1600000000000000001"
VIEW_AND_SEND = (1 << 10) | (1 << 11)
MANAGE_CHANNELS = 1 << 4
ZWSP = "\u200b"


class WallClock:
    """The fake Discord's clock (seconds): tests move it instead of sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeDiscordApp(fakes.discord.FakeDiscordApp):
    """The fake Discord plus what `Client.login` (application info) and `CommandTree.sync`
    (bulk overwrite, global or per guild) call."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.synced: list[tuple[str | None, list[dict[str, Any]]]] = []

    def _add_routes(self, app: web.Application) -> None:
        super()._add_routes(app)
        api = f"/api/v{self.API_VERSION}"
        app.router.add_put(f"{api}/applications/{{app_id}}/commands", self._sync)
        app.router.add_put(
            f"{api}/applications/{{app_id}}/guilds/{{guild_id}}/commands", self._sync
        )

    async def _sync(self, request: web.Request) -> web.StreamResponse:
        denied = self._unauthorized(request)
        if denied is not None:
            return denied
        if request.match_info["app_id"] != self.application_id:
            return self._error(403, 50001, "Missing Access")
        commands = await request.json()
        guild = request.match_info.get("guild_id")
        self.synced.append((guild, commands))
        extra = {"application_id": self.application_id, "version": "1", "guild_id": guild}
        return self._json([{**c, "id": self._snowflake(), **extra} for c in commands])


@pytest.fixture
def clock() -> WallClock:
    return WallClock()


@pytest.fixture
async def fake(clock: WallClock) -> AsyncIterator[FakeDiscordApp]:
    async with FakeDiscordApp(channels=[CHANNEL], clock=clock) as server:
        yield server


def _dump(tmp_path: Path) -> Path:
    """A small synthetic archive: Mixture-of-Experts papers, speech papers, one other."""
    moe = [
        f"Sparse Mixture-of-Experts Routing {i}: Balanced Experts at Scale\n\n"
        f"We propose routing variant {i} for Mixture-of-Experts (MoE) language models. "
        f"Each token is sent to two experts by a learned gate, and variant {i} keeps the "
        "expert load balanced without an auxiliary loss."
        for i in range(4)
    ]
    speech = [
        f"Streaming Speech Recognition with Chunked Attention {i}\n\n"
        f"We present a streaming automatic speech recognition (ASR) model {i} that attends "
        "over short chunks of audio. Speech recognition latency drops by half on read speech."
        for i in range(2)
    ]
    other = [
        "Tabular Data Cleaning with Rules\n\n"
        "We describe a rule engine for tabular data cleaning that finds inconsistent rows."
    ]
    path = tmp_path / "archive.txt"
    path.write_text("new\n\nNov 23\n\n" + "\n\n".join(moe + speech + other) + "\n")
    return path


def _settings(tmp_path: Path, fake: FakeDiscord, **discord_settings: Any) -> Settings:
    return Settings(
        database=str(tmp_path / "p.db"),
        discord=DiscordSettings(bot_token=fake.token, api_url=fake.base, **discord_settings),
        commands=CommandSettings(per_minute=0),  # rate limit: tests/reliability
    )


def _ingest(app: App, *paths: Path) -> None:
    for path in paths:
        result = parse_any(path.read_bytes(), source=path.name)
        app.archive.upsert(result.papers, now=app.clock())


@pytest.fixture
def app(tmp_path: Path, fake: FakeDiscordApp) -> Iterator[App]:
    app = build_app(_settings(tmp_path, fake, manager_role=MANAGER_ROLE), clock=Clock(NOW))
    _ingest(app, _dump(tmp_path))
    try:
        yield app
    finally:
        app.close()


async def _client(app: App, fake: FakeDiscord, **kwargs: Any) -> PaperboyClient:
    discord.http.Route.BASE = fake.base
    client = discord_client(app.settings.discord, kwargs.pop("services", app.services()), **kwargs)
    await client.login(fake.token)  # HTTP only, as in production; no gateway
    return client


@pytest.fixture
async def bot(app: App, fake: FakeDiscordApp) -> AsyncIterator[PaperboyClient]:
    client = await _client(app, fake)
    try:
        yield client
    finally:
        await client.close()


# -- raw interaction payloads --------------------------------------------------------------


def _option(name: str, value: object, *, focused: bool = False) -> dict[str, Any]:
    kind = 5 if isinstance(value, bool) else 4 if isinstance(value, int) else 3
    option: dict[str, Any] = {"type": kind, "name": name, "value": value}
    if focused:
        option["focused"] = True
    return option


def _interaction(
    fake: FakeDiscord,
    subcommand: str,
    *options: dict[str, Any],
    kind: int = 2,
    permissions: int = VIEW_AND_SEND,
    roles: tuple[str, ...] = (),
    in_guild: bool = True,
) -> dict[str, Any]:
    """An INTERACTION_CREATE payload as Discord sends it for `/papers <subcommand>`."""
    interaction_id, token = fake.add_interaction(CHANNEL)
    user = {
        "id": USER,
        "username": "ada",
        "discriminator": "0",
        "global_name": "Ada",
        "avatar": None,
    }
    payload: dict[str, Any] = {
        "id": interaction_id,
        "application_id": fake.application_id,
        "type": kind,
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
            "options": [{"type": 1, "name": subcommand, "options": list(options)}],
        },
    }
    if in_guild:
        payload |= {
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
                "permissions": str(permissions),
                "nsfw": False,
                "parent_id": None,
                "flags": 0,
                "last_message_id": None,
                "rate_limit_per_user": 0,
                "topic": None,
            },
            "member": {
                "user": user,
                "roles": list(roles),
                "joined_at": "2024-01-01T00:00:00+00:00",
                "deaf": False,
                "mute": False,
                "flags": 0,
                "pending": False,
                "nick": None,
                "avatar": None,
                "premium_since": None,
                "permissions": str(permissions),
            },
        }
    else:
        payload |= {
            "context": 1,
            "user": user,
            "channel_id": "1700000000000000001",
            "channel": {
                "id": "1700000000000000001",
                "type": 1,
                "flags": 0,
                "last_message_id": None,
                "recipients": [user],
            },
        }
    return payload


async def _deliver(client: discord.Client, payload: dict[str, Any]) -> None:
    """Hand `payload` to discord.py as the gateway does, and wait for the tree to finish."""
    client._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
    running = [t for t in asyncio.all_tasks() if t.get_name() == "CommandTree-invoker"]
    await asyncio.gather(*running)


def _answer(fake: FakeDiscord, payload: dict[str, Any]) -> dict[str, Any]:
    """The interaction's final visible answer: its original message (edited after a
    deferral) or, when the original only says it was posted, the public follow-up."""
    ids = [e["message_id"] for e in fake.interactions.log if e["interaction_id"] == payload["id"]]
    messages = [m for m in fake.messages() if m["id"] in ids]
    assert messages, f"no answer to {payload['data']['options'][0]['name']}"
    return messages[-1]


def _callbacks(fake: FakeDiscord, payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in fake.interactions.callbacks if e["interaction_id"] == payload["id"]]


def _topics(app: App) -> tuple[str, ...]:
    profile = app.profiles.get("discord", CHANNEL)
    return profile.topics if profile else ()


# -- tests ---------------------------------------------------------------------------------


def test_the_logged_text_is_the_papers_equivalent() -> None:
    search, why = BY_NAME["search"], BY_NAME["why"]
    assert (
        search.text({"query": "moe", "results": 10, "share": True}) == "search moe --top 10 --share"
    )
    assert search.text({"query": "  moe  ", "share": False}) == "search moe"
    assert why.text({}) == "why"


async def test_search_answers_privately_with_moe_embeds(
    fake: FakeDiscordApp, bot: PaperboyClient
) -> None:
    payload = _interaction(fake, "search", _option("query", "moe"))
    await _deliver(bot, payload)

    (callback,) = _callbacks(fake, payload)
    assert callback["type"] == 5 and callback["data"]["flags"] & EPHEMERAL  # deferred, private
    message = _answer(fake, payload)
    assert message["flags"] & EPHEMERAL and not message["flags"] & LOADING
    assert message["allowed_mentions"] == {"parse": []}
    titles = [e["title"] for e in message["embeds"]]
    assert len(titles) == 4 and all("Mixture-of-Experts" in t for t in titles), titles
    assert "moe" in message["content"]


async def test_shared_search_is_public_and_honours_results(
    fake: FakeDiscordApp, bot: PaperboyClient
) -> None:
    payload = _interaction(
        fake,
        "search",
        _option("query", "mixture of experts"),
        _option("results", 2),
        _option("share", True),
    )
    await _deliver(bot, payload)

    (callback,) = _callbacks(fake, payload)
    assert callback["type"] == 5 and not int(callback["data"].get("flags") or 0) & EPHEMERAL
    message = _answer(fake, payload)
    assert not message["flags"] & EPHEMERAL
    assert len(message["embeds"]) == 2
    assert message["allowed_mentions"] == {"parse": []}


async def test_subscribe_needs_manage_channels_or_the_manager_role(
    app: App, fake: FakeDiscordApp, bot: PaperboyClient
) -> None:
    refused = _interaction(fake, "subscribe", _option("topic", "moe"))
    await _deliver(bot, refused)
    content = _answer(fake, refused)["content"]
    assert "Manage Channels" in content and MANAGER_ROLE in content, content
    assert _topics(app) == ()

    by_permission = _interaction(
        fake, "subscribe", _option("topic", "moe"), permissions=VIEW_AND_SEND | MANAGE_CHANNELS
    )
    await _deliver(bot, by_permission)
    answer = _answer(fake, by_permission)
    assert "now follows" in answer["content"] and answer["embeds"]  # with a preview
    by_role = _interaction(
        fake, "subscribe", _option("topic", "speech recognition"), roles=(MANAGER_ROLE,)
    )
    await _deliver(bot, by_role)
    assert "now follows" in _answer(fake, by_role)["content"]

    listing = _interaction(fake, "list")
    await _deliver(bot, listing)
    content = _answer(fake, listing)["content"]
    assert "moe" in content and "speech recognition" in content
    assert _topics(app) == ("moe", "speech recognition")


async def test_autocomplete_offers_channel_topics_and_archive_topics(
    app: App, fake: FakeDiscordApp, bot: PaperboyClient
) -> None:
    for topic in ("moe", "speech recognition", "tabular data"):
        payload = _interaction(
            fake, "subscribe", _option("topic", topic), permissions=MANAGE_CHANNELS
        )
        await _deliver(bot, payload)
    assert len(_topics(app)) == 3

    mine = _interaction(fake, "unsubscribe", _option("topic", "", focused=True), kind=4)
    await _deliver(bot, mine)
    (callback,) = _callbacks(fake, mine)
    assert callback["type"] == 8  # APPLICATION_COMMAND_AUTOCOMPLETE_RESULT
    choices = callback["data"]["choices"]
    assert sorted(c["value"] for c in choices) == ["moe", "speech recognition", "tabular data"]

    typed = _interaction(fake, "unsubscribe", _option("topic", "spe", focused=True), kind=4)
    await _deliver(bot, typed)
    (callback,) = _callbacks(fake, typed)
    assert callback["data"]["choices"][0]["value"] == "speech recognition"

    known = _interaction(fake, "subscribe", _option("topic", "mix", focused=True), kind=4)
    await _deliver(bot, known)
    (callback,) = _callbacks(fake, known)
    values = [c["value"] for c in callback["data"]["choices"]]
    assert any("mixture" in v.lower() for v in values), values  # learnt from "(MoE)"
    assert all(1 <= len(c["name"]) <= 100 for c in callback["data"]["choices"])


HOSTILE = [
    "@everyone look",
    "<@123> and <@&456> and <#789>",
    "@here " + "moe " * 1250,  # 5,000 characters
    "🧪📄 mixture of experts 🚀",
    "\u202emoe\u202c مزيج من الخبراء",
    "[click](https://evil.example) **moe** `x`",
]


@pytest.mark.parametrize("text", HOSTILE, ids=["everyone", "ids", "5000", "emoji", "rtl", "md"])
@pytest.mark.parametrize("subcommand", ["search", "subscribe", "why"])
async def test_hostile_input_pings_nobody(
    fake: FakeDiscordApp, bot: PaperboyClient, subcommand: str, text: str
) -> None:
    name = {"search": "query", "subscribe": "topic", "why": "paper"}[subcommand]
    payload = _interaction(
        fake, subcommand, _option(name, text), permissions=MANAGE_CHANNELS, roles=()
    )
    await _deliver(bot, payload)

    message = _answer(fake, payload)
    assert SOMETHING_WRONG not in message["content"]  # an answer, not a crash
    assert message["allowed_mentions"] == {"parse": []}
    blob = message["content"] + json.dumps(message["embeds"], ensure_ascii=False)
    assert "@everyone" not in blob and "@here" not in blob
    assert not re.search(r"<[@#]", blob), blob[:300]
    assert "](https://evil" not in blob
    assert len(message["content"]) <= 2000


async def test_slow_store_is_deferred_within_the_deadline(
    app: App, fake: FakeDiscordApp, clock: WallClock
) -> None:
    """The search takes 4 s (on the fake's clock): the defer must reach Discord before it
    starts, within 3 s of the interaction; the answer comes later, as an edit."""
    services = app.services()
    seen: list[int] = []

    class SlowSearch:
        def search(self, *args: Any, **kwargs: Any) -> Any:
            seen.append(len(fake.interactions.callbacks))
            clock.now += 4.0
            return services.search.search(*args, **kwargs)

    slow = dataclasses.replace(services, search=SlowSearch())
    client = await _client(app, fake, services=slow)
    try:
        payload = _interaction(fake, "search", _option("query", "moe"))
        await _deliver(client, payload)
    finally:
        await client.close()

    assert seen == [1]  # the defer was acknowledged before the store was read
    (callback,) = _callbacks(fake, payload)
    assert callback["type"] == 5
    kinds = [e["kind"] for e in fake.interactions.log if e["interaction_id"] == payload["id"]]
    assert kinds == ["callback", "edit"]
    assert clock.now >= 1004.0  # the answer came after the 3 s acknowledgement deadline
    assert len(_answer(fake, payload)["embeds"]) == 4


async def test_a_late_acknowledgement_is_logged_without_secrets(
    app: App, fake: FakeDiscordApp, clock: WallClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The negative control of the test above: an answer after 3 s is refused by Discord
    (the fake enforces it); the failure is logged with the tokens redacted."""

    async def slow_help(request: CommandRequest, services: Services) -> Reply:
        clock.now += 4.0
        return Reply("help")

    client = await _client(app, fake, dispatch=slow_help)
    try:
        payload = _interaction(fake, "help")
        with caplog.at_level(logging.ERROR, logger="bot.chat.discord_app"):
            await _deliver(client, payload)
    finally:
        await client.close()
    assert not fake.messages()
    assert "/papers help failed" in caplog.text and "NotFound" in caplog.text
    assert payload["token"] not in caplog.text and fake.token not in caplog.text


async def test_unexpected_error_answers_privately_and_logs_no_secret(
    app: App, fake: FakeDiscordApp, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(request: CommandRequest, services: Services) -> Reply:
        raise RuntimeError(f"database said no (token {fake.token})")

    client = await _client(app, fake, dispatch=broken)
    try:
        deferred = _interaction(fake, "search", _option("query", "moe"), _option("share", True))
        immediate = _interaction(fake, "help")
        with caplog.at_level(logging.ERROR, logger="bot.chat.discord_app"):
            await _deliver(client, deferred)
            await _deliver(client, immediate)
    finally:
        await client.close()
    assert _answer(fake, deferred)["content"].startswith(f"**{SOMETHING_WRONG}")
    message = _answer(fake, immediate)
    assert message["content"].startswith(f"**{SOMETHING_WRONG}")
    assert message["flags"] & EPHEMERAL
    assert "RuntimeError" in caplog.text and "[redacted]" in caplog.text
    assert fake.token not in caplog.text


async def test_a_public_answer_to_a_private_deferral_is_a_public_follow_up(
    app: App, fake: FakeDiscordApp
) -> None:
    """Discord keeps the deferral's visibility for the edited original, so a reply that
    turns out public is posted as a follow-up and the private original says so."""

    async def public(request: CommandRequest, services: Services) -> Reply:
        return Reply("Topics: <@&1> moe", public=True)

    client = await _client(app, fake, dispatch=public)
    try:
        payload = _interaction(fake, "list")
        await _deliver(client, payload)
    finally:
        await client.close()
    kinds = [e["kind"] for e in fake.interactions.log if e["interaction_id"] == payload["id"]]
    assert kinds == ["callback", "edit", "followup"]
    original, follow_up = [m for m in fake.messages() if m["via"] in {"interaction", "followup"}]
    assert original["flags"] & EPHEMERAL and original["content"] == "Posted to the channel."
    assert not follow_up["flags"] & EPHEMERAL and "moe" in follow_up["content"]
    assert "<@" not in follow_up["content"] and follow_up["allowed_mentions"] == {"parse": []}


async def test_a_private_answer_to_a_public_deferral_is_a_private_follow_up(
    app: App, fake: FakeDiscordApp
) -> None:
    """A shared search deferred publicly whose answer is private (an error): the channel
    sees only a note, the caller gets the answer as an ephemeral follow-up."""

    async def private(request: CommandRequest, services: Services) -> Reply:
        return Reply("Slow down: try again in a minute.", error=True)

    client = await _client(app, fake, dispatch=private)
    try:
        payload = _interaction(fake, "search", _option("query", "moe"), _option("share", True))
        await _deliver(client, payload)
    finally:
        await client.close()
    kinds = [e["kind"] for e in fake.interactions.log if e["interaction_id"] == payload["id"]]
    assert kinds == ["callback", "edit", "followup"]
    original, follow_up = [m for m in fake.messages() if m["via"] in {"interaction", "followup"}]
    assert not original["flags"] & EPHEMERAL and original["content"] == "Answered privately."
    assert follow_up["flags"] & EPHEMERAL and "Slow down" in follow_up["content"]


async def test_direct_messages_get_a_clear_answer(
    app: App, fake: FakeDiscordApp, bot: PaperboyClient
) -> None:
    payload = _interaction(fake, "search", _option("query", "moe"), in_guild=False)
    await _deliver(bot, payload)
    (callback,) = _callbacks(fake, payload)
    assert callback["type"] == 4 and callback["data"]["flags"] & EPHEMERAL
    assert "server channels" in callback["data"]["content"]
    assert app.profiles.get("discord", "1700000000000000001") is None


async def test_subscribe_digest_unsubscribe_digest(
    tmp_path: Path, app: App, fake: FakeDiscordApp, bot: PaperboyClient
) -> None:
    """End to end: chat changes what the next digest posts to the channel."""

    async def command(subcommand: str, topic: str) -> None:
        payload = _interaction(
            fake, subcommand, _option("topic", topic), permissions=MANAGE_CHANNELS
        )
        await _deliver(bot, payload)
        assert "follows" in _answer(fake, payload)["content"]

    async def digest() -> list[str]:
        before = len(fake.messages(CHANNEL))
        deliveries = build_deliveries(app.settings, stream=io.StringIO())
        try:
            outcomes = await app.digest_cycle(deliveries).run(app.profiles.all())
        finally:
            for delivery in deliveries.values():
                await delivery.aclose()
        assert all(not o.failed for o in outcomes), [(o.status, o.error) for o in outcomes]
        posted = [m for m in fake.messages(CHANNEL)[before:] if m["via"] == "bot"]
        return [e["title"] for m in posted for e in m["embeds"]]

    await command("subscribe", "mixture of experts")
    await command("subscribe", "speech recognition")
    day1 = await digest()
    assert sum("Mixture-of-Experts" in t for t in day1) == 4
    assert sum("Speech Recognition" in t for t in day1) == 2

    await command("unsubscribe", "mixture of experts")
    assert isinstance(app.clock, Clock)
    app.clock.now = NOW + timedelta(days=1)
    newer = tmp_path / "day2.txt"
    newer.write_text(
        _dump(tmp_path)
        .read_text()
        .replace("Routing ", "Routing II ")
        .replace("Chunked Attention", "Chunked Attention II")
    )
    _ingest(app, newer)
    day2 = await digest()
    assert day2 and all("Speech Recognition" in t for t in day2), day2
    assert not any("Mixture-of-Experts" in t for t in day2)


async def test_sync_commands_registers_the_group_on_demand(app: App, fake: FakeDiscordApp) -> None:
    names = await sync_commands(app.settings.discord, guild_id=int(GUILD))
    assert names[0] == "/papers search" and len(names) == len(SUBCOMMANDS)
    ((guild, commands),) = fake.synced
    assert guild == GUILD and [c["name"] for c in commands] == ["papers"]
    subcommands = {o["name"] for o in commands[0]["options"]}
    assert subcommands == set(SUBCOMMANDS)
    await sync_commands(app.settings.discord, guild_id=None)
    assert fake.synced[-1][0] is None

    fake.revoke(fake.token)
    with pytest.raises(ConfigError) as rejected:
        await sync_commands(app.settings.discord, guild_id=None)
    assert fake.token not in str(rejected.value)


async def test_start_discord_logs_in_and_closes(app: App, fake: FakeDiscordApp) -> None:
    running = await start_discord(app.settings.discord, app.services())
    assert running.client.user is not None and running.client.application_id is not None
    await asyncio.sleep(0)  # the gateway task starts (the fake has no gateway: it retries)
    await asyncio.wait_for(running.close(), timeout=5)
    assert running.task.done() and running.client.is_closed()

    fake.revoke(fake.token)
    with pytest.raises(ConfigError):
        await start_discord(app.settings.discord, app.services())


def test_cli_sync_commands(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"database: {tmp_path / 'p.db'}\n")
    missing = CliRunner().invoke(cli, ["--config", str(config), "sync-commands"])
    assert missing.exit_code == 2 and "discord.bot_token" in missing.output

    loop = asyncio.new_event_loop()
    fake = FakeDiscordApp()
    loop.run_until_complete(fake.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        config.write_text(
            f"database: {tmp_path / 'p.db'}\n"
            f"discord: {{bot_token: {fake.token}, api_url: '{fake.base}'}}\n"
        )
        base = discord.http.Route.BASE
        try:
            result = CliRunner().invoke(
                cli, ["--config", str(config), "sync-commands", "--guild", GUILD]
            )
        finally:
            discord.http.Route.BASE = base
    finally:
        asyncio.run_coroutine_threadsafe(fake.close(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()
    assert result.exit_code == 0, result.output
    assert f"synced {len(SUBCOMMANDS)} command(s) to server {GUILD}" in result.output
    assert "/papers why" in result.output and fake.token not in result.output
