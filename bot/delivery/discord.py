"""Discord delivery through the REST API with discord.py's HTTP client (no gateway)."""

from __future__ import annotations

import asyncio

import aiohttp
import discord
from discord.http import HTTPClient, Route

from bot.errors import DeliveryError
from bot.models import Digest, Message, Profile
from bot.pipeline.render.discord_embeds import render_discord

DEFAULT_API = "https://discord.com/api/v10"


def use_api_base(api_url: str) -> None:
    """Point discord.py's REST routes at `api_url`.

    discord.py keeps its base URL in the class attribute `Route.BASE` (process-wide), so
    only the composition root calls this, once, when the config names another endpoint.
    """
    Route.BASE = api_url.rstrip("/")


class DiscordDelivery:
    """Posts digests as bot messages with embeds. discord.py handles 429s per bucket and
    retries 5xx; each message carries a nonce with `enforce_nonce`, so a repeated send of
    the same message within Discord's nonce window creates no second message.

    `timeout` bounds each HTTP request (discord.py's own session has none but aiohttp's
    five-minute default): a server that holds a request is a transient failure, retried
    under the same nonce.
    """

    def __init__(
        self, token: str, *, max_ratelimit_timeout: float = 120.0, timeout: float = 30.0
    ) -> None:
        self._token = token
        self._max_wait = max_ratelimit_timeout
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._login_timeout = timeout
        self._http: HTTPClient | None = None

    def render(self, digest: Digest) -> list[Message]:
        return render_discord(digest)

    async def _client(self) -> HTTPClient:
        if self._http is None:
            http = HTTPClient(asyncio.get_running_loop(), max_ratelimit_timeout=self._max_wait)
            try:
                await asyncio.wait_for(http.static_login(self._token), self._login_timeout)
            except discord.LoginFailure:
                await http.close()
                raise DeliveryError(
                    "Discord rejected the bot token (discord.bot_token)", permanent=True
                ) from None
            except (TimeoutError, aiohttp.ClientError, discord.HTTPException) as e:
                await http.close()
                raise DeliveryError(f"Discord unreachable: {e.__class__.__name__}") from None
            self._http = http
        return self._http

    async def send(
        self, channel: Profile, message: Message, *, idempotency_key: str, maybe_sent: bool = False
    ) -> str:
        http = await self._client()
        payload = {**message.payload, "nonce": idempotency_key, "enforce_nonce": True}
        route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel.channel_id)
        try:
            data = await http.request(route, json=payload, timeout=self._timeout)
        except (discord.Forbidden, discord.NotFound) as e:
            raise DeliveryError(
                f"Discord refused the post to {channel.ref}: {e.status} {e.text}", permanent=True
            ) from None
        except discord.HTTPException as e:
            raise DeliveryError(
                f"Discord failed the post to {channel.ref}: {e.status} {e.text}",
                permanent=e.status in {400, 401},
            ) from None
        except (TimeoutError, discord.RateLimited, aiohttp.ClientError) as e:
            raise DeliveryError(
                f"Discord unreachable posting to {channel.ref}: {e.__class__.__name__}"
            ) from None
        return str(data["id"])

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
