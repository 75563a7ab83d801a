"""Incoming-webhook delivery for teams that install no bot: Slack and Discord webhooks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import ClassVar

import aiohttp

from bot.errors import DeliveryError
from bot.models import Digest, Message, Profile
from bot.pipeline.render.discord_embeds import render_discord
from bot.pipeline.render.slack import render_slack

Sleep = Callable[[float], Awaitable[None]]


class _Webhook:
    """POSTs JSON to the channel's webhook URL (a secret: never in a message or error).

    429 waits the platform's retry delay (capped) and tries again, up to `attempts`;
    5xx, timeouts and connection errors are transient `DeliveryError`s; 4xx (unknown or
    revoked webhook) are permanent.
    """

    MAX_WAIT: ClassVar[float] = 60.0
    platform_name: ClassVar[str] = "webhook"

    def __init__(
        self,
        urls: Mapping[str, str],
        *,
        timeout: float = 30.0,
        attempts: int = 5,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._urls = urls
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._attempts = attempts
        self._sleep = sleep
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
    def _retry_after(resp: aiohttp.ClientResponse, body: str) -> float:
        raise NotImplementedError

    @staticmethod
    def _ref(body: str, idempotency_key: str) -> str:
        return idempotency_key

    async def send(
        self, channel: Profile, message: Message, *, idempotency_key: str, maybe_sent: bool = False
    ) -> str:
        url = self._target(self._url(channel), idempotency_key)
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        for _ in range(self._attempts):
            try:
                async with self._session.post(url, json=message.payload) as resp:
                    body = await resp.text()
                    if resp.status < 300:
                        return self._ref(body, idempotency_key)
                    if resp.status == 429:
                        await self._sleep(min(self._retry_after(resp, body), self.MAX_WAIT))
                        continue
                    detail = body[:200].strip()
                    raise DeliveryError(
                        f"{self.platform_name} webhook of {channel.ref} answered "
                        f"{resp.status} {detail}",
                        permanent=400 <= resp.status < 500,
                    )
            except (TimeoutError, aiohttp.ClientError) as e:
                raise DeliveryError(
                    f"{self.platform_name} webhook of {channel.ref} unreachable: "
                    f"{e.__class__.__name__}"
                ) from None
        raise DeliveryError(f"{self.platform_name} webhook of {channel.ref} kept rate limiting")

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class SlackWebhookDelivery(_Webhook):
    """Slack incoming webhooks: Block Kit payloads; answers "ok"; 429 has Retry-After."""

    platform_name = "Slack"

    def render(self, digest: Digest) -> list[Message]:
        return render_slack(digest)

    @staticmethod
    def _retry_after(resp: aiohttp.ClientResponse, body: str) -> float:
        try:
            return float(resp.headers.get("Retry-After", "1"))
        except ValueError:
            return 1.0


class DiscordWebhookDelivery(_Webhook):
    """Discord webhooks with `?wait=true`, so the answer confirms the created message."""

    platform_name = "Discord"

    def render(self, digest: Digest) -> list[Message]:
        return render_discord(digest)

    def _target(self, url: str, idempotency_key: str) -> str:
        return url + ("&" if "?" in url else "?") + "wait=true"

    @staticmethod
    def _retry_after(resp: aiohttp.ClientResponse, body: str) -> float:
        try:
            return float(json.loads(body).get("retry_after", 1.0))
        except (ValueError, AttributeError):
            return 1.0

    @staticmethod
    def _ref(body: str, idempotency_key: str) -> str:
        try:
            return str(json.loads(body)["id"])
        except (ValueError, KeyError, TypeError):
            return idempotency_key
