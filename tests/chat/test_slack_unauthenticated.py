"""The Slack HTTP endpoint under requests bolt was never meant to see: unsigned garbage
(non-ASCII signatures, bodies that are not UTF-8 or not what their content type says),
a signed command without a `response_url`, and `/papers` while Slack's Web API cannot be
reached. Everything goes over real HTTP into bolt's aiohttp server, with bolt's real
signature verification; the requests are written byte for byte on a socket, so nothing
on the client side cleans them up first.

Each refusal is a 4xx with at most one quiet log line (no ERROR, no traceback); a signed
command is always acknowledged (Slack's 3 s), even when `auth.test` fails, and the
authorization is tried again with the next request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest

from bot.app import App, build_app
from bot.chat.slack_app import SlackFrontend, start_slack
from bot.settings import CommandSettings, Settings, SlackSettings
from fakes.faults import Fault, FaultPlan, reset, server_error
from fakes.slack import FakeSlack
from handlers.commands import dispatch as real_dispatch
from handlers.reply import CommandRequest, Reply
from handlers.services import Services
from helpers import slack_signature, wait_until

SECRET = "5b1f0c2d9e8a7b6c5d4e3f2a1b0c9d8e"
CHANNEL = "C0HOSTILE1"
USER = "U0MEMBER01"
WAIT = 15.0  # upper bound for a reply to land; the test polls
ACK_LIMIT = 3.0
# Loggers whose lines are not about a request being refused or failing.
ACCESS = {"aiohttp.access"}
FORM = b"application/x-www-form-urlencoded"


@pytest.fixture(autouse=True)
def _no_slack_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in [n for n in os.environ if n.startswith("SLACK_")]:
        monkeypatch.delenv(name)


def sign(body: bytes, timestamp: int | str, secret: str = SECRET) -> str:
    return slack_signature(secret, body, timestamp)


class Spy:
    """Records what reached dispatch, then answers with the real handlers."""

    def __init__(self) -> None:
        self.calls: list[CommandRequest] = []

    async def __call__(self, request: CommandRequest, services: Services) -> Reply:
        self.calls.append(request)
        return await real_dispatch(request, services)


@dataclass
class Endpoint:
    slack: FakeSlack
    app: App
    frontend: SlackFrontend
    spy: Spy
    host: str
    port: int

    def form(self, text: str = "moe", *, response_url: bool = True) -> dict[str, str]:
        form = {
            "token": "legacy-verification-token",
            "team_id": FakeSlack.TEAM_ID,
            "channel_id": CHANNEL,
            "channel_name": "ml-papers",
            "user_id": USER,
            "command": "/papers",
            "text": text,
            "api_app_id": "A0PAPERBOY",
            "trigger_id": "1.2.3",
        }
        if response_url:
            form["response_url"] = self.slack.response_url(CHANNEL)
        return form

    async def raw(self, body: bytes, headers: dict[str, bytes]) -> int:
        """POST `body` with exactly these header bytes over a fresh TCP connection; the
        HTTP status of the answer."""
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            lines = [
                b"POST /slack/events HTTP/1.1",
                f"Host: {self.host}:{self.port}".encode(),
                b"Connection: close",
                f"Content-Length: {len(body)}".encode(),
                *(name.encode() + b": " + value for name, value in headers.items()),
            ]
            writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
            await writer.drain()
            status_line = await asyncio.wait_for(reader.readline(), WAIT)
            await asyncio.wait_for(reader.read(), WAIT)
        finally:
            writer.close()
        return int(status_line.split()[1])

    async def signed(self, body: bytes, content_type: bytes = FORM) -> int:
        now = int(time.time())
        return await self.raw(
            body,
            {
                "Content-Type": content_type,
                "X-Slack-Request-Timestamp": str(now).encode(),
                "X-Slack-Signature": sign(body, now).encode(),
            },
        )

    async def reply(self, response_url: str) -> str:
        await wait_until(
            lambda: self.slack.responses(response_url), WAIT, "a reply on the response_url"
        )
        found = self.slack.responses(response_url)
        return str(found[0].get("text") or "") + json.dumps(found[0].get("blocks"))


Start = Callable[..., Awaitable[Endpoint]]


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Start]:
    stack = AsyncExitStack()

    async def starter(*, faults: FaultPlan | None = None) -> Endpoint:
        slack = await stack.enter_async_context(FakeSlack(channels=[CHANNEL], faults=faults))
        settings = Settings(
            database=str(tmp_path / "p.db"),
            slack=SlackSettings(
                bot_token=slack.token, signing_secret=SECRET, api_url=slack.url, http_port=0
            ),
            commands=CommandSettings(per_minute=0),
        )
        app = build_app(settings)
        stack.callback(app.close)
        spy = Spy()
        frontend = await start_slack(settings.slack, app.services(), dispatch=spy)
        stack.push_async_callback(frontend.close)
        assert frontend.url is not None
        host, _, rest = frontend.url.removeprefix("http://").partition(":")
        return Endpoint(slack, app, frontend, spy, host, int(rest.split("/")[0]))

    async with stack:
        yield starter


def _request_lines(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    """The lines a deployment logs (INFO and up), but the access log."""
    return [r for r in records if r.name not in ACCESS and r.levelno >= logging.INFO]


def _assert_quiet(records: list[logging.LogRecord], case: str) -> None:
    lines = _request_lines(records)
    shown = [f"{r.name} {r.levelname}: {r.getMessage()[:300]}" for r in lines]
    assert len(lines) <= 1, (case, shown)
    for r in lines:
        assert r.levelno < logging.ERROR, (case, shown)
        assert r.exc_info is None and "Traceback" not in r.getMessage(), (case, shown)


async def test_hostile_unauthenticated_requests_get_a_4xx_and_one_quiet_log_line(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    """Requests anyone who can reach the port may send. Before: a non-ASCII signature
    made `hmac.compare_digest` raise and a body that is not UTF-8 made aiohttp's
    `request.text()` raise, both HTTP 500 with an ERROR traceback; so did unsigned bodies
    bolt parses before it checks the signature (broken JSON, a JSON array, a broken
    `payload=`, an unknown charset)."""
    bot = await start()
    form = bot.form("subscribe moe")
    body = urlencode(form).encode()
    now = int(time.time())
    good = sign(body, now).encode()

    def headers(signature: bytes, content_type: bytes = FORM) -> dict[str, bytes]:
        return {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(now).encode(),
            "X-Slack-Signature": signature,
        }

    cases: dict[str, tuple[bytes, dict[str, bytes], set[int]]] = {
        "non-ASCII signature": (body, headers("v0=é".encode() + good[3:]), {401}),
        "non-ASCII signature, latin-1 bytes": (body, headers(b"v0=\xe9\xff"), {401}),
        "signature of non-ASCII text only": (body, headers("v0=ñññ".encode()), {401}),
        "body not UTF-8, unsigned": (b"text=\xff\xfe\xfa", headers(b"v0=00"), {400, 401}),
        "body not UTF-8, signed": (
            b"text=\xff\xfe\xfa",
            headers(sign(b"text=\xff\xfe\xfa", now).encode()),
            {400, 401},
        ),
        "broken JSON, unsigned": (b"{not json", headers(good, b"application/json"), {400, 401}),
        "JSON array, unsigned": (b"[1, 2]", headers(good, b"application/json"), {400, 401}),
        "JSON string, unsigned": (b'"x"', headers(good, b"application/json"), {400, 401}),
        "broken payload=, unsigned": (b"payload=%7Bnope", headers(good), {400, 401}),
        "payload= not an object, unsigned": (b"payload=%5B%5D", headers(good), {400, 401}),
        "unknown charset": (body, headers(good, FORM + b"; charset=x-unknown-9"), {400, 401}),
    }
    for case, (raw_body, raw_headers, allowed) in cases.items():
        caplog.clear()
        with caplog.at_level(logging.DEBUG):
            status = await bot.raw(raw_body, raw_headers)
        assert status in allowed, (case, status)
        _assert_quiet(caplog.records, case)
    assert bot.spy.calls == [] and bot.slack.responses() == []
    assert bot.app.profiles.get("slack", CHANNEL) is None
    # the positive control: a correctly signed command still works
    assert await bot.signed(body) == 200
    assert "now follows" in await bot.reply(form["response_url"])


async def test_a_signed_request_bolt_cannot_parse_is_400_not_500(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    """Signed, but not a Slack payload (a JSON array, broken JSON): bolt raised while
    parsing it (HTTP 500, traceback). It is a bad request, answered 400."""
    bot = await start()
    for body, content_type in [
        (b"[1, 2]", b"application/json"),
        (b"{broken", b"application/json"),
        (b"payload=%7Bnope", FORM),
    ]:
        caplog.clear()
        with caplog.at_level(logging.DEBUG):
            status = await bot.signed(body, content_type)
        assert status == 400, body
        _assert_quiet(caplog.records, body.decode())
    assert bot.spy.calls == []


async def test_a_signed_command_without_response_url_is_acked_and_logged_quietly(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: bolt's `respond` raised "respond is unsupported here as there is no
    response_url" inside the listener: an ERROR traceback per request."""
    bot = await start()
    body = urlencode(bot.form("subscribe moe", response_url=False)).encode()
    with caplog.at_level(logging.DEBUG):
        started = time.monotonic()
        status = await bot.signed(body)
        assert status == 200 and time.monotonic() - started < ACK_LIMIT
        await bot.frontend.command.drain(WAIT)
    _assert_quiet(caplog.records, "no response_url")
    assert [r for r in caplog.records if "response_url" in r.getMessage()], "not logged at all"
    assert bot.spy.calls == []  # nothing is done that cannot be answered
    assert bot.app.profiles.get("slack", CHANNEL) is None


@pytest.mark.parametrize("fault", [reset(), server_error(503)], ids=["reset", "503"])
async def test_slack_unreachable_at_start_acks_commands_and_authorizes_later(
    start: Start, caplog: pytest.LogCaptureFixture, fault: Fault
) -> None:
    """auth.test fails (connection reset, Slack answering 503) at start and for the first
    command. Before: bolt's authorization middleware raised (HTTP 500) or answered
    "install this app" although the log promised a retry. Now the command is acknowledged
    and answered, and auth.test is tried again with the next request, then remembered."""
    bot = await start(faults=FaultPlan.storm(2, fault, only=["auth.test"]))
    assert bot.slack.requests["auth.test"] == 1  # the check at start, reset
    first = bot.form("subscribe moe")
    with caplog.at_level(logging.INFO):
        started = time.monotonic()
        status = await bot.signed(urlencode(first).encode())
        assert status == 200 and time.monotonic() - started < ACK_LIMIT
        assert "now follows" in await bot.reply(first["response_url"])
    assert bot.slack.requests["auth.test"] == 2  # tried again, reset again
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    for _ in range(2):  # Slack is back: authorized once, then remembered
        again = bot.form("list")
        assert await bot.signed(urlencode(again).encode()) == 200
        assert "moe" in await bot.reply(again["response_url"])
    assert bot.slack.requests["auth.test"] == 3
    assert len(bot.spy.calls) == 3
