"""Slack delivery through the Web API (`chat.postMessage`) with slack_sdk."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery.answers import describe, retry_after
from bot.delivery.direct import DirectMessageRefused
from bot.delivery.explain import slack_refusal, unreachable
from bot.delivery.retry import RetryLater
from bot.delivery.slack_files import (
    SlackUploads,
    check_room,
    file_not_ready,
    image_blocks,
    still_processing,
    with_blocks,
)
from bot.errors import DeliveryError
from bot.models import Digest, Message, Profile
from bot.pipeline.render.slack import render_slack

METADATA_EVENT = "paperboy_digest"


def slack_client(token: str, api_url: str, *, timeout: int = 30) -> AsyncWebClient:
    """An AsyncWebClient that retries 429 after Retry-After (a 429 means "not posted"),
    for the chat front-end. `SlackDelivery` removes that handler: its messages are retried
    by their own policy (bot.delivery.retry), which must not be multiplied by another.

    It deliberately does not retry connection errors or 5xx by itself: the message may
    have been posted before the answer was lost, and Slack has no idempotency key, so
    `SlackDelivery` looks for the message before posting it again. `api_url` must end
    with '/' (AsyncWebClient joins with urljoin).
    """
    base = api_url if api_url.endswith("/") else api_url + "/"
    return AsyncWebClient(
        token=token,
        base_url=base,
        timeout=timeout,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=5)],
    )


class SlackDelivery:
    """Posts digests with `chat.postMessage`. Owns its client (`aclose`), and makes one
    attempt per `send`: the client's own retry handlers are removed (the caller's
    bot.delivery.retry policy retries, honouring Slack's Retry-After exactly).

    Any answer is read safely: Slack's JSON error (HTTP 200 `ok: false`), a 429, or a 4xx
    or 5xx from a load balancer with an empty, text, HTML or truncated body. 5xx and
    connection errors are transient (the post may have happened: see below); other 4xx
    are permanent for this run (Slack answers its own errors with HTTP 200).

    Every message carries metadata with its idempotency key. When an earlier attempt at
    a message ended without a clear answer (connection lost, timeout, 5xx), or the caller
    says it may already be there (`maybe_sent`), the channel's recent history is checked
    for that key first, so the message is not posted twice.
    """

    HISTORY_LOOKBACK: ClassVar[int] = 100  # recent messages searched for a lost post

    # Errors retrying cannot fix: the channel is reported and skipped.
    PERMANENT: ClassVar[frozenset[str]] = frozenset(
        {
            "channel_not_found",
            "not_in_channel",
            "is_archived",
            "invalid_auth",
            "not_authed",
            "account_inactive",
            "token_revoked",
            "token_expired",
            "missing_scope",
            "no_permission",
            "restricted_action",
            "invalid_blocks",
            "invalid_arguments",
            "msg_too_long",
            "no_text",
            "team_access_not_granted",
        }
    )

    def __init__(self, client: AsyncWebClient) -> None:
        client.retry_handlers = []  # one retry policy per message: the caller's
        self._client = client
        self._unclear: set[str] = set()
        self._uploads = SlackUploads(client)  # files of messages (bot.delivery.slack_files)

    def render(self, digest: Digest) -> list[Message]:
        return render_slack(digest, buttons=True)  # the app posts it: clicks reach us

    async def send(
        self,
        channel: Profile,
        message: Message,
        *,
        idempotency_key: str,
        maybe_sent: bool = False,
    ) -> str:
        if maybe_sent or idempotency_key in self._unclear:
            found = await self._find_posted(channel, idempotency_key, message.keys)
            if found is not None:
                self._unclear.discard(idempotency_key)
                return found
        if message.files:  # uploaded privately first, shown by this one post (slack_files)
            message = await self._with_files(channel, message, idempotency_key)
        payload = {**message.payload, "channel": channel.channel_id}
        payload["metadata"] = {
            "event_type": METADATA_EVENT,
            "event_payload": {"idempotency_key": idempotency_key, "papers": list(message.keys)},
        }
        try:
            response = await self._client.api_call("chat.postMessage", json=payload)
        except SlackApiError as e:
            status, headers, data = _answer(e)
            if status == 429:
                raise RetryLater(
                    f"Slack rate limited the post to {channel.ref} (429)",
                    retry_after=retry_after(headers) or 0.0,
                ) from None
            if status >= 500 or status in (0, 408):
                self._unclear.add(idempotency_key)  # perhaps posted before it failed
            error = data.get("error") if isinstance(data, dict) else None
            if error and status == 200 and file_not_ready(data, payload):
                raise still_processing(channel.ref) from None  # bot.delivery.slack_files
            if error and status == 200:
                raise DeliveryError(
                    f"Slack refused the post to {channel.ref}: {slack_refusal(str(error))}",
                    permanent=str(error) in self.PERMANENT,
                ) from None
            if error:
                detail = str(error)
            elif isinstance(data, str):
                detail = describe(data)
            else:
                detail = "no JSON in the answer"
            raise DeliveryError(
                f"Slack answered HTTP {status or '(unreadable)'} to the post to {channel.ref}: "
                f"{detail}",
                permanent=400 <= status < 500 and status != 408,
            ) from None
        except (TimeoutError, aiohttp.ClientError) as e:
            self._unclear.add(idempotency_key)
            raise unreachable("Slack", e, f"posting to {channel.ref}") from None
        except AttributeError:  # slack_sdk's validate() on an HTTP 200 text body
            self._unclear.add(idempotency_key)
            raise DeliveryError(
                f"Slack answered HTTP 200 without JSON to the post to {channel.ref}"
            ) from None
        self._unclear.discard(idempotency_key)
        return str(response.get("ts", ""))

    async def _with_files(
        self, channel: Profile, message: Message, idempotency_key: str
    ) -> Message:
        """`message` with its files uploaded (privately: not shared to any channel) and
        shown by image blocks after its own blocks; see bot.delivery.slack_files for why
        this keeps a message with files one exactly-once post."""
        check_room(message.payload, message.files, channel.ref)
        ids = await self._uploads.upload(message.files, key=idempotency_key, where=channel.ref)
        payload = with_blocks(message.payload, image_blocks(message.files, ids))
        return Message(payload=payload, keys=message.keys)

    async def _find_posted(
        self, channel: Profile, idempotency_key: str, papers: Sequence[str] = ()
    ) -> str | None:
        """The ts of a message carrying `idempotency_key` (and all of `papers`) among the
        channel's recent ones, or None (also when history cannot be read: then at most one
        duplicate is possible).
        """
        try:
            history = await self._client.conversations_history(
                channel=channel.channel_id,
                limit=self.HISTORY_LOOKBACK,
                include_all_metadata=True,
            )
        except (SlackApiError, TimeoutError, aiohttp.ClientError, AttributeError):
            return None
        data = history.data if isinstance(history.data, dict) else {}
        messages: list[Any] = data.get("messages") or []
        for msg in messages:
            if not isinstance(msg, dict):
                continue
            meta = msg.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if (
                meta.get("event_type") == METADATA_EVENT
                and payload.get("idempotency_key") == idempotency_key
                and set(papers) <= set(payload.get("papers") or ())
            ):
                return str(msg.get("ts", ""))
        return None

    async def aclose(self) -> None:  # a client given a session owns it: close it
        session = getattr(self._client, "session", None)
        if session is not None and not session.closed:
            await session.close()

    # --- direct messages (personal alerts, issue 19) -----------------------------------

    async def open_dm(self, user_id: str) -> str:
        """The DM channel (`D…`) with `user_id`, by `conversations.open(users=…)` (scope
        `im:write`); the digest then posts there with `send`. Refusals that are the
        person's, not the operator's (DM_REFUSALS, from Slack's documented errors of
        conversations.open: https://api.slack.com/methods/conversations.open, and
        `cannot_dm_bot` for a bot user) raise DirectMessageRefused; a 429 RetryLater; other
        errors DeliveryError (permanent for Slack's own error answers)."""
        what = f"opening a DM with slack user {user_id}"
        try:
            response = await self._client.api_call("conversations.open", json={"users": user_id})
        except SlackApiError as e:
            status, headers, data = _answer(e)
            if status == 429:
                raise RetryLater(
                    f"Slack rate limited {what} (429)", retry_after=retry_after(headers) or 0.0
                ) from None
            error = str(data.get("error")) if isinstance(data, dict) else ""
            if error in DM_REFUSALS:
                raise DirectMessageRefused(
                    f"Slack refused {what}: {error}", reason=DM_REFUSALS[error]
                ) from None
            raise DeliveryError(
                f"Slack refused {what}: {error or f'HTTP {status}'}",
                permanent=status == 200 and bool(error),
            ) from None
        except (TimeoutError, aiohttp.ClientError) as e:
            raise unreachable("Slack", e, what) from None
        except AttributeError:  # an HTTP 200 text body
            raise DeliveryError(f"Slack answered HTTP 200 without JSON {what}") from None
        channel = response.get("channel")
        channel_id = channel.get("id") if isinstance(channel, dict) else None
        if not channel_id:
            raise DeliveryError(f"Slack answered without a channel {what}")
        return str(channel_id)

    async def tell(self, channel_id: str, user_id: str, text: str) -> bool:
        """`text` shown only to `user_id` in `channel_id` (`chat.postEphemeral`); False
        when Slack refused (`user_not_in_channel`, `channel_not_found`, `is_archived`…) or
        could not be reached. Plain text, `&<>` escaped: it pings nobody."""
        safe = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        try:
            await self._client.api_call(
                "chat.postEphemeral", json={"channel": channel_id, "user": user_id, "text": safe}
            )
        except (SlackApiError, TimeoutError, aiohttp.ClientError, AttributeError):
            return False
        return True


# conversations.open errors that mean "this person cannot be messaged", in words for them.
DM_REFUSALS: Mapping[str, str] = {
    "user_not_found": "Slack does not know your user any more (user_not_found)",
    "user_disabled": "your Slack account is deactivated (user_disabled)",
    "user_not_visible": "the bot is not allowed to see your user (user_not_visible)",
    "cannot_dm_bot": "the bot cannot message a bot user (cannot_dm_bot)",
}


def _answer(e: SlackApiError) -> tuple[int, Mapping[str, str], object]:
    """(HTTP status, headers, parsed body) of the answer a SlackApiError carries: slack_sdk
    puts an AsyncSlackResponse there, whose data is a dict, a str (a text/plain body) or
    {} (no JSON), or, for a body it failed to parse as JSON, the raw aiohttp response."""
    response = e.response
    status = getattr(response, "status_code", None) or getattr(response, "status", None) or 0
    headers = getattr(response, "headers", None) or {}
    data = getattr(response, "data", None)
    if data is None and isinstance(getattr(response, "status", None), int):
        data = "{"  # slack_sdk could not parse the body as JSON
    return int(status), headers, data
