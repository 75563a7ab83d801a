"""The Slack front-end's bot-token checks: at start, and bolt's per-request authorization.

`check_bot_token` fails the start on a token Slack refuses and only warns when Slack
cannot be reached. `patient_authorization` replaces bolt's single-workspace authorization
in an AsyncApp with one that answers `/papers` with the bot token alone while auth.test
cannot be answered (unreachable, too slow for the 3 s ack, a 5xx), and tries auth.test
again with the next request. A token Slack refuses stays bolt's to answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aiohttp
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.middleware.authorization.async_single_team_authorization import (
    AsyncSingleTeamAuthorization,
)
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.slack_logging import bolt_logger
from bot.errors import ConfigError

log = logging.getLogger("bot.chat.slack_app")  # the Slack front-end's one logger name

AUTH_SECONDS = 1.5  # auth.test's share of Slack's 3 s for acknowledging a command
# Slack's answers to a token it will not accept: a configuration problem, not an outage.
AUTH_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
)


def slack_error(e: SlackApiError) -> str:
    return str(e.response.get("error", None) or f"HTTP {e.response.status_code}")


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
                if slack_error(e) in AUTH_ERRORS:  # refused: bolt answers it below
                    return await super().async_process(req=req, resp=resp, next=next)
                return await self._without_auth_test(req, next, slack_error(e))
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


def patient_authorization(app: AsyncApp) -> None:
    """Put _PatientAuthorization in the place of bolt's own in `app`'s middleware."""
    chain = app._async_middleware_list
    found = [i for i, m in enumerate(chain) if type(m) is AsyncSingleTeamAuthorization]
    if len(found) != 1:  # a slack_bolt that builds its middleware differently
        raise RuntimeError("slack_bolt's single-workspace authorization middleware not found")
    chain[found[0]] = _PatientAuthorization(bolt_logger())


async def check_bot_token(client: AsyncWebClient) -> None:
    """Fail fast on a bot token Slack refuses; an unreachable Slack is only a warning
    (bolt checks again on each request)."""
    try:
        await client.auth_test()
    except SlackApiError as e:
        error = slack_error(e)
        if error in AUTH_ERRORS:
            raise ConfigError(f"slack.bot_token: Slack refused it ({error})") from None
        log.warning("Slack auth.test failed (%s); /papers may not work", error)
    except (TimeoutError, aiohttp.ClientError) as e:
        log.warning("Slack unreachable at start (%s); /papers will retry", type(e).__name__)
