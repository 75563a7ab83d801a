"""Slack delivery through the Web API (`chat.postMessage`) with slack_sdk."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import DeliveryError
from bot.models import Digest, Message, Profile
from bot.pipeline.render.slack import render_slack

METADATA_EVENT = "paperboy_digest"


def slack_client(token: str, api_url: str, *, timeout: int = 30) -> AsyncWebClient:
    """An AsyncWebClient that retries 429 after Retry-After (a 429 means "not posted").

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
    """Posts digests with `chat.postMessage`. Owns its client's session (`aclose`).

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
        self._client = client
        self._unclear: set[str] = set()

    def render(self, digest: Digest) -> list[Message]:
        return render_slack(digest)

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
        payload = {**message.payload, "channel": channel.channel_id}
        payload["metadata"] = {
            "event_type": METADATA_EVENT,
            "event_payload": {"idempotency_key": idempotency_key, "papers": list(message.keys)},
        }
        try:
            response = await self._client.api_call("chat.postMessage", json=payload)
        except SlackApiError as e:
            if e.response.status_code >= 500:
                self._unclear.add(idempotency_key)
            error = str(e.response.get("error", None) or f"HTTP {e.response.status_code}")
            raise DeliveryError(
                f"Slack refused the post to {channel.ref}: {error}",
                permanent=error in self.PERMANENT,
            ) from None
        except (TimeoutError, aiohttp.ClientError) as e:
            self._unclear.add(idempotency_key)
            raise DeliveryError(
                f"Slack unreachable posting to {channel.ref}: {e.__class__.__name__}"
            ) from None
        self._unclear.discard(idempotency_key)
        return str(response.get("ts", ""))

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
        except (SlackApiError, TimeoutError, aiohttp.ClientError):
            return None
        messages: list[dict[str, Any]] = history.get("messages", []) or []
        for msg in messages:
            meta = msg.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if (
                meta.get("event_type") == METADATA_EVENT
                and payload.get("idempotency_key") == idempotency_key
                and set(papers) <= set(payload.get("papers") or ())
            ):
                return str(msg.get("ts", ""))
        return None

    async def aclose(self) -> None:
        session = getattr(self._client, "session", None)
        if session is not None and not session.closed:
            await session.close()
