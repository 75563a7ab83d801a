"""How Slack's requests reach the bolt app: an HTTP endpoint behind a request guard, or a
Socket Mode connection.

`serve_http` serves the app with bolt's aiohttp adapter; its guard (`_screen`) answers,
before bolt, the malformed requests bolt would raise on, and leaves every real check
(signature, timestamp window) to bolt. `SocketMode` wraps bolt's Socket Mode handler so a
refused token or an unreachable Slack fails the start instead of being retried for ever.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import ClassVar

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Middleware
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier

from bot.chat.slack_auth import slack_error
from bot.errors import ConfigError, PaperboyError

log = logging.getLogger("bot.chat.slack_app")  # the Slack front-end's one logger name

EVENTS_PATH = "/slack/events"


class SocketMode:
    """Bolt's Socket Mode handler (aiohttp), behind typed methods. `connect` fails instead
    of retrying for ever as the SDK's own loop does."""

    CONNECT_SECONDS: ClassVar[float] = 30.0

    def __init__(self, app: AsyncApp, app_token: str) -> None:
        self._client = app.client
        self._token = app_token
        self._handler = AsyncSocketModeHandler(app, app_token, web_client=app.client)
        self._connect: Callable[[], Awaitable[None]] = self._handler.connect_async
        self._close: Callable[[], Awaitable[None]] = self._handler.close_async

    async def connect(self) -> None:
        """Raises ConfigError when Slack refuses the app token, PaperboyError when Slack
        cannot be reached or no connection is made within CONNECT_SECONDS."""
        try:
            opened = await self._client.apps_connections_open(app_token=self._token)
        except SlackApiError as e:
            raise ConfigError(f"slack.app_token: Slack refused it ({slack_error(e)})") from None
        except (TimeoutError, aiohttp.ClientError) as e:
            raise PaperboyError(f"Slack unreachable for Socket Mode ({type(e).__name__})") from None
        self._handler.client.wss_uri = str(opened["url"])
        try:
            async with asyncio.timeout(self.CONNECT_SECONDS):
                await self._connect()
        except TimeoutError:
            raise PaperboyError(
                f"Slack Socket Mode: no connection within {self.CONNECT_SECONDS:.0f} s"
            ) from None

    async def close(self) -> None:
        await self._close()


_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def _refused(request: web.Request, status: int, why: str) -> web.Response:
    """The one quiet line for a request refused before bolt sees it."""
    log.info("Slack endpoint: refused a request from %s (%s): %d", request.remote, why, status)
    error = "invalid request" if status == 401 else "bad request"
    return web.json_response({"error": error}, status=status)


def _screen(signing_secret: str | None) -> Middleware:
    """An aiohttp middleware that answers, before bolt, the requests bolt would raise on
    (HTTP 500 with an ERROR traceback, for anyone who can reach the port):

    - a signature timestamp that is not a number, or a signature that is not ASCII
      (`hmac.compare_digest` raises on non-ASCII text): 401;
    - a body that is not text in its charset (not UTF-8, an unknown charset): 400;
    - a body bolt cannot parse into a payload (broken JSON, a JSON array, a broken
      `payload=` field; bolt parses before it verifies): 401 when the signature does not
      match (`signing_secret`), else 400.

    Missing headers, wrong signatures and every real check stay bolt's."""
    verifier = SignatureVerifier(signing_secret) if signing_secret else None

    @web.middleware
    async def screen(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        stamp = request.headers.get("X-Slack-Request-Timestamp")
        signature = request.headers.get("X-Slack-Signature")
        if stamp is not None and not _TIMESTAMP.fullmatch(stamp):
            return _refused(request, 401, "signature timestamp is not a number")
        if signature is not None and not signature.isascii():
            return _refused(request, 401, "signature is not ASCII")
        if request.method != "POST":
            return await handler(request)
        raw = await request.read()  # kept by aiohttp: bolt's adapter reads it again
        try:
            body = raw.decode(request.charset or "utf-8")
        except (UnicodeDecodeError, LookupError):
            return _refused(request, 400, "body is not text in its charset")
        try:
            parsed = AsyncBoltRequest(
                body=body, query=request.query_string, headers=dict(request.headers)
            ).body
            readable = isinstance(parsed, dict)
        except Exception:  # whatever bolt raises on it, it would raise again: refused
            readable = False
        if not readable:
            signed = verifier is not None and verifier.is_valid(body, stamp, signature)
            return _refused(request, 400 if signed else 401, "not a Slack payload")
        return await handler(request)

    return screen


async def serve_http(
    app: AsyncApp,
    host: str,
    port: int,
    *,
    path: str = EVENTS_PATH,
    signing_secret: str | None = None,
) -> web.AppRunner:
    """Serve `app` with bolt's aiohttp adapter at `http://host:port{path}`; `port` 0 picks
    a free port (read it from `runner.addresses`). Clean up with `runner.cleanup()`.
    Requests bolt would raise on are answered before it (see `_screen`; with
    `signing_secret`, an unparseable one is 401 unless it is correctly signed).

    Raises ConfigError when the address cannot be bound."""
    web_app = app.web_app(path=path, port=port)
    web_app.middlewares.append(_screen(signing_secret))
    runner = web.AppRunner(web_app, shutdown_timeout=2.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as e:
        await runner.cleanup()
        raise ConfigError(
            f"slack.http_host/http_port: cannot listen on {host}:{port} ({e.strerror or e})"
        ) from None
    return runner
