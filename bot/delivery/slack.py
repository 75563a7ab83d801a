"""Slack delivery through the Web API (`chat.postMessage`) with slack_sdk."""

from __future__ import annotations

from typing import ClassVar

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import DeliveryError
from bot.models import Digest, Message, Profile
from bot.pipeline.render.slack import render_slack

METADATA_EVENT = "paperboy_digest"


def slack_client(token: str, api_url: str, *, timeout: int = 30) -> AsyncWebClient:
    """An AsyncWebClient that retries 429 (after Retry-After), 5xx and connection errors.

    slack_sdk retries nothing by default; `api_url` must end with '/' (urljoin).
    """
    base = api_url if api_url.endswith("/") else api_url + "/"
    return AsyncWebClient(
        token=token,
        base_url=base,
        timeout=timeout,
        retry_handlers=[
            AsyncRateLimitErrorRetryHandler(max_retry_count=5),
            AsyncServerErrorRetryHandler(max_retry_count=2),
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
        ],
    )


class SlackDelivery:
    """Posts digests with `chat.postMessage`. Owns its client's session (`aclose`).

    Every message carries metadata naming its papers and idempotency key, so a run that
    died mid-post can see what reached the channel (conversations.history).
    """

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

    def render(self, digest: Digest) -> list[Message]:
        return render_slack(digest)

    async def send(self, channel: Profile, message: Message, *, idempotency_key: str) -> str:
        payload = {**message.payload, "channel": channel.channel_id}
        payload["metadata"] = {
            "event_type": METADATA_EVENT,
            "event_payload": {"idempotency_key": idempotency_key, "papers": len(message.keys)},
        }
        try:
            response = await self._client.api_call("chat.postMessage", json=payload)
        except SlackApiError as e:
            error = str(e.response.get("error", "unknown_error"))
            raise DeliveryError(
                f"Slack refused the post to {channel.ref}: {error}",
                permanent=error in self.PERMANENT,
            ) from None
        except (TimeoutError, aiohttp.ClientError) as e:
            raise DeliveryError(
                f"Slack unreachable posting to {channel.ref}: {e.__class__.__name__}"
            ) from None
        return str(response.get("ts", ""))

    async def aclose(self) -> None:
        session = getattr(self._client, "session", None)
        if session is not None and not session.closed:
            await session.close()
