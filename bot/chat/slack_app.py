"""The Slack front-end of `/papers`: a bolt AsyncApp served over HTTP or Socket Mode.

`/papers` is acknowledged at once (Slack allows 3 s) with an empty body; the answer is
computed afterwards and sent to the command's `response_url` with `respond()`. Requests
are verified by bolt (signature and a 5-minute timestamp window) in HTTP mode; Socket
Mode needs no public URL. Tokens and secrets never reach a log line.
"""

from __future__ import annotations

import asyncio
import logging
import re
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Middleware
from pydantic import SecretStr
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltRequest, AsyncRespond
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.middleware.authorization.async_single_team_authorization import (
    AsyncSingleTeamAuthorization,
)
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery.slack import slack_client
from bot.errors import ConfigError, PaperboyError
from bot.settings import SlackSettings
from handlers.commands import dispatch as default_dispatch
from handlers.render import slack_reply
from handlers.reply import CommandRequest, Reply
from handlers.services import Services

log = logging.getLogger(__name__)

Dispatch = Callable[[CommandRequest, Services], Awaitable[Reply]]

COMMAND = "/papers"
EVENTS_PATH = "/slack/events"
MANAGE_RULE = "only the admins listed in slack.admins can change this channel's topics"
FAILURE = "Something went wrong on our side; try again"
NO_RESPONSE_URL = "Paperboy cannot answer this request: it came without a response_url"
AUTH_SECONDS = 1.5  # auth.test's share of Slack's 3 s for acknowledging a command
DRAIN_SECONDS = 10.0  # close() waits this long for commands still being answered
# Slack's answers to a token it will not accept: a configuration problem, not an outage.
_AUTH_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
)


def redact(text: str, secrets: Sequence[str]) -> str:
    """`text` with every secret replaced by `***`."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


# What bolt, the Socket Mode client and slack_sdk's response_url client may log of a
# request: tokens, the legacy verification token and response_urls (each a capability to
# post in the channel).
_TOKEN = re.compile(r"\b(xox[a-z]|xapp)-[\w-]+")
_FIELD = re.compile(r"""(\b(?:token|response_url)(?:=|['"]?\s*:\s*['"]?))[^&'"\s,}]+""")
_HOOK = re.compile(r"""(/(?:commands|actions|services)/)[^&'"\s,}]+""")
_SDK_LOGGERS = ("slack_sdk.webhook.async_client",)  # logs the response_url at DEBUG


class _Withheld(logging.Filter):
    """Rewrites log records so request bodies and URLs never leak a token or a
    response_url. Installed on the base logger given to AsyncApp (bolt's own loggers copy
    its filters) and on slack_sdk's response_url client logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = _TOKEN.sub(r"\1-***", message)
        cleaned = _HOOK.sub(r"\1***", _FIELD.sub(r"\1***", cleaned))
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def _withheld(name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    if not any(isinstance(f, _Withheld) for f in logger.filters):
        logger.addFilter(_Withheld())
    return logger


def _bolt_logger() -> logging.Logger:
    for name in _SDK_LOGGERS:
        _withheld(name)
    return _withheld(f"{__name__}.bolt")


def _value(secret: SecretStr | None) -> str:
    return secret.get_secret_value() if secret is not None else ""


def _secrets(settings: SlackSettings) -> list[str]:
    values = (settings.bot_token, settings.app_token, settings.signing_secret)
    return [_value(v) for v in values if _value(v)]


class _SocketMode:
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
            raise ConfigError(f"slack.app_token: Slack refused it ({_error(e)})") from None
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


def _error(e: SlackApiError) -> str:
    return str(e.response.get("error", None) or f"HTTP {e.response.status_code}")


def command_request(body: Mapping[str, Any], admins: Sequence[str]) -> CommandRequest:
    """A slash-command payload as a platform-neutral request. Without `slack.admins` anyone
    in the channel may change its profile; with it, only those user ids."""
    user_id = str(body.get("user_id") or "")
    channel_name = body.get("channel_name")
    return CommandRequest(
        platform="slack",
        channel_id=str(body.get("channel_id") or ""),
        user_id=user_id,
        text=str(body.get("text") or ""),
        can_manage=not admins or user_id in admins,
        manage_rule=MANAGE_RULE,
        channel_name=str(channel_name) if channel_name else None,
    )


class PapersCommand:
    """The `/papers` listener: ack, dispatch, respond. Keeps the commands still being
    answered (`drain` waits for them) so a shutdown does not drop a reply mid-way."""

    def __init__(
        self,
        services: Services,
        *,
        admins: Sequence[str] = (),
        dispatch: Dispatch = default_dispatch,
        secrets: Sequence[str] = (),
    ) -> None:
        self._services = services
        self._admins = tuple(admins)
        self._dispatch = dispatch
        self._secrets = tuple(secrets)
        self._inflight: set[asyncio.Task[Any]] = set()

    def register(self, app: AsyncApp) -> None:
        async def papers(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
            if not body.get("response_url"):  # nowhere to answer: do nothing, say so
                await ack(text=NO_RESPONSE_URL)
                log.warning("/papers request without a response_url ignored")
                return
            await ack()  # empty 200 now: the answer follows on the response_url
            task = asyncio.current_task()
            if task is not None:
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)
            await self.answer(body, respond)

        app.command(COMMAND)(papers)

    async def answer(self, body: Mapping[str, Any], respond: AsyncRespond) -> None:
        """Compute the reply and send it; an unexpected failure is logged (redacted) and
        the caller gets a short ephemeral apology, never a traceback."""
        request = command_request(body, self._admins)
        try:
            reply = await self._dispatch(request, self._services)
        except Exception as e:
            self._log_failure(f"/papers failed in {request.channel_ref}", e)
            reply = Reply(FAILURE, error=True)
        if not await self._send(respond, reply, request) and reply.title != FAILURE:
            await self._send(respond, Reply(FAILURE, error=True), request)

    async def _send(self, respond: AsyncRespond, reply: Reply, request: CommandRequest) -> bool:
        message = slack_reply(reply)
        try:
            response = await respond(
                text=message.text,
                blocks=message.blocks,
                response_type=message.response_type,
                unfurl_links=False,
                unfurl_media=False,
            )
        except (TimeoutError, aiohttp.ClientError, ValueError) as e:  # ValueError: bad URL
            # the type only: the message of an invalid URL is the response_url itself
            log.warning(
                "/papers reply to %s not delivered (%s)", request.channel_ref, type(e).__name__
            )
            return False
        if response.status_code != 200:
            log.error(
                "/papers reply to %s refused by Slack: HTTP %s %s",
                request.channel_ref,
                response.status_code,
                redact(str(response.body)[:200], self._secrets),
            )
            return False
        return True

    def _log_failure(self, what: str, error: BaseException) -> None:
        detail = "".join(traceback.format_exception(error))
        log.error("%s: %s", what, redact(detail, self._secrets))

    async def drain(self, grace: float = DRAIN_SECONDS) -> None:
        """Wait (at most `grace` s) for the commands still being answered."""
        pending = {t for t in self._inflight if not t.done()}
        if pending:
            await asyncio.wait(pending, timeout=grace)


def build_slack_app(
    settings: SlackSettings,
    services: Services,
    *,
    client: AsyncWebClient | None = None,
    dispatch: Dispatch = default_dispatch,
) -> AsyncApp:
    """The bolt app with its `/papers` listener. The Web API client uses
    `settings.api_url` unless `client` is given. Bolt's request verification, ssl_check
    and url_verification stay on. Credentials come from `settings` only; of the `SLACK_*`
    variables bolt still reads, SLACK_VERIFICATION_TOKEN only answers ssl_check, and
    SLACK_CLIENT_ID with SLACK_CLIENT_SECRET (bolt's OAuth flow) are refused.

    Raises ConfigError without a bot token, or when the environment turns on OAuth."""
    return _build(settings, services, client=client, dispatch=dispatch)[0]


def _build(
    settings: SlackSettings,
    services: Services,
    *,
    client: AsyncWebClient | None,
    dispatch: Dispatch,
) -> tuple[AsyncApp, PapersCommand]:
    if client is None:
        if not _value(settings.bot_token):
            raise ConfigError("slack.bot_token: required to answer /papers (an xoxb- token)")
        client = slack_client(_value(settings.bot_token), settings.api_url)
    # signing_secret is "" rather than None, or bolt would read SLACK_SIGNING_SECRET
    app = AsyncApp(
        client=client,
        signing_secret=_value(settings.signing_secret),
        name="paperboy",
        logger=_bolt_logger(),
        process_before_response=False,
    )
    if app.oauth_flow is not None:
        raise ConfigError(
            "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are set in the environment, which turns "
            "on bolt's OAuth installation flow; Paperboy uses slack.bot_token: unset them"
        )
    _patient_authorization(app)
    command = PapersCommand(
        services, admins=settings.admins, dispatch=dispatch, secrets=_secrets(settings)
    )
    command.register(app)
    return app, command


class _PatientAuthorization(AsyncSingleTeamAuthorization):
    """Bolt's single-workspace authorization (auth.test once, then remembered), except
    when Slack cannot answer auth.test (unreachable, too slow for the 3 s ack, or a 5xx):
    bolt then fails the request (HTTP 500, or a misleading "install this app" reply), so a
    signed `/papers` would never be answered. Here the request goes on with the bot token
    alone (the command is acknowledged and answered on its response_url) and auth.test is
    tried again with the next request. A token Slack refuses stays bolt's to answer."""

    def __init__(self, base_logger: logging.Logger) -> None:
        super().__init__(base_logger=base_logger)
        self._unreachable = False

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],  # bolt passes it by this name
    ) -> BoltResponse:
        if self.auth_test_result is None:
            try:
                async with asyncio.timeout(AUTH_SECONDS):
                    self.auth_test_result = await req.context.client.auth_test()
            except SlackApiError as e:
                if _error(e) in _AUTH_ERRORS:  # refused: bolt answers it below
                    return await super().async_process(req=req, resp=resp, next=next)
                return await self._without_auth_test(req, next, _error(e))
            except (TimeoutError, aiohttp.ClientError) as e:
                return await self._without_auth_test(req, next, type(e).__name__)
            if self._unreachable:
                self._unreachable = False
                log.info("Slack auth.test succeeded again")
        return await super().async_process(req=req, resp=resp, next=next)

    async def _without_auth_test(
        self, req: AsyncBoltRequest, next: Callable[[], Awaitable[BoltResponse]], why: str
    ) -> BoltResponse:
        if not self._unreachable:
            log.warning(
                "Slack auth.test failed (%s); answering /papers with the bot token, "
                "auth.test is tried again with the next request",
                why,
            )
        self._unreachable = True
        req.context.set_authorize_result(
            AuthorizeResult(
                enterprise_id=req.context.enterprise_id,
                team_id=req.context.team_id,
                user_id=req.context.user_id,
                bot_token=req.context.client.token,
            )
        )
        return await next()


def _patient_authorization(app: AsyncApp) -> None:
    """Put _PatientAuthorization in the place of bolt's own in `app`'s middleware."""
    chain = app._async_middleware_list
    found = [i for i, m in enumerate(chain) if type(m) is AsyncSingleTeamAuthorization]
    if len(found) != 1:  # a slack_bolt that builds its middleware differently
        raise RuntimeError("slack_bolt's single-workspace authorization middleware not found")
    chain[found[0]] = _PatientAuthorization(_bolt_logger())


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


@dataclass(slots=True)
class SlackFrontend:
    """A running Slack front-end. `close()` stops taking commands, waits briefly for the
    ones being answered, then releases the connection or the listening socket."""

    DRAIN: ClassVar[float] = DRAIN_SECONDS

    app: AsyncApp
    mode: Literal["socket", "http"]
    command: PapersCommand
    url: str | None = None  # the events URL in HTTP mode
    _runner: web.AppRunner | None = None
    _socket: _SocketMode | None = None
    _closed: bool = False

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._socket is not None:
            await self._socket.close()
        if self._runner is not None:
            await self._runner.cleanup()
        await self.command.drain(self.DRAIN)


async def start_slack(
    settings: SlackSettings,
    services: Services,
    *,
    client: AsyncWebClient | None = None,
    dispatch: Dispatch = default_dispatch,
) -> SlackFrontend:
    """Start answering `/papers`: Socket Mode when `slack.app_token` is set, else HTTP on
    `slack.http_host:http_port` at /slack/events (which needs `slack.signing_secret`).

    Raises ConfigError when a credential is missing or refused by Slack, PaperboyError
    when Slack cannot be reached for Socket Mode."""
    app_token = _value(settings.app_token)
    if not app_token and not _value(settings.signing_secret):
        raise ConfigError(
            "slack.signing_secret: required to receive /papers over HTTP "
            "(or set slack.app_token, an xapp- token, for Socket Mode)"
        )
    app, command = _build(settings, services, client=client, dispatch=dispatch)
    await _check_bot_token(app.client)
    if app_token:
        handler = _SocketMode(app, app_token)
        try:
            await handler.connect()
        except BaseException:
            await handler.close()
            raise
        log.info("Slack /papers: Socket Mode connected")
        return SlackFrontend(app, "socket", command, _socket=handler)
    runner = await serve_http(
        app,
        settings.http_host,
        settings.http_port,
        signing_secret=_value(settings.signing_secret),
    )
    host, port = runner.addresses[0][:2]
    url = f"http://{host}:{port}{EVENTS_PATH}"
    log.info("Slack /papers: listening on %s", url)
    return SlackFrontend(app, "http", command, url=url, _runner=runner)


async def _check_bot_token(client: AsyncWebClient) -> None:
    """Fail fast on a bot token Slack refuses; an unreachable Slack is only a warning
    (bolt checks again on each request)."""
    try:
        await client.auth_test()
    except SlackApiError as e:
        error = _error(e)
        if error in _AUTH_ERRORS:
            raise ConfigError(f"slack.bot_token: Slack refused it ({error})") from None
        log.warning("Slack auth.test failed (%s); /papers may not work", error)
    except (TimeoutError, aiohttp.ClientError) as e:
        log.warning("Slack unreachable at start (%s); /papers will retry", type(e).__name__)
