"""Discord delivery through the REST API: one aiohttp request per attempt (no gateway)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
import discord
from discord.http import Route

from bot.delivery import discord_files
from bot.delivery.answers import describe, json_object, retry_after
from bot.delivery.direct import DirectMessageRefused
from bot.delivery.explain import unreachable
from bot.delivery.pacing import DISCORD_GLOBAL, Clock, Pacer, Rate
from bot.delivery.retry import RetryLater, Sleep
from bot.errors import DeliveryError
from bot.models import Digest, Message, Profile
from bot.pipeline.render.discord_embeds import render_discord

DEFAULT_API = "https://discord.com/api/v10"
BAD_TOKEN = "Discord rejected the bot token (discord.bot_token)"
# Discord rounds X-RateLimit-Reset-After to the millisecond: waiting exactly that can arrive
# a hair before the bucket resets and draw the 429 the wait was for.
BUCKET_MARGIN = 0.05
USER_AGENT = f"DiscordBot (https://github.com/Rapptz/discord.py, {discord.__version__}) Paperboy"


def use_api_base(api_url: str) -> None:
    """Point Discord's REST routes at `api_url`.

    The base URL lives in discord.py's class attribute `Route.BASE` (process-wide; the chat
    front-end uses discord.py), so only the composition root calls this, once, when the
    config names another endpoint. This delivery reads it at each request.
    """
    Route.BASE = api_url.rstrip("/")


class DiscordDelivery:
    """Posts digests as bot messages with embeds, one HTTP request per `send`.

    Not through discord.py's `HTTPClient.request`: it retries 500/502/504 up to five times
    with real sleeps of 1 to 9 s, sleeps every 429 itself, and lets a foreign error body
    (truncated JSON labelled application/json) escape as a raw `JSONDecodeError`; none of
    that can be bounded or measured. Here a 429 raises `RetryLater` with Discord's
    `retry_after`, and the caller's policy (bot.delivery.retry) does all retrying.

    Each message carries a nonce with `enforce_nonce`, so a repeated send of the same
    message within Discord's nonce window creates no second message. The token is checked
    once (`GET /users/@me`) before the first post. When Discord says a channel's bucket is
    empty (`X-RateLimit-Remaining: 0`), the next post to that channel waits
    `X-RateLimit-Reset-After` first instead of drawing a 429. `timeout` bounds each request.

    Every request (the login included) first takes a slot of the bot's global limit
    (`pace`, 50 requests per second less a margin: bot.delivery.pacing), so channels
    posting at once share it without drawing 429s; a slot waits with the turn held, which
    bounds how many channels queue for it. A 429 for the whole bot (``"global": true``,
    ``X-RateLimit-Global`` or ``X-RateLimit-Scope: global``) holds every later slot for
    its `retry_after`. `pace=None` paces nothing globally. `clock` is the monotonic time
    `sleep` waits on.
    """

    def __init__(
        self,
        token: str,
        *,
        timeout: float = 30.0,
        sleep: Sleep = asyncio.sleep,
        max_ratelimit_timeout: float | None = None,  # accepted for older callers; unused
        pace: Rate | None = DISCORD_GLOBAL,
        clock: Clock = time.monotonic,
    ) -> None:
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._sleep = sleep
        self._session: aiohttp.ClientSession | None = None
        self._logged_in = False
        self._login_lock = asyncio.Lock()  # channels sending at once log in once
        self._pause: dict[str, float] = {}  # channel id -> seconds to wait before posting
        self.pacer = None if pace is None else Pacer(pace, clock=clock, sleep=sleep)

    def render(self, digest: Digest) -> list[Message]:
        return render_discord(digest, buttons=True)  # the bot posts it: clicks reach us

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            headers = {"Authorization": f"Bot {self._token}", "User-Agent": USER_AGENT}
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers=headers)
        return self._session

    async def _request(
        self,
        method: str,
        path: str,
        what: str,
        json: Any = None,
        form: aiohttp.FormData | None = None,
    ) -> tuple[int, dict[str, Any] | None, str, Mapping[str, str]]:
        """(status, JSON object or None, body text, headers), once the bot's global limit
        gives this request its slot; raises a transient DeliveryError when Discord cannot be
        reached."""
        if self.pacer is not None:
            await self.pacer.slot()
        try:
            url = Route.BASE + path
            async with self._http().request(method, url, json=json, data=form) as resp:
                body = (await resp.read()).decode("utf-8", "replace")
                return resp.status, json_object(body), body, resp.headers.copy()
        except (TimeoutError, aiohttp.ClientError) as e:
            raise unreachable("Discord", e, what) from None

    async def _login(self) -> None:
        if self._logged_in:
            return
        async with self._login_lock:
            if not self._logged_in:
                await self._check_token()

    async def _check_token(self) -> None:
        status, data, body, headers = await self._request("GET", "/users/@me", "logging in")
        if status == 401:
            raise DeliveryError(BAD_TOKEN, permanent=True)
        if status == 429:
            wait = self._limited(headers, data)
            raise RetryLater("Discord rate limited the login (429)", retry_after=wait)
        if status >= 300:
            raise DeliveryError(
                f"Discord answered {status} to the login: {describe(body, fields=('message',))}",
                permanent=400 <= status < 500 and status != 408,
            )
        self._logged_in = True

    async def send(
        self, channel: Profile, message: Message, *, idempotency_key: str, maybe_sent: bool = False
    ) -> str:
        await self._login()
        pause = self._pause.pop(channel.channel_id, 0.0)
        if pause > 0:
            await self._sleep(pause)
        payload = {**message.payload, "nonce": idempotency_key, "enforce_nonce": True}
        path = f"/channels/{channel.channel_id}/messages"
        what = f"posting to {channel.ref}"
        if message.files:  # multipart: payload_json and files[n] (bot.delivery.discord_files)
            discord_files.check_files(message.files, channel.ref)
            multipart = discord_files.form(payload, message.files)
            status, data, body, headers = await self._request("POST", path, what, form=multipart)
            if status == 413:
                detail = describe(body, fields=("message",))
                raise discord_files.too_large(message.files, channel.ref, detail)
        else:
            status, data, body, headers = await self._request("POST", path, what, payload)
        if status < 300:
            if headers.get("X-RateLimit-Remaining") == "0":
                self._pause[channel.channel_id] = _reset_after(headers)
            if data is None or "id" not in data:  # perhaps posted: the nonce covers a retry
                raise DeliveryError(f"Discord answered {status} without a message {what}")
            return str(data["id"])
        detail = describe(body, fields=("message",))
        if status == 429:
            raise RetryLater(
                f"Discord rate limited the post to {channel.ref} (429)",
                retry_after=self._limited(headers, data),
            )
        if status == 401:
            self._logged_in = False
            raise DeliveryError(BAD_TOKEN, permanent=True)
        if status in (403, 404):
            if (reason := dm_refusal(data)) is not None:  # a DM the person refuses
                raise DirectMessageRefused(
                    f"Discord refused the DM {what}: {status} {detail} ({reason})", reason=reason
                )
            raise DeliveryError(
                f"Discord refused the post to {channel.ref}: {status} {detail}", permanent=True
            )
        raise DeliveryError(
            f"Discord failed the post to {channel.ref}: {status} {detail}",
            permanent=400 <= status < 500 and status != 408,
        )

    def _limited(self, headers: Mapping[str, str], data: dict[str, Any] | None) -> float:
        """The wait a 429 names; a 429 for the whole bot holds every channel's next slot."""
        wait = _wait(headers, data)
        if self.pacer is not None and is_global(headers, data):
            self.pacer.hold(wait)
        return wait

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._logged_in = False

    # --- direct messages (personal alerts, issue 19) -----------------------------------

    async def open_dm(self, user_id: str) -> str:
        """The DM channel with `user_id`: `POST /users/@me/channels {"recipient_id": …}`
        (Discord's Create DM; the same channel every time). Discord refuses some users
        here already (400 with code 50007, as discord.py's `create_dm` reports it), an
        unknown user is 10013 (or 404), an invalid one 50033: DirectMessageRefused. A
        user who blocks DMs is usually refused only when posting there (403, code 50007,
        "Cannot send messages to this user"): `send` raises DirectMessageRefused then."""
        await self._login()
        what = f"opening a DM with discord user {user_id}"
        path = "/users/@me/channels"
        status, data, body, headers = await self._request(
            "POST", path, what, {"recipient_id": user_id}
        )
        if status < 300 and data is not None and "id" in data:
            return str(data["id"])
        if status == 429:
            raise RetryLater(
                f"Discord rate limited {what} (429)", retry_after=self._limited(headers, data)
            )
        if status == 401:
            self._logged_in = False
            raise DeliveryError(BAD_TOKEN, permanent=True)
        detail = describe(body, fields=("message",))
        if status in (400, 403, 404) and (reason := dm_refusal(data, unknown=status == 404)):
            raise DirectMessageRefused(f"Discord refused {what}: {status} {detail}", reason=reason)
        raise DeliveryError(
            f"Discord failed {what}: {status} {detail}",
            permanent=400 <= status < 500 and status not in (408, 429),
        )


# Discord's JSON error codes that mean "this person cannot be messaged", in words for them
# (https://discord.com/developers/docs/topics/opcodes-and-status-codes#json).
DM_REFUSALS = {
    50007: "you do not accept direct messages from the bot (Discord 50007)",
    10013: "Discord does not know your user any more (10013)",
    50033: "Discord calls your user an invalid recipient (50033)",
}


def dm_refusal(data: dict[str, Any] | None, *, unknown: bool = False) -> str | None:
    """The reason, in words, when Discord's error body says the person cannot be messaged;
    None otherwise. `unknown`: a 404 without a code counts as an unknown user."""
    code = data.get("code") if data is not None else None
    if isinstance(code, int) and code in DM_REFUSALS:
        return DM_REFUSALS[code]
    return DM_REFUSALS[10013] if unknown and code is None else None


def _wait(headers: Mapping[str, str], data: dict[str, Any] | None) -> float:
    return retry_after(headers, data) or 0.0


def is_global(headers: Mapping[str, str], data: dict[str, Any] | None) -> bool:
    """A 429 of the bot's global limit (not of one route's bucket), as Discord marks it:
    ``"global": true`` in the body, ``X-RateLimit-Global: true``, or
    ``X-RateLimit-Scope: global``."""
    if data is not None and data.get("global") is True:
        return True
    if headers.get("X-RateLimit-Global", "").lower() == "true":
        return True
    return headers.get("X-RateLimit-Scope", "").lower() == "global"


def _reset_after(headers: Mapping[str, str]) -> float:
    try:
        seconds = float(headers.get("X-RateLimit-Reset-After", "0"))
    except ValueError:
        return 0.0
    return seconds + BUCKET_MARGIN if 0.0 <= seconds <= 60.0 else 0.0
