"""Incoming-webhook delivery for teams that install no bot: Slack and Discord webhooks."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, ClassVar

import aiohttp

from bot.delivery import discord_files, slack_files
from bot.delivery.answers import describe, json_object, retry_after
from bot.delivery.explain import unreachable
from bot.delivery.retry import RetryLater, Sleep
from bot.errors import DeliveryError
from bot.models import Digest, Message, Profile
from bot.pipeline.render.discord_embeds import render_discord
from bot.pipeline.render.slack import render_slack


class _Webhook:
    """POSTs JSON to the channel's webhook URL (a secret: never in a message or error).

    One attempt per `send` (the caller's `bot.delivery.retry` policy retries): 429 raises
    `RetryLater` with the platform's wait; 5xx, timeouts and connection errors are
    transient `DeliveryError`s; other 4xx (unknown or revoked webhook) are permanent. The
    answer's body may be anyone's (a proxy's HTML page, nothing, truncated JSON): it is
    summarised in one line, never dumped.
    """

    platform_name: ClassVar[str] = "webhook"

    def __init__(
        self,
        urls: Mapping[str, str],
        *,
        timeout: float = 30.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._urls = urls
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        del sleep  # accepted for older callers: waits belong to the retry policy
        self._session: aiohttp.ClientSession | None = None

    def _url(self, channel: Profile) -> str:
        try:
            return self._urls[channel.ref]
        except KeyError:
            raise DeliveryError(
                f"{channel.ref} has no webhook url in the configuration", permanent=True
            ) from None

    def _target(self, url: str, idempotency_key: str) -> str:
        return url

    @staticmethod
    def _ref(body: str, idempotency_key: str) -> str:
        return idempotency_key

    def _body(self, message: Message, channel: Profile) -> dict[str, Any]:
        """The request's body, as keyword arguments of aiohttp's post: JSON by default."""
        return {"json": message.payload}

    async def send(
        self, channel: Profile, message: Message, *, idempotency_key: str, maybe_sent: bool = False
    ) -> str:
        url = self._target(self._url(channel), idempotency_key)
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        where = f"{self.platform_name} webhook of {channel.ref}"
        try:
            async with self._session.post(url, **self._body(message, channel)) as resp:
                status, headers = resp.status, resp.headers
                body = (await resp.read()).decode("utf-8", "replace")
        except (TimeoutError, aiohttp.ClientError) as e:
            raise unreachable(f"{self.platform_name} webhook", e, f"for {channel.ref}") from None
        if status < 300:
            return self._ref(body, idempotency_key)
        detail = describe(body)
        if status == 413 and message.files and self.platform_name == "Discord":
            raise discord_files.too_large(message.files, channel.ref, detail)
        if status == 429:
            wait = retry_after(headers, json_object(body))
            raise RetryLater(f"{where} rate limited (429)", retry_after=wait or 0.0)
        raise DeliveryError(
            f"{where} answered {status} {detail}",
            permanent=400 <= status < 500 and status != 408,
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class SlackWebhookDelivery(_Webhook):
    """Slack incoming webhooks: Block Kit payloads; answers "ok"; 429 has Retry-After.

    An incoming webhook cannot carry a file (it takes only a JSON message, and an image
    block needs a public URL or a file the poster can see: the webhook has neither), so a
    message's files are said in words: a context block per file with its alt text.
    """

    platform_name = "Slack"

    def _body(self, message: Message, channel: Profile) -> dict[str, Any]:
        if not message.files:
            return {"json": message.payload}
        return {"json": slack_files.in_words(message.payload, message.files)}

    def render(self, digest: Digest) -> list[Message]:
        return render_slack(digest)


class DiscordWebhookDelivery(_Webhook):
    """Discord webhooks with `?wait=true`, so the answer confirms the created message."""

    platform_name = "Discord"

    def render(self, digest: Digest) -> list[Message]:
        return render_discord(digest)

    def _target(self, url: str, idempotency_key: str) -> str:
        return url + ("&" if "?" in url else "?") + "wait=true"

    def _body(self, message: Message, channel: Profile) -> dict[str, Any]:
        """Files go as Discord's multipart form, as to the bot's API (discord_files)."""
        if not message.files:
            return {"json": message.payload}
        discord_files.check_files(message.files, channel.ref)
        return {"data": discord_files.form(message.payload, message.files)}

    @staticmethod
    def _ref(body: str, idempotency_key: str) -> str:
        data = json_object(body)
        return str(data["id"]) if data is not None and "id" in data else idempotency_key
