"""The Slack front-end of `/papers`: the bolt AsyncApp, served over HTTP or Socket Mode.

`build_slack_app` wires the `/papers` listener (bot.chat.slack_command), the digest's
feedback buttons and 👍/👎 reactions (bot.chat.slack_feedback) and the patient
authorization (bot.chat.slack_auth) into a bolt app whose log lines withhold secrets
(bot.chat.slack_logging). `start_slack` checks the bot token and serves the app
(bot.chat.slack_transport): Socket Mode when an app token is set, else HTTP. Requests are
verified by bolt (signature and a 5-minute timestamp window) in HTTP mode; Socket Mode needs
no public URL. Tokens and secrets never reach a log line. `SlackFrontend.close` stops
taking commands and waits briefly for the ones being answered.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar, Literal

from aiohttp import web
from pydantic import SecretStr
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.slack_auth import check_bot_token, patient_authorization
from bot.chat.slack_command import DRAIN_SECONDS, Dispatch, PapersCommand
from bot.chat.slack_feedback import SlackFeedback
from bot.chat.slack_logging import bolt_logger
from bot.chat.slack_transport import EVENTS_PATH, SocketMode, serve_http
from bot.delivery.slack import slack_client
from bot.errors import ConfigError
from bot.settings import SlackSettings
from handlers.commands import dispatch as default_dispatch
from handlers.services import Services

log = logging.getLogger(__name__)


def _value(secret: SecretStr | None) -> str:
    return secret.get_secret_value() if secret is not None else ""


def _secrets(settings: SlackSettings) -> list[str]:
    values = (settings.bot_token, settings.app_token, settings.signing_secret)
    return [_value(v) for v in values if _value(v)]


def build_slack_app(
    settings: SlackSettings,
    services: Services,
    *,
    client: AsyncWebClient | None = None,
    dispatch: Dispatch = default_dispatch,
) -> AsyncApp:
    """The bolt app with its `/papers` listener and the feedback listeners (button clicks,
    `reaction_added`). The Web API client uses
    `settings.api_url` unless `client` is given. Bolt's request verification, ssl_check
    and url_verification stay on. Credentials come from `settings` only; of the `SLACK_*`
    variables bolt still reads, SLACK_VERIFICATION_TOKEN only answers ssl_check, and
    SLACK_CLIENT_ID with SLACK_CLIENT_SECRET (bolt's OAuth flow) are refused.

    Raises ConfigError without a bot token, or when the environment turns on OAuth."""
    return _build(settings, services, client=client, dispatch=dispatch)[0]


@dataclass(frozen=True, slots=True)
class _Listeners:
    command: PapersCommand
    feedback: SlackFeedback


def _build(
    settings: SlackSettings,
    services: Services,
    *,
    client: AsyncWebClient | None,
    dispatch: Dispatch,
) -> tuple[AsyncApp, _Listeners]:
    if client is None:
        if not _value(settings.bot_token):
            raise ConfigError("slack.bot_token: required to answer /papers (an xoxb- token)")
        client = slack_client(_value(settings.bot_token), settings.api_url)
    # signing_secret is "" rather than None, or bolt would read SLACK_SIGNING_SECRET
    app = AsyncApp(
        client=client,
        signing_secret=_value(settings.signing_secret),
        name="paperboy",
        logger=bolt_logger(),
        process_before_response=False,
    )
    if app.oauth_flow is not None:
        raise ConfigError(
            "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are set in the environment, which turns "
            "on bolt's OAuth installation flow; Paperboy uses slack.bot_token: unset them"
        )
    patient_authorization(app)
    command = PapersCommand(
        services, admins=settings.admins, dispatch=dispatch, secrets=_secrets(settings)
    )
    command.register(app)
    feedback = SlackFeedback(services, secrets=_secrets(settings))
    feedback.register(app)
    return app, _Listeners(command, feedback)


@dataclass(slots=True)
class SlackFrontend:
    """A running Slack front-end. `close()` stops taking commands, waits briefly for the
    ones (and the feedback clicks) being answered, then releases the connection or the
    listening socket."""

    DRAIN: ClassVar[float] = DRAIN_SECONDS

    app: AsyncApp
    mode: Literal["socket", "http"]
    command: PapersCommand
    url: str | None = None  # the events URL in HTTP mode
    votes: SlackFeedback | None = None  # the buttons' and reactions' listeners
    _runner: web.AppRunner | None = None
    _socket: SocketMode | None = None
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
        if self.votes is not None:
            await self.votes.drain(self.DRAIN)


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
    app, listeners = _build(settings, services, client=client, dispatch=dispatch)
    command, feedback = listeners.command, listeners.feedback
    await check_bot_token(app.client)
    if app_token:
        handler = SocketMode(app, app_token)
        try:
            await handler.connect()
        except BaseException:
            await handler.close()
            raise
        log.info("Slack /papers: Socket Mode connected")
        return SlackFrontend(app, "socket", command, votes=feedback, _socket=handler)
    runner = await serve_http(
        app,
        settings.http_host,
        settings.http_port,
        signing_secret=_value(settings.signing_secret),
    )
    host, port = runner.addresses[0][:2]
    url = f"http://{host}:{port}{EVENTS_PATH}"
    log.info("Slack /papers: listening on %s", url)
    return SlackFrontend(app, "http", command, url=url, votes=feedback, _runner=runner)
