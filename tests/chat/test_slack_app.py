"""The Slack front-end over real HTTP: signed slash commands into bolt's aiohttp server, the
answer on a response_url of the fake Slack, a real SQLite archive behind the handlers."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web

from bot.app import App, build_app, build_deliveries
from bot.chat.slack_app import SlackFrontend, build_slack_app, start_slack
from bot.chat.slack_command import FAILURE, MANAGE_RULE
from bot.digest import ChannelOutcome
from bot.errors import ConfigError
from bot.search import Search, SearchResult
from bot.settings import CommandSettings, Settings, SlackSettings
from bot.sources.detect import parse_any
from fakes.clock import Clock
from fakes.slack import FakeSlack
from handlers.commands import dispatch as real_dispatch
from handlers.reply import CommandRequest, Reply
from handlers.services import Services
from helpers import slack_signature, wait_until

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
CHANNEL = "C0PAPERS01"
USER, ADMIN = "U0MEMBER01", "U0ADMIN001"
DAY1 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
FETCH_LEAD = timedelta(hours=1)  # papers are fetched an hour before the day's digest
ROOT = Path(__file__).resolve().parents[2]
ARCHIVE = [
    ROOT / "tests" / "fixtures" / "dump_layout_a.txt",
    ROOT / "bot" / "data" / "sample-dump.txt",
]
ACK_LIMIT = 3.0  # Slack's deadline for the HTTP answer to a slash command
WAIT = 15.0  # upper bound for a reply to land; tests poll, they do not sleep it out
LIVE_MENTION = re.compile(r"<[!@#]")  # <!channel>, <!here>, <@U…>, <#C…> unescaped

Dispatch = Callable[[CommandRequest, Services], Awaitable[Reply]]


@pytest.fixture(autouse=True)
def _no_slack_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """AsyncApp silently reads SLACK_* variables; the tests must not depend on them."""
    import os

    for name in [n for n in os.environ if n.startswith("SLACK_")]:
        monkeypatch.delenv(name)


def sign(body: str, timestamp: int, secret: str = SECRET) -> str:
    return slack_signature(secret, body, timestamp)


def ingest(app: App, *paths: Path) -> None:
    for path in paths:
        app.archive.upsert(parse_any(path.read_bytes(), source=path.name).papers, now=app.clock())


@dataclass
class Sent:
    status: int
    body: str
    elapsed: float
    response_url: str


@dataclass
class Bot:
    """A running front-end and what it talks to."""

    slack: FakeSlack
    app: App
    frontend: SlackFrontend
    http: aiohttp.ClientSession
    clock: Clock
    url: str = field(init=False)

    def __post_init__(self) -> None:
        assert self.frontend.url is not None
        self.url = self.frontend.url

    async def post(
        self,
        text: str,
        *,
        user: str = USER,
        age: int = 0,
        secret: str = SECRET,
        tamper: bool = False,
    ) -> Sent:
        response_url = self.slack.response_url(CHANNEL)
        form = {
            "token": "legacy-verification-token",
            "team_id": FakeSlack.TEAM_ID,
            "team_domain": "fake",
            "channel_id": CHANNEL,
            "channel_name": "ml-papers",
            "user_id": user,
            "user_name": "someone",
            "command": "/papers",
            "text": text,
            "api_app_id": "A0PAPERBOY",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        }
        body = urlencode(form)
        timestamp = int(time.time()) - age
        signature = sign(body, timestamp, secret)
        if tamper:
            body = urlencode({**form, "user_id": ADMIN})
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": str(timestamp),
            "X-Slack-Signature": signature,
        }
        start = time.monotonic()
        async with self.http.post(self.url, data=body, headers=headers) as resp:
            text_body = await resp.text()
            return Sent(resp.status, text_body, time.monotonic() - start, response_url)

    async def reply(self, sent: Sent) -> dict[str, Any]:
        """The (first) message posted to the command's response_url."""
        url = sent.response_url
        await wait_until(lambda: self.slack.responses(url), WAIT, "a reply on the response_url")
        return self.slack.responses(url)[0]

    async def run(self, text: str, **kwargs: Any) -> dict[str, Any]:
        sent = await self.post(text, **kwargs)
        assert sent.status == 200 and sent.body == "", sent
        return await self.reply(sent)


Start = Callable[..., Awaitable[Bot]]


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(channels=[CHANNEL]) as fake:
        yield fake


@pytest.fixture
async def start(tmp_path: Path, slack: FakeSlack) -> AsyncIterator[Start]:
    """Start the Slack front-end in HTTP mode on 127.0.0.1 and a free port, over a real
    SQLite archive holding the synthetic dumps."""
    stack = AsyncExitStack()

    async def starter(
        *,
        admins: tuple[str, ...] = (),
        services: Callable[[Services], Services] | None = None,
        dispatch: Dispatch = real_dispatch,
    ) -> Bot:
        settings = Settings(
            database=str(tmp_path / "p.db"),
            slack=SlackSettings(
                bot_token=slack.token,
                signing_secret=SECRET,
                api_url=slack.url,
                http_port=0,
                admins=list(admins),
            ),
            commands=CommandSettings(per_minute=0),  # rate limit: tests/reliability
        )
        clock = Clock(DAY1 - FETCH_LEAD)
        app = build_app(settings, clock=clock)
        stack.callback(app.close)
        ingest(app, *ARCHIVE)
        clock.now = DAY1
        chosen = app.services() if services is None else services(app.services())
        frontend = await start_slack(settings.slack, chosen, dispatch=dispatch)
        stack.push_async_callback(frontend.close)
        http = await stack.enter_async_context(aiohttp.ClientSession())
        return Bot(slack, app, frontend, http, clock)

    async with stack:
        yield starter


def shown(reply: dict[str, Any]) -> str:
    """Everything the user sees of a reply: fallback text and blocks."""
    return (reply.get("text") or "") + json.dumps(reply.get("blocks"), ensure_ascii=False)


# -- signed requests, ack, respond ----------------------------------------------------------


async def test_valid_command_is_acked_fast_and_answered_ephemerally(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await start()
    with caplog.at_level(logging.DEBUG):
        sent = await bot.post("moe")
        assert sent.status == 200 and sent.body == "" and sent.elapsed < ACK_LIMIT
        reply = await bot.reply(sent)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "Sending a request" in logged  # even DEBUG logs withhold tokens and the URL
    for secret in (bot.slack.token, SECRET, sent.response_url, "legacy-verification-token"):
        assert secret not in logged
    assert reply["response_type"] == "ephemeral"
    assert reply["text"] and reply["blocks"]
    text = shown(reply)
    assert "Mixture-of-Experts" in text and "Shared-Prefix Experts" in text
    assert "Moebius" not in text  # word boundaries: `moe` is not Moebius


async def test_share_posts_the_answer_in_the_channel(start: Start) -> None:
    bot = await start()
    reply = await bot.run("moe --share")
    assert reply["response_type"] == "in_channel"
    assert "Mixture-of-Experts" in shown(reply)


async def test_bad_signatures_are_refused_with_401(
    start: Start, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await start()
    with caplog.at_level(logging.DEBUG):
        wrong_secret = await bot.post("moe", secret="not-the-signing-secret")
        tampered = await bot.post("subscribe moe", tamper=True)  # body changed after signing
    assert wrong_secret.status == 401 and tampered.status == 401
    assert slack.responses() == []
    # bolt logs the refused body; the response_url and tokens in it are withheld
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "Invalid request signature" in logged
    assert "rusecret" not in logged and "legacy-verification-token" not in logged
    assert bot.app.profiles.get("slack", CHANNEL) is None  # nothing was changed


@pytest.mark.parametrize("age", [6 * 60, -6 * 60], ids=["6-min-old", "6-min-ahead"])
async def test_timestamps_outside_five_minutes_are_refused(start: Start, age: int) -> None:
    bot = await start()
    sent = await bot.post("moe", age=age)  # correctly signed, but a replay
    assert sent.status == 401
    assert bot.slack.responses() == []


async def test_ssl_check_and_url_verification_are_answered(start: Start) -> None:
    bot = await start()
    ssl_body = urlencode({"ssl_check": "1", "token": "legacy"})
    async with bot.http.post(
        bot.url, data=ssl_body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    ) as resp:
        assert resp.status == 200
    body = json.dumps({"type": "url_verification", "challenge": "c-4207", "token": "t"})
    ts = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": sign(body, ts),
    }
    async with bot.http.post(bot.url, data=body, headers=headers) as resp:
        assert resp.status == 200 and "c-4207" in await resp.text()
    headers["X-Slack-Signature"] = sign(body, ts, "wrong")
    async with bot.http.post(bot.url, data=body, headers=headers) as resp:
        assert resp.status == 401


# -- commands through the front-end ---------------------------------------------------------


async def test_subscribe_then_list_shows_the_topic(start: Start) -> None:
    bot = await start()
    subscribed = await bot.run("subscribe mixture of experts")
    assert "now follows" in subscribed["text"]
    listed = await bot.run("list")
    assert "mixture of experts" in shown(listed)
    profile = bot.app.profiles.get("slack", CHANNEL)
    assert profile is not None and profile.topics == ("mixture of experts",)
    assert profile.name == "ml-papers"


async def test_non_admin_is_refused_with_the_rule_when_admins_are_set(start: Start) -> None:
    bot = await start(admins=(ADMIN,))
    refused = await bot.run("subscribe moe", user=USER)
    assert refused["response_type"] == "ephemeral"
    assert MANAGE_RULE in shown(refused)
    assert bot.app.profiles.get("slack", CHANNEL) is None
    allowed = await bot.run("subscribe moe", user=ADMIN)
    assert "now follows" in allowed["text"]
    searched = await bot.run("moe", user=USER)  # reading stays open to everyone
    assert "Mixture-of-Experts" in shown(searched)


HOSTILE = [
    "<!channel>",
    "<!here> moe",
    "subscribe <!channel>",
    "search <@U0ADMIN001> <#C0PAPERS01> <http://evil.example|click me>",
    "why <!everyone>",
    "moe " * 1250,  # 5,000 characters
    "subscribe " + "x" * 5000,
    "exclude " + "survey " * 700,
    '"mixture of experts" AND "',
    "'; DROP TABLE papers; --",
    "🧪 moe 🚀 混合专家",
    "NOT",
    "moe NOT survey",
    "C++",
    "col:umn* ^near(a b) -moe",
    "\u202e\x00\x1b[31mred\u200b",
    "&amp; &lt;!channel&gt; >>> <<<",
    "--top 999",
    "—share —more <!channel>",
]


async def test_hostile_text_is_answered_and_pings_nobody(start: Start) -> None:
    bot = await start()
    for text in HOSTILE:
        sent = await bot.post(text)
        assert sent.status == 200 and sent.elapsed < ACK_LIMIT, (text[:40], sent)
        reply = await bot.reply(sent)
        seen = shown(reply)
        assert reply["text"] and reply["text"] != FAILURE, (text[:40], seen[:300])
        assert not LIVE_MENTION.search(seen), (text[:40], seen[:300])
        for link in re.findall(r"<(https?://[^|>]*)\|", seen):
            assert link.startswith(("https://arxiv.org/", "https://huggingface.co/")), link
        assert "Traceback" not in seen
    assert "&lt;!channel&gt;" in shown(bot.slack.responses()[0])  # shown literally


class GatedSearch:
    """A search that blocks (in its worker thread) until the test opens the gate."""

    def __init__(self, inner: Search) -> None:
        self.inner = inner
        self.entered = threading.Event()
        self.gate = threading.Event()

    def search(self, query: str, *, limit: int = 5) -> SearchResult:
        self.entered.set()
        if not self.gate.wait(timeout=30):
            raise TimeoutError("the test never opened the gate")
        return self.inner.search(query, limit=limit)


async def test_ack_arrives_before_a_slow_search_finishes(start: Start) -> None:
    gated: list[GatedSearch] = []

    def slow(services: Services) -> Services:
        gated.append(GatedSearch(services.search))
        return replace(services, search=gated[0])  # type: ignore[arg-type]

    bot = await start(services=slow)
    search = gated[0]
    try:
        sent = await bot.post("mixture of experts")
        assert sent.status == 200 and sent.elapsed < ACK_LIMIT
        assert await asyncio.to_thread(search.entered.wait, WAIT)  # the search is running
        assert bot.slack.responses(sent.response_url) == []  # ... and has not answered
    finally:
        search.gate.set()
    reply = await bot.reply(sent)
    assert "Mixture-of-Experts" in shown(reply)


async def test_an_unexpected_error_gets_an_apology_and_a_redacted_log(
    start: Start, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(request: CommandRequest, services: Services) -> Reply:
        raise RuntimeError(f"database said no (token {slack.token}, secret {SECRET})")

    bot = await start(dispatch=broken)
    with caplog.at_level(logging.DEBUG):
        reply = await bot.run("moe")
    assert reply["text"] == FAILURE and reply["response_type"] == "ephemeral"
    assert "RuntimeError" not in shown(reply) and "Traceback" not in shown(reply)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "RuntimeError: database said no" in logged
    assert slack.token not in logged and SECRET not in logged


# -- starting -------------------------------------------------------------------------------


async def test_http_mode_needs_a_signing_secret(slack: FakeSlack, tmp_path: Path) -> None:
    app = build_app(Settings(database=str(tmp_path / "p.db")), clock=Clock(DAY1))
    try:
        settings = SlackSettings(bot_token=slack.token, api_url=slack.url, http_port=0)
        with pytest.raises(ConfigError, match=r"slack\.signing_secret"):
            await start_slack(settings, app.services())
        no_bot = SlackSettings(signing_secret=SECRET, api_url=slack.url, http_port=0)
        with pytest.raises(ConfigError, match=r"slack\.bot_token"):
            await start_slack(no_bot, app.services())
    finally:
        app.close()


async def test_oauth_variables_and_a_busy_port_are_configuration_errors(
    start: Start, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = await start()
    busy = SlackSettings(
        bot_token=slack.token,
        signing_secret=SECRET,
        api_url=slack.url,
        http_port=int(bot.url.split(":")[2].split("/")[0]),  # the running bot's port
    )
    services = bot.app.services()
    with pytest.raises(ConfigError, match=r"slack\.http_host/http_port: cannot listen"):
        await start_slack(busy, services)
    monkeypatch.setenv("SLACK_CLIENT_ID", "1234.5678")
    monkeypatch.setenv("SLACK_CLIENT_SECRET", "oauth-secret")
    with pytest.raises(ConfigError, match="SLACK_CLIENT_ID"):
        build_slack_app(busy, services)


async def test_a_refused_bot_token_fails_at_start_without_the_secret(
    slack: FakeSlack, tmp_path: Path
) -> None:
    slack.revoke(slack.token, error="token_revoked")
    app = build_app(Settings(database=str(tmp_path / "p.db")), clock=Clock(DAY1))
    try:
        settings = SlackSettings(
            bot_token=slack.token, signing_secret=SECRET, api_url=slack.url, http_port=0
        )
        with pytest.raises(ConfigError, match=r"slack\.bot_token.*token_revoked") as err:
            await start_slack(settings, app.services())
        assert slack.token not in str(err.value)
    finally:
        app.close()


class FakeSocketMode:
    """Slack's Socket Mode: `apps.connections.open` (app token) hands out a WebSocket URL;
    the socket says hello, then carries envelopes the app acknowledges by envelope_id.
    Also `auth.test` for the bot token."""

    def __init__(self, app_token: str, bot_token: str) -> None:
        self.app_token, self.bot_token = app_token, bot_token
        self.acks: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.connected = asyncio.Event()
        self._ws: web.WebSocketResponse | None = None
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> FakeSocketMode:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/link", self._link)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/api/"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._ws is not None:
            await self._ws.close()
        assert self._runner is not None
        await self._runner.cleanup()

    async def _api(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        method = request.match_info["method"]
        if method == "apps.connections.open" and token == self.app_token:
            ws = self.url.replace("http://", "ws://").replace("/api/", "/link")
            return web.json_response({"ok": True, "url": ws})
        if method == "auth.test" and token == self.bot_token:
            return web.json_response(
                {"ok": True, "team_id": FakeSlack.TEAM_ID, "user_id": "U0BOT", "bot_id": "B0BOT"}
            )
        return web.json_response({"ok": False, "error": "invalid_auth"})

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._ws = ws
        await ws.send_json({"type": "hello", "num_connections": 1})
        self.connected.set()
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                await self.acks.put(json.loads(msg.data))
        return ws

    async def send(self, envelope: dict[str, Any]) -> dict[str, Any]:
        assert self._ws is not None
        await self._ws.send_json(envelope)
        return await asyncio.wait_for(self.acks.get(), WAIT)


async def test_socket_mode_answers_papers_without_a_public_url(
    slack: FakeSlack, tmp_path: Path
) -> None:
    app = build_app(Settings(database=str(tmp_path / "p.db")), clock=Clock(DAY1))
    ingest(app, *ARCHIVE)
    async with FakeSocketMode("xapp-1-fake", slack.token) as socket:
        settings = SlackSettings(bot_token=slack.token, app_token="xapp-1-fake", api_url=socket.url)
        frontend = await start_slack(settings, app.services())
        try:
            assert frontend.mode == "socket" and frontend.url is None
            await asyncio.wait_for(socket.connected.wait(), WAIT)
            response_url = slack.response_url(CHANNEL)
            payload = {
                "team_id": FakeSlack.TEAM_ID,
                "channel_id": CHANNEL,
                "user_id": USER,
                "command": "/papers",
                "text": "moe",
                "response_url": response_url,
                "api_app_id": "A0PAPERBOY",
            }
            envelope = {
                "envelope_id": "env-1",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": payload,
            }
            start = time.monotonic()
            ack = await socket.send(envelope)
            assert ack["envelope_id"] == "env-1" and time.monotonic() - start < ACK_LIMIT
            await wait_until(lambda: slack.responses(response_url), WAIT, "the reply")
            assert "Mixture-of-Experts" in shown(slack.responses(response_url)[0])
        finally:
            await frontend.close()
            app.close()

        refused = SlackSettings(bot_token=slack.token, app_token="xapp-wrong", api_url=socket.url)
        app = build_app(Settings(database=str(tmp_path / "p.db")), clock=Clock(DAY1))
        try:
            with pytest.raises(ConfigError, match=r"slack\.app_token.*invalid_auth") as err:
                await start_slack(refused, app.services())
            assert "xapp-wrong" not in str(err.value)
        finally:
            app.close()


# -- the acceptance path: chat changes what the digest posts -------------------------------


def speech_and_moe_papers(tmp_path: Path, day: int) -> Path:
    """A layout-b dump of `day`'s new papers: three about Mixture-of-Experts, two about
    speech."""
    records = [
        f"Load-Balanced Routing {day}.{i} for Sparse Mixture-of-Experts Transformers\n\n"
        f"We propose routing rule {i} for Mixture-of-Experts (MoE) layers: a learned gate "
        f"sends each token to two experts, and rule {i} keeps expert load balanced."
        for i in range(3)
    ] + [
        f"Streaming Speech Recognition {day}.{i} with Chunked Conformers\n\n"
        f"We present a streaming speech recognition model {i} that transcribes spoken audio "
        f"with low latency; speech is processed in chunks by a conformer encoder."
        for i in range(2)
    ]
    path = tmp_path / f"day{day}.txt"
    path.write_text("new\n\nNov 24\n\n" + "\n\n".join(records) + "\n")
    return path


async def digest(app: App) -> list[ChannelOutcome]:
    deliveries = build_deliveries(app.settings, stream=io.StringIO())
    try:
        return await app.digest_cycle(deliveries).run(app.profiles.all())
    finally:
        for d in deliveries.values():
            await d.aclose()


def posted_keys(slack: FakeSlack) -> list[str]:
    keys: list[str] = []
    for m in slack.messages(CHANNEL):
        keys += ((m.get("metadata") or {}).get("event_payload") or {}).get("papers", [])
    return keys


async def test_subscribe_digest_unsubscribe_digest(
    start: Start, slack: FakeSlack, tmp_path: Path
) -> None:
    bot = await start()
    app = bot.app
    assert "now follows" in (await bot.run("subscribe moe"))["text"]

    day1 = await digest(app)
    (outcome,) = [o for o in day1 if o.profile.ref == f"slack:{CHANNEL}"]
    assert outcome.status == "done" and outcome.posted
    matcher = app.matcher(app.archive.all())
    profile = app.profiles.get("slack", CHANNEL)
    assert profile is not None
    expected = {m.paper.key for m in matcher.match(profile)}
    assert sorted(posted_keys(slack)) == sorted(expected)
    titles = {app.archive.get(k).title for k in expected}  # type: ignore[union-attr]
    assert any("Mixture-of-Experts" in t for t in titles)
    assert not any("Moebius" in t for t in titles)
    day1_messages = len(slack.messages(CHANNEL))

    # Day 2: new MoE and speech papers. The preview would post the MoE ones ...
    bot.clock.now = DAY1 + timedelta(days=1) - FETCH_LEAD
    ingest(app, speech_and_moe_papers(tmp_path, 2))
    bot.clock.now = DAY1 + timedelta(days=1)
    preview = await bot.run("digest")
    assert "would post 3 papers" in preview["text"]
    # ... until the channel unsubscribes from moe and subscribes to speech.
    assert "no longer follows" in (await bot.run("unsubscribe moe"))["text"]
    assert "now follows" in (await bot.run("subscribe speech"))["text"]
    assert "speech" in shown(await bot.run("list"))

    day2 = await digest(app)
    (outcome2,) = [o for o in day2 if o.profile.ref == f"slack:{CHANNEL}"]
    assert outcome2.status == "done"
    day2_titles = [app.archive.get(k).title for k in outcome2.posted]  # type: ignore[union-attr]
    assert sorted(day2_titles) == [
        f"Streaming Speech Recognition 2.{i} with Chunked Conformers" for i in range(2)
    ]
    assert len(slack.messages(CHANNEL)) > day1_messages
    assert sorted(posted_keys(slack)) == sorted([*expected, *outcome2.posted])

    # Unsubscribing from everything: the next digest posts nothing.
    assert "no longer follows" in (await bot.run("unsubscribe speech"))["text"]
    bot.clock.now = DAY1 + timedelta(days=2) - FETCH_LEAD
    ingest(app, speech_and_moe_papers(tmp_path, 3))
    bot.clock.now = DAY1 + timedelta(days=2)
    before = len(slack.messages(CHANNEL))
    day3 = await digest(app)
    assert all(not o.posted for o in day3)
    assert len(slack.messages(CHANNEL)) == before
