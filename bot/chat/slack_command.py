"""The Slack `/papers` listener: acknowledge at once, dispatch to handlers/, respond.

`/papers` is acknowledged within Slack's 3 s with an empty body (or, without a
response_url, with a note and nothing else); the answer is computed afterwards and sent to
the command's `response_url` with `respond()`. A failure is logged redacted and answered
with a short apology, never a traceback; a response_url that cannot be reached is one
warning line (where, and why), and no apology is sent after it to the same URL.
`PapersCommand.drain` waits for the commands still being answered, so a shutdown does not
drop a reply mid-way.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.slack_logging import redact
from bot.delivery.slack_files import SlackUploads, image_blocks, in_words, with_blocks
from bot.errors import DeliveryError, is_dns_failure, network_address, network_cause
from handlers.commands import dispatch as default_dispatch
from handlers.render import slack_reply
from handlers.reply import CommandRequest, Reply
from handlers.services import Services

log = logging.getLogger("bot.chat.slack_app")  # the Slack front-end's one logger name

Dispatch = Callable[[CommandRequest, Services], Awaitable[Reply]]

COMMAND = "/papers"
MANAGE_RULE = "only the admins listed in slack.admins can change this channel's topics"
FAILURE = "Something went wrong on our side; try again"
NO_RESPONSE_URL = "Paperboy cannot answer this request: it came without a response_url"
DRAIN_SECONDS = 10.0  # close() waits this long for commands still being answered
SENT, REFUSED, UNREACHABLE = "sent", "refused", "unreachable"  # what became of a reply


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
        async def papers(
            ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
        ) -> None:
            if not body.get("response_url"):  # nowhere to answer: do nothing, say so
                await ack(text=NO_RESPONSE_URL)
                log.warning("/papers request without a response_url ignored")
                return
            await ack()  # empty 200 now: the answer follows on the response_url
            task = asyncio.current_task()
            if task is not None:
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)
            await self.answer(body, respond, client)

        app.command(COMMAND)(papers)

    async def answer(
        self, body: Mapping[str, Any], respond: AsyncRespond, client: AsyncWebClient | None = None
    ) -> None:
        """Compute the reply and send it; an unexpected failure is logged (redacted) and
        the caller gets a short ephemeral apology, never a traceback."""
        request = command_request(body, self._admins)
        try:
            reply = await self._dispatch(request, self._services)
        except Exception as e:
            self._log_failure(f"/papers failed in {request.channel_ref}", e)
            reply = Reply(FAILURE, error=True)
        sent = await self._send(respond, reply, request, client)
        if sent == REFUSED and reply.title != FAILURE:  # an unreachable URL stays unreachable
            await self._send(respond, Reply(FAILURE, error=True), request)

    async def _send(
        self,
        respond: AsyncRespond,
        reply: Reply,
        request: CommandRequest,
        client: AsyncWebClient | None = None,
    ) -> str:
        """SENT, REFUSED (Slack answered, not 200) or UNREACHABLE (logged in one line)."""
        message = slack_reply(reply)
        blocks = message.blocks
        if reply.files:
            blocks = await self._with_files(client, reply, request, message.text, blocks)
        try:
            response = await respond(
                text=message.text,
                blocks=blocks,
                response_type=message.response_type,
                unfurl_links=False,
                unfurl_media=False,
            )
        except Exception as e:
            # in words and one line, never the exception's text or a traceback: the
            # message of an invalid URL is the response_url itself (a secret)
            where = network_address(e)
            at = f" at {where}" if where and not is_dns_failure(e) else ""
            cause = "not a valid URL" if type(e) is ValueError else network_cause(e)
            log.warning(
                "/papers reply to %s not delivered: its response_url is unreachable%s (%s)",
                request.channel_ref,
                at,
                cause,
            )
            return UNREACHABLE
        if response.status_code != 200:
            log.error(
                "/papers reply to %s refused by Slack: HTTP %s %s",
                request.channel_ref,
                response.status_code,
                redact(str(response.body)[:200], self._secrets),
            )
            return REFUSED
        return SENT

    async def _with_files(
        self,
        client: AsyncWebClient | None,
        reply: Reply,
        request: CommandRequest,
        text: str,
        blocks: Sequence[dict[str, Any]],
    ) -> list[dict[str, Any]]:
        """`blocks` and an image block per file of the reply, uploaded privately with the
        bot's client (bot.delivery.slack_files: a response_url takes no file, but may
        show one the app can see). A file that cannot be uploaded is said in words (its
        alt text), and the reason logged in one line."""
        payload = {"text": text, "blocks": list(blocks)}
        if client is not None:
            try:
                ids = await SlackUploads(client).upload(
                    reply.files, key=request.channel_ref, where=request.channel_ref
                )
            except DeliveryError as e:
                log.warning(
                    "/papers reply to %s: its files were not uploaded: %s",
                    request.channel_ref,
                    redact(str(e), self._secrets),
                )
            else:
                return list(with_blocks(payload, image_blocks(reply.files, ids))["blocks"])
        return list(in_words(payload, reply.files)["blocks"])

    def _log_failure(self, what: str, error: BaseException) -> None:
        detail = "".join(traceback.format_exception(error))
        log.error("%s: %s", what, redact(detail, self._secrets))

    async def drain(self, grace: float = DRAIN_SECONDS) -> None:
        """Wait (at most `grace` s) for the commands still being answered."""
        pending = {t for t in self._inflight if not t.done()}
        if pending:
            await asyncio.wait(pending, timeout=grace)
