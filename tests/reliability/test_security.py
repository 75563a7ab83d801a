"""Security properties of the chat front-ends and what they reach, over real HTTP and SQLite:
signatures checked before anything runs, profile changes refused without permission, no
secret in any output, injection that only ever searches, mentions that ping nobody, no URL
fetched from chat, and a per-user rate limit."""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import io
import json
import logging
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import discord
import discord.http
import pytest
from aiohttp import web
from click.testing import CliRunner
from sqlalchemy import Engine, inspect, text

from bot.app import App, build_app, build_deliveries
from bot.chat.discord_app import discord_client, start_discord
from bot.chat.slack_app import SlackFrontend, start_slack
from bot.chat.slack_command import FAILURE, MANAGE_RULE
from bot.cli import cli
from bot.digest import DigestCycle
from bot.errors import ConfigError
from bot.logs import configure_logging, settings_secrets
from bot.models import Paper
from bot.settings import (
    ChannelSettings,
    CommandSettings,
    DiscordSettings,
    Settings,
    SlackSettings,
    load_settings,
)
from bot.sources.detect import parse_any
from fakes.clock import Clock, no_sleep
from fakes.discord import FakeDiscord, FakeDiscordApp
from fakes.slack import FakeSlack
from handlers.commands import dispatch as real_dispatch
from handlers.parse import SUBCOMMANDS
from handlers.ratelimit import MAX_KEYS, Bucket, RateLimiter, spend
from handlers.reply import CommandRequest, Reply
from handlers.services import Services
from helpers import free_port, slack_signature, wait_until

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "bot" / "data" / "sample-dump.txt"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CHANNEL, USER, ADMIN = "C0SECURE01", "U0MEMBER01", "U0ADMIN001"
GUILD, DCHANNEL, DUSER = "1300000000000000001", "1200000000000000042", "1400000000000000007"
VIEW_AND_SEND, MANAGE_CHANNELS = (1 << 10) | (1 << 11), 1 << 4
WAIT = 15.0
# Known secrets: each must never appear in a log line, a reply, `paperboy status` or stderr.
BOT_TOKEN = "xoxb-1111-2222-SECRETBOTTOKEN"
SIGNING = "signing-SECRET-8f742231b10e8888abcd"
APP_TOKEN = "xapp-1-SECRETAPPTOKEN-3333"
DISCORD_TOKEN = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.SECRET.discord-bot-token-value-4444"
LIVE_SLACK = re.compile(r"<[!@#]")  # <!channel>, <!here>, <@U…>, <#C…> unescaped
DISCORD_RAW = ("@everyone", "@here", "<@", "<#", "<!", "<t:", "<http")


class Seconds:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, discord_route: None) -> None:
    """bolt reads SLACK_* variables; discord.py's API base is global: restore both."""
    import os

    for name in [n for n in os.environ if n.startswith(("SLACK_", "DISCORD_"))]:
        monkeypatch.delenv(name)


def hostile_papers() -> list[Paper]:
    """Papers whose own text tries to ping, link and inject (all about Mixture-of-Experts,
    so that searches and digests for `moe` carry them)."""
    return [
        Paper(
            title="<!channel> Mixture-of-Experts Routing for @everyone <@U0ADMIN001>",
            abstract=(
                "We propose Mixture-of-Experts (MoE) routing. <!here> <#C0GENERAL|general> "
                "<https://evil.example|click me> @here <@123456789012345678> "
                "[click](https://evil.example) <@&123456789012345678>"
            ),
            arxiv_id="2611.00001",
            authors=("<!subteam^S0123|@team>", "@everyone"),
        ),
        Paper(
            title="'; DROP TABLE papers; -- Sparse Mixture-of-Experts",
            abstract='Mixture-of-Experts (MoE) layers. ") OR ("1"="1 NEAR( ^ * title:* OR 1=1',
            arxiv_id="2611.00002",
            github_repo="https://x.io/<!channel>|evil",
        ),
    ]


def make_app(tmp_path: Path, settings: Settings | None = None) -> App:
    settings = settings or Settings(database=str(tmp_path / "p.db"))
    app = build_app(settings, clock=Clock(NOW))
    app.archive.upsert(parse_any(SAMPLE.read_bytes(), source="sample").papers, now=NOW)
    app.archive.upsert(hostile_papers(), now=NOW)
    return app


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (schema included): equal snapshots = nothing changed."""
    with engine.connect() as conn:
        tables = sorted(inspect(conn).get_table_names())
        out = {
            t: sorted(map(tuple, conn.execute(text(f'SELECT * FROM "{t}"'))), key=repr)
            for t in tables
        }
        out["sqlite_master"] = sorted(
            map(tuple, conn.execute(text("SELECT type, name, sql FROM sqlite_master")))
        )
    return out


# --- Slack over HTTP -------------------------------------------------------------------------


def sign(body: str, timestamp: int, secret: str = SIGNING) -> str:
    return slack_signature(secret, body, timestamp)


class DispatchSpy:
    """Records every request that reached dispatch, then runs the real one."""

    def __init__(self) -> None:
        self.calls: list[CommandRequest] = []

    async def __call__(self, request: CommandRequest, services: Services) -> Reply:
        self.calls.append(request)
        return await real_dispatch(request, services)


@dataclasses.dataclass
class SlackBot:
    slack: FakeSlack
    app: App
    frontend: SlackFrontend
    http: aiohttp.ClientSession

    def form(self, text: str, user: str = USER) -> dict[str, str]:
        return {
            "token": "legacy-verification-token",
            "team_id": FakeSlack.TEAM_ID,
            "channel_id": CHANNEL,
            "channel_name": "ml-papers",
            "user_id": user,
            "command": "/papers",
            "text": text,
            "api_app_id": "A0PAPERBOY",
            "response_url": self.slack.response_url(CHANNEL),
            "trigger_id": "1.2.3",
        }

    async def send(self, body: str, headers: dict[str, str]) -> int:
        assert self.frontend.url is not None
        headers = {"Content-Type": "application/x-www-form-urlencoded", **headers}
        async with self.http.post(self.frontend.url, data=body, headers=headers) as resp:
            await resp.read()
            return resp.status

    async def run(self, text: str, user: str = USER) -> dict[str, Any]:
        form = self.form(text, user)
        body = urlencode(form)
        ts = int(time.time())
        status = await self.send(
            body, {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": sign(body, ts)}
        )
        assert status == 200
        url = form["response_url"]
        await wait_until(lambda: self.slack.responses(url), WAIT, "a reply on the response_url")
        return self.slack.responses(url)[0]


StartSlack = Callable[..., Awaitable[SlackBot]]


@pytest.fixture
async def start_slack_bot(tmp_path: Path) -> AsyncIterator[StartSlack]:
    stack = AsyncExitStack()

    async def starter(
        *,
        admins: tuple[str, ...] = (),
        dispatch: Any = real_dispatch,
        services: Callable[[Services], Services] = lambda s: s,
        commands: CommandSettings | None = None,
    ) -> SlackBot:
        slack = await stack.enter_async_context(FakeSlack(tokens=[BOT_TOKEN], channels=[CHANNEL]))
        settings = Settings(
            database=str(tmp_path / "p.db"),
            slack=SlackSettings(
                bot_token=BOT_TOKEN,
                signing_secret=SIGNING,
                api_url=slack.url,
                http_port=0,
                admins=list(admins),
            ),
            commands=commands or CommandSettings(per_minute=0),
        )
        app = make_app(tmp_path, settings)
        stack.callback(app.close)
        frontend = await start_slack(settings.slack, services(app.services()), dispatch=dispatch)
        stack.push_async_callback(frontend.close)
        http = await stack.enter_async_context(aiohttp.ClientSession())
        return SlackBot(slack, app, frontend, http)

    async with stack:
        yield starter


def slack_shown(reply: dict[str, Any]) -> str:
    return (reply.get("text") or "") + json.dumps(reply.get("blocks"), ensure_ascii=False)


async def test_slack_refuses_unsigned_wrong_and_stale_requests_before_dispatch(
    start_slack_bot: StartSlack,
) -> None:
    """Every request whose signature is missing, wrong, for another body, malformed or
    older/newer than 5 minutes answers 401 and never reaches dispatch (a spy)."""
    spy = DispatchSpy()
    bot = await start_slack_bot(dispatch=spy)
    body = urlencode(bot.form("subscribe moe"))
    now = int(time.time())
    good = sign(body, now)

    def signed(stamp: int | str, signature: str) -> dict[str, str]:
        return {"X-Slack-Request-Timestamp": str(stamp), "X-Slack-Signature": signature}

    bad: dict[str, dict[str, str]] = {
        "no headers": {},
        "no signature": {"X-Slack-Request-Timestamp": str(now)},
        "no timestamp": {"X-Slack-Signature": good},
        "wrong secret": signed(now, sign(body, now, "nope")),
        "other body": signed(now, sign(body + "x", now)),
        "other timestamp": signed(now + 1, good),
        "6 min old": signed(now - 360, sign(body, now - 360)),
        "6 min ahead": signed(now + 360, sign(body, now + 360)),
        "v1 scheme": signed(now, good.replace("v0=", "v1=")),
        "garbage timestamp": signed("soon", good),
        "garbage signature": signed(now, "v0=zz"),
        "empty signature": signed(now, ""),
    }
    statuses = {name: await bot.send(body, headers) for name, headers in bad.items()}
    assert statuses == dict.fromkeys(bad, 401)
    assert spy.calls == [] and bot.slack.responses() == []
    assert bot.app.profiles.get("slack", CHANNEL) is None
    # the positive control: the same body, correctly signed, does reach dispatch
    assert (
        await bot.send(body, {"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": good})
        == 200
    )
    await wait_until(lambda: spy.calls, WAIT, "the signed request to reach dispatch")
    assert [c.text for c in spy.calls] == ["subscribe moe"]


MUTATING = [
    "subscribe speech recognition",
    "unsubscribe moe",
    "exclude benchmark",
    "include survey",
    "schedule 0 7 * * * Europe/Berlin",
    "SUBSCRIBE speech --share",
    "—share unsubscribe MoE",
    "schedule 30 6 * * mon",
]


def seed_profile(app: App, platform: str, channel: str) -> None:
    """A channel that follows `moe` and excludes `survey`: every mutating command would
    change something."""
    app.profiles.ensure(platform, channel, name="ml-papers", now=NOW)
    app.profiles.add_topic(platform, channel, "moe", now=NOW)
    app.profiles.add_exclude(platform, channel, "survey", now=NOW)


async def test_slack_member_outside_slack_admins_changes_nothing(
    start_slack_bot: StartSlack,
) -> None:
    bot = await start_slack_bot(admins=(ADMIN,))
    seed_profile(bot.app, "slack", CHANNEL)
    before = snapshot(bot.app.engine)
    for command in MUTATING:
        reply = await bot.run(command, user=USER)
        assert reply["response_type"] == "ephemeral", command
        assert MANAGE_RULE in slack_shown(reply), (command, slack_shown(reply)[:200])
    assert snapshot(bot.app.engine) == before
    # positive control: an admin's command does change the database
    assert "now follows" in (await bot.run("subscribe speech", user=ADMIN))["text"]
    assert snapshot(bot.app.engine) != before


# --- Discord interactions --------------------------------------------------------------------


def interaction(
    fake: FakeDiscord, subcommand: str, options: dict[str, Any], *, permissions: int
) -> dict[str, Any]:
    """INTERACTION_CREATE for `/papers <subcommand>` in a guild channel."""
    interaction_id, token = fake.add_interaction(DCHANNEL)
    user = {"id": DUSER, "username": "ada", "discriminator": "0", "avatar": None}
    opts = [
        {
            "type": 5 if isinstance(v, bool) else 4 if isinstance(v, int) else 3,
            "name": k,
            "value": v,
        }
        for k, v in options.items()
    ]
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
            "id": "1600000000000000001",
            "name": "papers",
            "type": 1,
            "options": [{"type": 1, "name": subcommand, "options": opts}],
        },
        "context": 0,
        "guild_id": GUILD,
        "guild_locale": "en-US",
        "guild": {"id": GUILD, "locale": "en-US", "features": []},
        "channel_id": DCHANNEL,
        "channel": {"id": DCHANNEL, "type": 0, "guild_id": GUILD, "name": "ml-papers",
                    "position": 0, "permissions": str(permissions), "nsfw": False,
                    "parent_id": None, "flags": 0},
        "member": {"user": user, "roles": [], "joined_at": "2024-01-01T00:00:00+00:00",
                   "deaf": False, "mute": False, "flags": 0, "pending": False,
                   "permissions": str(permissions)},
    }  # fmt: skip


async def deliver(client: discord.Client, payload: dict[str, Any]) -> None:
    client._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
    running = [t for t in asyncio.all_tasks() if t.get_name() == "CommandTree-invoker"]
    await asyncio.gather(*running)


def discord_answer(fake: FakeDiscord, payload: dict[str, Any]) -> dict[str, Any]:
    ids = [e["message_id"] for e in fake.interactions.log if e["interaction_id"] == payload["id"]]
    messages = [m for m in fake.messages() if m["id"] in ids]
    assert messages, "no answer"
    return messages[-1]


@dataclasses.dataclass
class DiscordBot:
    fake: FakeDiscordApp
    app: App
    client: discord.Client

    async def run(
        self, subcommand: str, options: dict[str, Any], *, permissions: int = VIEW_AND_SEND
    ) -> dict[str, Any]:
        payload = interaction(self.fake, subcommand, options, permissions=permissions)
        await deliver(self.client, payload)
        return discord_answer(self.fake, payload)


StartDiscord = Callable[..., Awaitable[DiscordBot]]


@pytest.fixture
async def start_discord_bot(tmp_path: Path) -> AsyncIterator[StartDiscord]:
    stack = AsyncExitStack()

    async def starter(
        *,
        dispatch: Any = real_dispatch,
        services: Callable[[Services], Services] = lambda s: s,
    ) -> DiscordBot:
        fake = await stack.enter_async_context(
            FakeDiscordApp(tokens=[DISCORD_TOKEN], channels=[DCHANNEL])
        )
        settings = Settings(
            database=str(tmp_path / "p.db"),
            discord=DiscordSettings(bot_token=DISCORD_TOKEN, api_url=fake.base),
            commands=CommandSettings(per_minute=0),
        )
        app = make_app(tmp_path, settings)
        stack.callback(app.close)
        discord.http.Route.BASE = fake.base
        client = discord_client(settings.discord, services(app.services()), dispatch=dispatch)
        await client.login(DISCORD_TOKEN)
        stack.push_async_callback(client.close)
        return DiscordBot(fake, app, client)

    async with stack:
        yield starter


def discord_mutations() -> list[tuple[str, dict[str, Any]]]:
    return [
        ("subscribe", {"topic": "speech recognition"}),
        ("unsubscribe", {"topic": "moe"}),
        ("exclude", {"term": "benchmark"}),
        ("include", {"term": "survey"}),
        ("schedule", {"cron": "0 7 * * *", "timezone": "Europe/Berlin"}),
        ("subscribe", {"topic": "--share speech"}),
    ]


async def test_discord_member_without_manage_channels_changes_nothing(
    start_discord_bot: StartDiscord,
) -> None:
    bot = await start_discord_bot()
    seed_profile(bot.app, "discord", DCHANNEL)
    before = snapshot(bot.app.engine)
    for subcommand, options in discord_mutations():
        answer = await bot.run(subcommand, options, permissions=VIEW_AND_SEND)
        assert "Manage Channels" in answer["content"], (subcommand, answer["content"])
    assert snapshot(bot.app.engine) == before
    done = await bot.run("subscribe", {"topic": "speech"}, permissions=MANAGE_CHANNELS)
    assert "now follows" in done["content"]
    assert snapshot(bot.app.engine) != before


# --- secrets ---------------------------------------------------------------------------------


def secret_values(settings: Settings) -> list[str]:
    """The configured secrets, and the secret part of each webhook URL on its own."""
    values = [BOT_TOKEN, SIGNING, APP_TOKEN, DISCORD_TOKEN, *settings_secrets(settings)]
    values += [v.rstrip("/").rsplit("/", 1)[-1] for v in list(values) if "://" in v]
    return sorted({v for v in values if v})


def assert_no_secret(where: str, output: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in output, f"{where} leaks {secret[:6]}…: {output[:500]}"


@contextmanager
def captured_logs(settings: Settings) -> Iterator[io.StringIO]:
    """The JSON log lines `paperboy run` writes, captured; logger levels restored after."""
    names = ["", "apscheduler", "aiohttp.access", "discord", "slack_bolt", "slack_sdk"]
    levels = {name: logging.getLogger(name).level for name in names}
    stream = io.StringIO()
    handler = configure_logging("DEBUG", secrets=settings_secrets(settings), stream=stream)
    try:
        yield stream
    finally:
        logging.getLogger().removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


async def test_no_secret_in_logs_or_replies_when_chat_fails(
    start_slack_bot: StartSlack, start_discord_bot: StartDiscord, tmp_path: Path
) -> None:
    """Exceptions in dispatch that carry the secrets, a store that fails, a revoked bot
    token at start: the JSON logs (bot.logs), the replies and the errors raised hold none
    of the secrets."""
    settings = Settings(
        database=str(tmp_path / "p.db"),
        slack=SlackSettings(bot_token=BOT_TOKEN, signing_secret=SIGNING, app_token=APP_TOKEN),
        discord=DiscordSettings(bot_token=DISCORD_TOKEN),
    )
    secrets = secret_values(settings)
    everything = f"token={BOT_TOKEN} secret={SIGNING} app={APP_TOKEN} discord={DISCORD_TOKEN}"

    async def leaky(request: CommandRequest, services: Services) -> Reply:
        if "store" in request.text:
            raise OSError(f"database is locked ({everything})")
        raise RuntimeError(f"boom: {everything}")

    def broken_store(services: Services) -> Services:
        class Broken:
            def search(self, *args: Any, **kwargs: Any) -> Any:
                from bot.errors import StoreError

                raise StoreError(f"sqlite refused: {everything}")

        return dataclasses.replace(services, search=Broken())  # type: ignore[arg-type]

    outputs: list[tuple[str, str]] = []
    with captured_logs(settings) as logs:
        slack_bot = await start_slack_bot(dispatch=leaky)
        for text_ in ("moe", "store moe"):
            outputs.append(("slack reply", slack_shown(await slack_bot.run(text_))))
        slack_store = await start_slack_bot(services=broken_store)
        outputs.append(("slack store reply", slack_shown(await slack_store.run("moe"))))
        discord_bot = await start_discord_bot(dispatch=leaky)
        answer = await discord_bot.run("search", {"query": "moe"})
        outputs.append(("discord reply", json.dumps(answer)))
        # a token Slack / Discord refuses at start
        slack_bot.slack.revoke(BOT_TOKEN, error="token_revoked")
        refused = SlackSettings(
            bot_token=BOT_TOKEN, signing_secret=SIGNING, api_url=slack_bot.slack.url, http_port=0
        )
        with pytest.raises(ConfigError) as slack_error:
            await start_slack(refused, slack_bot.app.services())
        outputs.append(("slack start error", str(slack_error.value)))
        discord_bot.fake.revoke(DISCORD_TOKEN)
        with pytest.raises(ConfigError) as discord_error:
            await start_discord(
                DiscordSettings(bot_token=DISCORD_TOKEN, api_url=discord_bot.fake.base),
                discord_bot.app.services(),
            )
        outputs.append(("discord start error", str(discord_error.value)))
    logged = logs.getvalue()
    assert "RuntimeError: boom" in logged and "sqlite refused" in logged  # failures were logged
    assert FAILURE in outputs[0][1] and "not reachable" in outputs[2][1]
    for where, output in [*outputs, ("logs", logged)]:
        assert_no_secret(where, output, secrets)


@contextmanager
def serving(*servers: Any) -> Iterator[None]:
    """Run fake servers on an event loop in a thread, for synchronous CLI tests."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        for server in servers:
            asyncio.run_coroutine_threadsafe(server.start(), loop).result(timeout=10)
        yield
    finally:
        for server in servers:
            asyncio.run_coroutine_threadsafe(server.close(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


async def digest_without_waiting(config: Path, env: dict[str, str]) -> list[Any]:
    """One digest cycle as `paperboy digest` runs it, with the retry back-off not slept."""

    settings = load_settings(str(config), env=env)
    app = build_app(settings)
    deliveries = build_deliveries(settings, stream=io.StringIO())
    try:
        cycle = DigestCycle(
            archive=app.archive,
            ledger=app.ledger,
            runs=app.runs,
            lexicon=app.lexicon,
            deliveries=deliveries,
            clock=app.clock,
            sleep=no_sleep,
        )
        outcomes = await cycle.run(app.profiles.all())
        return [(o.profile.ref, o.status, o.error) for o in outcomes]
    finally:
        for delivery in deliveries.values():
            await delivery.aclose()
        app.close()


def test_no_secret_in_cli_output_status_or_logs_when_posting_fails(tmp_path: Path) -> None:
    """`paperboy digest` against a revoked Slack token, revoked Slack and Discord webhooks
    and a revoked Discord token, then a digest cycle against an unreachable Slack (its
    retries not slept); then `paperboy status` (text and --json) and `paperboy channels`:
    stdout, stderr and the JSON logs hold no token, signing secret or webhook URL, while
    the failures are reported."""
    slack = FakeSlack(tokens=[BOT_TOKEN], channels=[CHANNEL])
    fake_discord = FakeDiscordApp(tokens=[DISCORD_TOKEN], channels=[DCHANNEL])
    with serving(slack, fake_discord):
        slack_hook = slack.add_webhook("C0HOOK")
        discord_hook = fake_discord.add_webhook(DCHANNEL)
        for url in (slack_hook, discord_hook):
            assert url.startswith("http") and len(url.rsplit("/", 1)[-1]) >= 6
        env = {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING,
            "DISCORD_BOT_TOKEN": DISCORD_TOKEN,
            "SLACK_HOOK": slack_hook,
            "DISCORD_HOOK": discord_hook,
        }
        topics = "topics: [mixture of experts], lookback: 7d"
        config = tmp_path / "paperboy.yaml"

        def write(slack_api: str) -> None:
            lines = [
                f"database: {tmp_path / 'p.db'}",
                "slack:",
                "  bot_token: ${SLACK_BOT_TOKEN}",
                "  signing_secret: ${SLACK_SIGNING_SECRET}",
                f"  api_url: '{slack_api}'",
                "discord:",
                "  bot_token: ${DISCORD_BOT_TOKEN}",
                f"  api_url: '{fake_discord.base}'",
                "channels:",
                f"  - {{platform: slack, id: {CHANNEL}, {topics}}}",
                f"  - {{platform: discord, id: '{DCHANNEL}', {topics}}}",
                f"  - {{platform: slack-webhook, id: hook1, url: '${{SLACK_HOOK}}', {topics}}}",
                f"  - {{platform: discord-webhook, id: hook2, url: '${{DISCORD_HOOK}}', {topics}}}",
            ]
            config.write_text("\n".join(lines) + "\n")

        write(slack.url)
        seeded = build_app(
            Settings(database=str(tmp_path / "p.db")), clock=lambda: datetime.now(UTC)
        )
        seeded.archive.upsert(
            parse_any(SAMPLE.read_bytes(), source="s").papers, now=datetime.now(UTC)
        )
        seeded.close()
        slack.revoke(BOT_TOKEN, error="token_revoked")
        slack.revoke_webhook(slack_hook)
        fake_discord.revoke_webhook(discord_hook)
        fake_discord.revoke(DISCORD_TOKEN)
        settings_env = Settings(
            slack=SlackSettings(bot_token=BOT_TOKEN, signing_secret=SIGNING),
            discord=DiscordSettings(bot_token=DISCORD_TOKEN),
            channels=[
                ChannelSettings(platform="slack-webhook", id="a", url=slack_hook),
                ChannelSettings(platform="discord-webhook", id="b", url=discord_hook),
            ],
        )
        secrets = secret_values(settings_env)
        runner = CliRunner()
        outputs: list[tuple[str, str]] = []
        base = discord.http.Route.BASE
        with captured_logs(settings_env) as logs:
            try:
                args = ["--config", str(config)]
                first = runner.invoke(cli, [*args, "digest"], env=env)
                write(f"http://127.0.0.1:{free_port()}/api/")  # nothing listens there
                unreachable = asyncio.run(digest_without_waiting(config, env))
                status = runner.invoke(cli, [*args, "status"], env=env)
                status_json = runner.invoke(cli, [*args, "status", "--json"], env=env)
                channels = runner.invoke(cli, [*args, "channels"], env=env)
            finally:
                discord.http.Route.BASE = base
        outputs.append(("digest (unreachable)", repr(unreachable)))
        for name, result in (
            ("digest (revoked)", first),
            ("status", status),
            ("status --json", status_json),
            ("channels", channels),
        ):
            outputs.append((name, result.output + (result.stderr if result.stderr_bytes else "")))
            if result.exception and not isinstance(result.exception, SystemExit):
                raise result.exception
    assert first.exit_code == 1 and "token_revoked" in first.output, first.output
    assert "Slack unreachable" in repr(unreachable)
    assert status.exit_code == 1 and "connection refused" in status.output, status.output
    report = json.loads(status_json.output)
    assert len(report["failing"]) == 4, report["failing"]
    for where, output in [*outputs, ("logs", logs.getvalue())]:
        assert_no_secret(where, output, secrets)


# --- injection -------------------------------------------------------------------------------

INJECTIONS = [
    "'; DROP TABLE papers; --",
    "title:* OR 1=1",
    '") OR ("',
    'moe" OR 1=1; DELETE FROM profiles; --',
    "NEAR(moe experts, 1)",
    "^moe",
    "moe*",
    "* OR *",
    "{title abstract}: moe",
    "papers_fts MATCH 'x'",
    "x'); ATTACH DATABASE '/tmp/pwn.db' AS pwn; --",
    "\\'; UPDATE papers SET title='pwned' --",
    "%' OR '1'='1",
    "moe -- comment",
    "rowid:1",
]


async def test_sql_and_fts_injection_only_searches(tmp_path: Path) -> None:
    """Injection strings as searches, topics, exclusions and `why` arguments: the archive
    is unchanged row for row, and the topics are stored exactly as typed."""
    settings = Settings(database=str(tmp_path / "p.db"), commands=CommandSettings(per_minute=0))
    app = make_app(tmp_path, settings)
    try:
        services = app.services()
        papers_before = snapshot(app.engine)["papers"]
        count = app.archive.count()

        def request(text_: str) -> CommandRequest:
            return CommandRequest("slack", CHANNEL, USER, text_)

        for attack in INJECTIONS:
            for prefix in ("", "search ", "why "):
                reply = await real_dispatch(request(prefix + attack), services)
                assert reply.title and reply.title != FAILURE
        assert (await real_dispatch(request("'; DROP TABLE papers; --"), services)).papers
        for attack in INJECTIONS:
            await real_dispatch(request(f"subscribe {attack}"), services)
            await real_dispatch(request(f"exclude {attack} x"), services)
        after = snapshot(app.engine)
        assert after["papers"] == papers_before and app.archive.count() == count
        profile = app.profiles.get("slack", CHANNEL)
        assert profile is not None
        assert list(profile.topics) == INJECTIONS  # stored exactly as typed
        assert list(profile.exclude) == [f"{a} x" for a in INJECTIONS]
        with app.engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    finally:
        app.close()


# --- mentions end to end ---------------------------------------------------------------------

MENTION_TEXT = [
    "<!channel> moe",
    "subscribe <!here> mixture of experts <@U0ADMIN001>",
    "why <!channel> Mixture-of-Experts Routing for @everyone",
    "search <#C0GENERAL|general> <https://evil.example|click> moe",
    "@everyone @here moe --share",
    "exclude <!subteam^S0123|@team>",
]


def check_slack_seen(seen: str) -> None:
    assert not LIVE_SLACK.search(seen), seen[:400]
    for link in re.findall(r"<(https?://[^|>]*)\|", seen):
        assert link.startswith(("https://arxiv.org/", "https://huggingface.co/")), link


def check_discord_seen(message: dict[str, Any]) -> None:
    assert message["allowed_mentions"] == {"parse": []}
    shown = message["content"] + json.dumps(
        [{**e, "url": None} for e in message["embeds"]], ensure_ascii=False
    )
    for raw in DISCORD_RAW:
        assert raw not in shown, (raw, shown[:400])
    assert "](https://evil" not in shown


async def test_mentions_in_paper_text_and_commands_ping_nobody(
    start_slack_bot: StartSlack, start_discord_bot: StartDiscord
) -> None:
    """Through the Slack and Discord front-ends: commands whose text and whose result
    papers carry `<!channel>`, `@everyone`, `<@…>`, `<#…>` and links are answered with all of
    it shown literally (Slack escaped, Discord escaped and `allowed_mentions` parsing
    nothing); the hostile paper is in the answers, so its text was rendered."""
    slack_bot = await start_slack_bot()
    slack_seen = []
    for command in MENTION_TEXT:
        seen = slack_shown(await slack_bot.run(command))
        check_slack_seen(seen)
        slack_seen.append(seen)
    assert any("&lt;!channel&gt; Mixture-of-Experts" in s for s in slack_seen)

    discord_bot = await start_discord_bot()
    answers = []
    for subcommand, options in [
        ("search", {"query": "<!channel> @everyone moe"}),
        ("search", {"query": "mixture of experts routing", "share": True}),
        ("subscribe", {"topic": "@everyone <@123456789012345678> moe"}),
        ("why", {"paper": "2611.00001"}),
        ("exclude", {"term": "<@&123456789012345678> @here"}),
    ]:
        answer = await discord_bot.run(subcommand, options, permissions=MANAGE_CHANNELS)
        check_discord_seen(answer)
        answers.append(answer)
    titles = [e["title"] for a in answers for e in a["embeds"]]
    assert any("Mixture-of-Experts Routing for" in t and "everyone" in t for t in titles), titles


async def test_digests_of_hostile_papers_ping_nobody(tmp_path: Path) -> None:
    """The same papers posted by the digest to Slack and Discord channels."""
    async with (
        FakeSlack(tokens=[BOT_TOKEN], channels=[CHANNEL]) as slack,
        FakeDiscord(tokens=[DISCORD_TOKEN], channels=[DCHANNEL]) as fake_discord,
    ):
        common: dict[str, Any] = {"topics": ["mixture of experts"], "max_posts": 0}
        settings = Settings(
            database=str(tmp_path / "p.db"),
            slack=SlackSettings(bot_token=BOT_TOKEN, api_url=slack.url),
            discord=DiscordSettings(bot_token=DISCORD_TOKEN, api_url=fake_discord.base),
            channels=[
                ChannelSettings(platform="slack", id=CHANNEL, name="<!channel>", **common),
                ChannelSettings(platform="discord", id=DCHANNEL, name="@everyone", **common),
            ],
        )
        app = make_app(tmp_path, settings)
        deliveries = build_deliveries(settings, stream=io.StringIO())
        try:
            outcomes = await app.digest_cycle(deliveries).run(app.profiles.all())
        finally:
            for delivery in deliveries.values():
                await delivery.aclose()
            app.close()
        assert all(o.status == "done" for o in outcomes), [(o.status, o.error) for o in outcomes]
        hostile_keys = {p.key for p in hostile_papers()}
        assert all(hostile_keys <= set(o.posted) for o in outcomes)
        for message in slack.messages(CHANNEL):
            assert not message["link_names"] and message["parse"] is None
            check_slack_seen(slack_shown(message))
        for message in fake_discord.messages(DCHANNEL):
            check_discord_seen(message)


# --- no SSRF from chat -----------------------------------------------------------------------


class Counting:
    """A local HTTP server that counts every request it gets."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self._runner: web.AppRunner | None = None
        self.origin = ""

    async def __aenter__(self) -> Counting:
        async def count(request: web.Request) -> web.Response:
            self.hits.append(str(request.url))
            return web.Response(text="<rss><channel><item><title>x</title></item></channel></rss>")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", count)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.origin = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


@contextmanager
def no_outgoing_connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Record (and refuse) every outgoing TCP/UDP connection attempt made meanwhile."""
    attempts: list[str] = []
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append(repr(address))
            raise ConnectionRefusedError("no outgoing connections in this test")
        real_connect(self, address)

    async def create_connection(*args: Any, **kwargs: Any) -> Any:
        attempts.append(repr(args[1:3]))
        raise ConnectionRefusedError("no outgoing connections in this test")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: connect(socket.socket(), a[0]))
    monkeypatch.setattr(asyncio.BaseEventLoop, "create_connection", create_connection)
    yield attempts


async def test_slash_commands_cannot_fetch_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every subcommand with URLs, file paths and internal addresses as its argument:
    no request reaches a local counting server, no outgoing connection is even attempted,
    and nothing new enters the archive."""
    settings = Settings(database=str(tmp_path / "p.db"), commands=CommandSettings(per_minute=0))
    app = make_app(tmp_path, settings)
    try:
        async with Counting() as server:
            targets = [
                f"{server.origin}/feed.xml",
                f"{server.origin.replace('127.0.0.1', 'localhost')}/admin",
                "file:///etc/passwd",
                "/etc/passwd",
                "~/.ssh/id_rsa",
                "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
                "http://[::1]:22/",
                "gopher://127.0.0.1:6379/_FLUSHALL",
                "https://rss.arxiv.org/rss/cs.CL",
                "\\\\evil\\share\\feed",
            ]
            services = app.services()
            before = app.archive.count()
            with no_outgoing_connections(monkeypatch) as attempts:
                for target in targets:
                    for name in (*SUBCOMMANDS, "ingest", "source add", "fetch"):
                        for text_ in (f"{name} {target}", f"{name} {target} --share"):
                            request = CommandRequest("slack", CHANNEL, USER, text_)
                            reply = await real_dispatch(request, services)
                            assert reply.title != FAILURE
            assert attempts == [] and server.hits == []
            assert app.archive.count() == before
    finally:
        app.close()


def test_handlers_cannot_reach_a_retriever_or_the_network() -> None:
    """Statically: no module of handlers/ imports the retriever, an HTTP client or
    sockets; and no field of Services is (or holds) a Retriever or a delivery."""
    forbidden = (
        *("bot.sources.retrieve", "bot.ingest", "bot.delivery", "aiohttp", "urllib.request"),
        *("requests", "httpx", "socket", "http.client", "feedparser", "slack_sdk", "discord"),
    )
    for path in sorted((ROOT / "handlers").glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            for name in names:
                assert not name.startswith(forbidden), f"{path.name} imports {name}"
    # A new Services field must be reviewed for what it can reach: update this list then.
    fields = {f.name for f in dataclasses.fields(Services)}
    assert fields == {
        *("archive", "profiles", "ledger", "runs", "search", "lexicon", "digests", "clock"),
        *("summary_chars", "limiter", "teach"),  # teach: the feedback store and archive
    }


async def test_services_hold_no_retriever_and_no_delivery(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    try:
        services = app.services()
        for field in dataclasses.fields(services):
            value = getattr(services, field.name)
            assert not hasattr(value, "fetch"), field.name  # the Retriever protocol
            assert not hasattr(value, "ingest_location"), field.name
    finally:
        app.close()


# --- rate limiting ---------------------------------------------------------------------------


def test_token_bucket_gives_a_burst_then_the_rate() -> None:
    per_second = 10 / 60
    bucket, waits = None, []
    for _ in range(6):
        bucket, wait = spend(bucket, 100.0, per_second=per_second, burst=5)
        waits.append(wait)
    assert waits[:5] == [0.0] * 5 and waits[5] == pytest.approx(6.0)
    bucket, wait = spend(bucket, 103.0, per_second=per_second, burst=5)
    assert wait == pytest.approx(3.0)  # half a token came back in 3 s
    bucket, wait = spend(bucket, 106.0, per_second=per_second, burst=5)
    assert wait == 0.0
    full, _ = spend(bucket, 10_000.0, per_second=per_second, burst=5)
    assert full.tokens == pytest.approx(4.0)  # refilled to the burst, one spent
    back, wait = spend(Bucket(0.0, 200.0), 150.0, per_second=per_second, burst=5)
    assert wait > 0 and back.tokens == 0.0  # a clock that went back refills nothing


def test_rate_limiter_keys_are_independent_and_bounded() -> None:
    clock = Seconds()
    limiter = RateLimiter(10, 5, clock=clock)
    assert [limiter.take("slack:U1") for _ in range(5)] == [0.0] * 5
    assert limiter.take("slack:U1") == pytest.approx(6.0)
    assert limiter.take("slack:U2") == 0.0 and limiter.take("discord:U1") == 0.0
    for i in range(MAX_KEYS + 50):
        limiter.take(f"slack:flood{i}")
        clock.now += 1.0  # most buckets have refilled by the time the table is pruned
    assert len(limiter) <= MAX_KEYS
    with pytest.raises(ValueError):
        RateLimiter(0, 5)


async def test_a_flooding_user_is_told_to_slow_down_and_others_are_not(tmp_path: Path) -> None:
    clock = Seconds()
    app = make_app(tmp_path)
    try:
        services = dataclasses.replace(app.services(), limiter=RateLimiter(10, 5, clock=clock))

        def ask(user: str, text_: str, platform: Any = "slack") -> Awaitable[Reply]:
            return real_dispatch(CommandRequest(platform, CHANNEL, user, text_), services)

        for _ in range(5):
            assert not (await ask(USER, "moe")).error
        limited = await ask(USER, "subscribe speech --share")
        assert limited.error and not limited.public
        assert limited.title == "Slow down: try again in 6 s."
        assert app.profiles.get("slack", CHANNEL) is None  # the limited command did nothing
        assert not (await ask(ADMIN, "moe")).error  # another user
        assert not (await ask(USER, "moe", "discord")).error  # same id, other platform
        clock.now += 6.0
        assert "now follows" in (await ask(USER, "subscribe speech")).title
        assert (await ask(USER, "help")).title.startswith("Slow down")
    finally:
        app.close()


async def test_rate_limit_through_the_slack_front_end(start_slack_bot: StartSlack) -> None:
    clock = Seconds()

    def limited(services: Services) -> Services:
        return dataclasses.replace(services, limiter=RateLimiter(10, 3, clock=clock))

    bot = await start_slack_bot(services=limited)
    for _ in range(3):
        assert "Slow down" not in (await bot.run("moe"))["text"]
    reply = await bot.run("moe --share")
    assert reply["response_type"] == "ephemeral"
    assert reply["text"] == "Slow down: try again in 6 s."
    assert "Slow down" not in (await bot.run("moe", user=ADMIN))["text"]


async def test_rate_limit_through_the_discord_front_end(start_discord_bot: StartDiscord) -> None:
    clock = Seconds()

    def limited(services: Services) -> Services:
        return dataclasses.replace(services, limiter=RateLimiter(10, 2, clock=clock))

    bot = await start_discord_bot(services=limited)
    for _ in range(2):
        assert "Slow down" not in (await bot.run("search", {"query": "moe"}))["content"]
    answer = await bot.run("search", {"query": "moe", "share": True})
    assert answer["content"].startswith("**Slow down: try again in 6 s.**")
    assert answer["flags"] & 64 and answer["embeds"] == []  # ephemeral, nothing searched
    clock.now += 6.0
    assert "Slow down" not in (await bot.run("search", {"query": "moe"}))["content"]


async def test_configured_rate_limit_reaches_the_handlers(tmp_path: Path) -> None:
    limited = CommandSettings(per_minute=2, burst=1)
    on = make_app(tmp_path, Settings(database=str(tmp_path / "a.db"), commands=limited))
    off = make_app(
        tmp_path, Settings(database=str(tmp_path / "b.db"), commands=CommandSettings(per_minute=0))
    )
    try:
        limiter = on.services().limiter
        assert limiter is not None and (limiter.per_minute, limiter.burst) == (2, 1)
        assert off.services().limiter is None
        services = on.services()
        first = await real_dispatch(CommandRequest("discord", "1", "2", "help"), services)
        second = await real_dispatch(CommandRequest("discord", "1", "2", "help"), services)
        assert not first.error and second.title.startswith("Slow down: try again in ")
    finally:
        on.close()
        off.close()
