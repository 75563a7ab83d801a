"""A fake Discord REST API speaking real HTTP, for discord.py's HTTPClient and webhooks.

Point discord.py at it with ``monkeypatch.setattr(discord.http.Route, "BASE", fake.base)``;
``HTTPClient.static_login(fake.token)`` and ``send_message`` then need no gateway.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import count
from typing import Any, ClassVar

from aiohttp import web

from .discord_dms import DiscordDMs
from .discord_files import DiscordFiles
from .discord_gateway import FakeGateway
from .discord_interactions import Interactions
from .discord_limits import DiscordLimits, interactive_components, shared_embed_urls
from .faults import FaultPlan
from .server import Clock, FakeServer, TokenBucket, WindowBucket, whole_seconds

DISCORD_EPOCH_MS = 1_420_070_400_000


def snowflake_time(snowflake: str) -> datetime:
    return datetime.fromtimestamp(((int(snowflake) >> 22) + DISCORD_EPOCH_MS) / 1000, UTC)


@dataclass
class _Channel:
    access: bool = True
    send: bool = True


@dataclass
class _Webhook:
    id: str
    token: str
    channel_id: str
    revoked: bool = False


class FakeDiscord(FakeServer):
    """Discord's REST API (v10) as discord.py uses it, enforcing what Discord enforces.

    Bot routes need ``Authorization: Bot <token>``; missing, unknown or revoked → 401
    ``{"message": "401: Unauthorized", "code": 0}``. ``GET /users/@me`` (static_login),
    ``POST /channels/{id}/messages`` (JSON or multipart ``payload_json``) and
    ``GET /channels/{id}/messages``. Unknown channel → 404 code 10003, no access → 403
    code 50001, no send permission → 403 code 50013. Bodies are checked by
    `DiscordLimits` (400 code 50035 / 50006). With ``enforce_nonce`` and a nonce already
    used by the same author in that channel within `NONCE_WINDOW` seconds, the existing
    message is returned (200) and nothing is created, as Discord documents.

    Every JSON answer has ``Content-Type: application/json`` exactly (discord.py parses
    nothing else). A 429 (fault, or the per-channel window of `enforce_rate`) carries
    ``{"message", "retry_after", "global": false}``, ``Via: 1.1 google`` and the
    ``X-RateLimit-*`` headers, so discord.py sleeps and retries instead of assuming a
    Cloudflare ban. Server-error faults answer a JSON 5xx.

    Opt-in limits (off by default, so tests stay fast): `enforce_rate`, the per-channel
    message bucket; `enforce_global`, the bot's global limit (50 requests per second per
    token, any bot route), whose 429 says ``"global": true`` with ``X-RateLimit-Global:
    true`` and ``X-RateLimit-Scope: global``; `latency`, seconds every bot route waits
    before answering (a network's round trip). `created` holds the clock time of each
    created message (same order as `messages()`).

    Webhooks (`add_webhook`): ``POST /webhooks/{id}/{token}`` (``?wait=true`` → message
    JSON, else 204); unknown or revoked → 404 code 10015; interactive components are
    ignored (warning ``components_ignored``: the webhook is not the application's).
    Files (multipart bodies on every message route): their limits and records are
    `files`, a `DiscordFiles` (at most 10 files of 10 MiB, ``attachments[].id`` naming a
    ``files[n]``, ``attachment://`` naming an uploaded file).
    Interactions (slash commands, button clicks): `add_interaction`, then see
    `Interactions`; gateway events to a client: `gateway`, a `FakeGateway`.
    """

    API_VERSION: ClassVar[int] = 10
    NONCE_WINDOW: ClassVar[float] = 120.0  # Discord: "the past few minutes"; promise less
    BOT_USER_ID: ClassVar[str] = "1000000000000000001"
    BOT_NAME: ClassVar[str] = "paperboy"
    SEND_MESSAGE: ClassVar[str] = "POST /channels/{channel_id}/messages"
    EXECUTE_WEBHOOK: ClassVar[str] = "POST /webhooks/{webhook_id}/{webhook_token}"
    RATE_BUCKET: ClassVar[str] = "f4k3channelmessages"

    def __init__(
        self,
        *,
        tokens: Iterable[str] = ("fake-discord-bot-token",),
        channels: Iterable[str | int] = (),
        application_id: str = "1100000000000000001",
        faults: FaultPlan | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(faults=faults, clock=clock)
        self.application_id = application_id
        self._tokens: list[str] = list(tokens)
        self._revoked: set[str] = set()
        self._channels: dict[str, _Channel] = {str(c): _Channel() for c in channels}
        self._messages: list[dict[str, Any]] = []
        self._webhooks: dict[str, _Webhook] = {}
        self._nonces: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._ids = count(1)
        self._bucket: WindowBucket | None = None
        self._global: TokenBucket | None = None
        self.latency = 0.0  # seconds each bot route waits before answering (opt-in)
        self.created: list[float] = []  # clock time of each created message
        self.global_limited = 0  # 429s from the global limit of `enforce_global`
        self.nonce_hits = 0  # sends answered with an existing message (enforce_nonce)
        self.rate_limited = 0  # 429s from the real per-channel window (not faults)
        self.interactions = Interactions(self)
        self.gateway = FakeGateway(self)
        self.files = DiscordFiles()  # multipart bodies and their files (discord_files.py)
        self.dms = DiscordDMs(self)  # Create DM and DM refusals (discord_dms)

    # -- setup --------------------------------------------------------------------------

    @property
    def base(self) -> str:
        """What ``discord.http.Route.BASE`` should be: ``http://127.0.0.1:<port>/api/v10``."""
        return f"{self.origin}/api/v{self.API_VERSION}"

    @property
    def token(self) -> str:
        return self._tokens[0]

    def add_token(self, token: str) -> None:
        self._tokens.append(token)
        self._revoked.discard(token)

    def revoke(self, token: str) -> None:
        """Later requests with `token` answer 401."""
        self._revoked.add(token)

    def add_channel(self, channel_id: str | int, *, access: bool = True, send: bool = True) -> None:
        """A text channel; `access=False` → 403 50001, `send=False` → 403 50013."""
        self._channels[str(channel_id)] = _Channel(access=access, send=send)

    def delete_channel(self, channel_id: str | int) -> None:
        self._channels.pop(str(channel_id), None)

    def enforce_rate(self, limit: int = 5, per: float = 5.0) -> None:
        """Discord's per-channel message bucket: `limit` messages per `per` seconds (on the
        fake's clock), advertised in ``X-RateLimit-*`` headers; 429 beyond it."""
        self._bucket = WindowBucket(limit, per, self.clock)

    def enforce_global(self, per_second: float = 50.0, burst: int = 50) -> None:
        """Discord's global limit: every bot token may make `per_second` requests a second
        (a token bucket of `burst`, on the fake's clock) across all bot routes; beyond it a
        global 429. Not advertised before its 429, as on Discord."""
        self._global = TokenBucket(per_second, burst, self.clock)

    def add_webhook(self, channel_id: str | int = "1200000000000000001") -> str:
        """A new webhook URL (``<base>/webhooks/{id}/{token}``) posting to `channel_id`."""
        self._channels.setdefault(str(channel_id), _Channel())
        hook = _Webhook(self._snowflake(), f"whtoken{next(self._ids):020d}", str(channel_id))
        self._webhooks[hook.id] = hook
        return f"{self.base}/webhooks/{hook.id}/{hook.token}"

    def add_interaction(self, channel_id: str | int = "1200000000000000001") -> tuple[str, str]:
        """A pending interaction in `channel_id`: (interaction id, token) as Discord sends
        them; answer it at ``/interactions/{id}/{token}/callback`` within 3 s."""
        return self.interactions.add(str(channel_id))

    def revoke_webhook(self, url: str) -> None:
        self._webhooks[url.rstrip("/").split("/")[-2]].revoked = True

    # -- recordings ---------------------------------------------------------------------

    def messages(self, channel_id: str | int | None = None) -> list[dict[str, Any]]:
        """Created messages, oldest first: the message JSON plus ``allowed_mentions``,
        ``via`` (bot / webhook / interaction / followup) and ``warnings`` (e.g.
        ``embeds_share_url``)."""
        wanted = None if channel_id is None else str(channel_id)
        return [dict(m) for m in self._messages if wanted in (None, m["channel_id"])]

    @property
    def faults_injected(self) -> dict[str, int]:
        return dict(self.faults.injected)

    # -- HTTP plumbing ------------------------------------------------------------------

    def _add_routes(self, app: web.Application) -> None:
        api = f"/api/v{self.API_VERSION}"
        app.router.add_get(f"{api}/users/@me", self._me)
        app.router.add_post(f"{api}/channels/{{channel_id}}/messages", self._send)
        app.router.add_get(f"{api}/channels/{{channel_id}}/messages", self._list)
        app.router.add_post(f"{api}/webhooks/{{webhook_id}}/{{webhook_token}}", self._execute)
        self.interactions.add_routes(app, api)
        self.dms.add_routes(app, api)

    def _route_name(self, request: web.Request) -> str:
        """discord.py's ``Route.key``: ``"POST /channels/{channel_id}/messages"``."""
        return super()._route_name(request).replace(f"/api/v{self.API_VERSION}", "", 1)

    @staticmethod
    def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        # Not web.json_response: it appends "; charset=utf-8", and discord.py only parses
        # a body whose Content-Type is exactly "application/json".
        return web.Response(
            body=json.dumps(data).encode(),
            status=status,
            headers={**(headers or {}), "Content-Type": "application/json"},
        )

    @classmethod
    def _error(cls, status: int, code: int, message: str) -> web.Response:
        return cls._json({"message": message, "code": code}, status)

    def _rate_limited(self, request: web.Request, retry_after: float) -> web.StreamResponse:
        return self._limit_response(retry_after, limit=1)

    def _limit_response(self, retry_after: float, *, limit: int) -> web.Response:
        headers = {
            "Via": "1.1 google",
            "Retry-After": whole_seconds(retry_after),
            **self._limit_headers(limit, 0, retry_after),
            "X-RateLimit-Scope": "user",
        }
        body = {"message": "You are being rate limited.", "retry_after": retry_after}
        return self._json({**body, "global": False}, 429, headers)

    def _limit_headers(self, limit: int, remaining: int, reset_after: float) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": self.RATE_BUCKET,
        }

    def _server_error(self, request: web.Request, status: int) -> web.StreamResponse:
        return self._error(status, 0, f"{status}: Internal Server Error")

    async def _admit(self, request: web.Request) -> web.Response | None:
        """A bot route's answer before its handler: after `latency`, 401 for a bad token,
        or the global 429 of `enforce_global`; None when the request goes on."""
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        denied = self._unauthorized(request)
        if denied is not None or self._global is None:
            return denied
        token = request.headers.get("Authorization", "")
        wait = self._global.take(token)
        if wait <= 0:
            return None
        self.global_limited += 1
        headers = {
            "Via": "1.1 google",
            "Retry-After": whole_seconds(wait),
            "X-RateLimit-Global": "true",
            "X-RateLimit-Scope": "global",
        }
        body = {"message": "You are being rate limited.", "retry_after": round(wait, 3)}
        return self._json({**body, "global": True}, 429, headers)

    def _unauthorized(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        token = header[len("Bot ") :] if header.startswith("Bot ") else None
        if token is None or token in self._revoked or token not in self._tokens:
            return self._error(401, 0, "401: Unauthorized")
        return None

    def _throttle(self, key: str) -> tuple[web.Response | None, dict[str, str]]:
        """(429 response or None, headers to add to a success)."""
        if self._bucket is None:
            return None, {}
        allowed, remaining, reset_after = self._bucket.take(key)
        if not allowed:
            self.rate_limited += 1
            return self._limit_response(reset_after, limit=self._bucket.limit), {}
        return None, self._limit_headers(self._bucket.limit, remaining, reset_after)

    async def _body(self, request: web.Request) -> tuple[dict[str, Any], list[str]] | None:
        """(payload, uploaded file names) from JSON or multipart ``payload_json``."""
        try:
            if request.content_type == "application/json":
                payload = await request.json()
                files: list[str] = []
            elif request.content_type.startswith("multipart/"):
                payload, files = await self.files.read(request)  # its limits: 413/400
            else:
                form = await request.post()
                payload = json.loads(str(form.get("payload_json") or "{}"))
                files = [getattr(v, "filename", k) for k, v in form.items() if k != "payload_json"]
        except ValueError:
            return None
        return (payload, files) if isinstance(payload, dict) else None

    def _snowflake(self) -> str:
        n = next(self._ids)
        return str(((self._epoch_ms(n) - DISCORD_EPOCH_MS) << 22) | (n % 4096))

    def _stamp(self) -> str:
        """An ISO timestamp that moves forward with every object the fake creates."""
        return snowflake_time(self._snowflake()).isoformat()

    @staticmethod
    def _epoch_ms(n: int) -> int:
        return 1_700_000_000_000 + n

    def _create(
        self,
        channel_id: str,
        payload: dict[str, Any],
        *,
        author: dict[str, Any],
        via: str,
        files: list[str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record a message and return its public JSON."""
        message_id = self._snowflake()
        stamp = snowflake_time(message_id)
        embeds = [{"type": "rich", **e} for e in payload.get("embeds") or []]
        message: dict[str, Any] = {
            "id": message_id,
            "type": 0,
            "channel_id": channel_id,
            "content": payload.get("content") or "",
            "embeds": embeds,
            "attachments": self.files.attachments(message_id, files or []),
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": bool(payload.get("tts", False)),
            "timestamp": stamp.isoformat(),
            "edited_timestamp": None,
            "flags": int(payload.get("flags") or 0),
            "components": payload.get("components") or [],
            "author": author,
            **(extra or {}),
        }
        if payload.get("nonce") is not None:
            message["nonce"] = payload["nonce"]
        warnings = ["embeds_share_url"] if shared_embed_urls(embeds) else []
        private = {"allowed_mentions": payload.get("allowed_mentions"), "via": via}
        self._messages.append({**message, **private, "warnings": warnings})
        self.created.append(self.clock())
        return message

    @staticmethod
    def _public(stored: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in stored.items() if k not in {"allowed_mentions", "via", "warnings"}}

    def _find(self, message_id: str) -> dict[str, Any] | None:
        return next((m for m in self._messages if m["id"] == message_id), None)

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": self.BOT_USER_ID,
            "username": self.BOT_NAME,
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
            "bot": True,
            "public_flags": 0,
        }

    # -- bot routes ---------------------------------------------------------------------

    async def _me(self, request: web.Request) -> web.StreamResponse:
        denied = await self._admit(request)
        if denied is not None:
            return denied
        me = {**self._bot_user(), "flags": 0, "verified": True, "mfa_enabled": False}
        return self._json({**me, "locale": "en-US", "email": None})

    def _channel_error(self, channel_id: str, *, sending: bool) -> web.Response | None:
        channel = self._channels.get(channel_id)
        if channel is None:
            return self._error(404, 10003, "Unknown Channel")
        if not channel.access:
            return self._error(403, 50001, "Missing Access")
        if sending and not channel.send:
            return self._error(403, 50013, "Missing Permissions")
        return None

    async def _send(self, request: web.Request) -> web.StreamResponse:
        denied = await self._admit(request)
        channel_id = request.match_info["channel_id"]
        denied = denied or self._channel_error(channel_id, sending=True)
        denied = denied or self.dms.refusal(channel_id)  # a user who blocks DMs
        if denied is not None:
            return denied
        limited, headers = self._throttle(f"channel:{channel_id}")
        if limited is not None:
            return limited
        body = await self._body(request)
        if body is None:
            return self._error(400, 50109, "The request body contains invalid JSON.")
        payload, files = body
        problem = DiscordLimits.check(payload, has_files=bool(files))
        if problem is not None:
            return self._json(problem, 400, headers)
        nonce = payload.get("nonce")
        key = (channel_id, self.BOT_USER_ID, str(nonce))
        if nonce is not None and payload.get("enforce_nonce"):
            seen = self._nonces.get(key)
            if seen is not None and self.clock() - seen[1] <= self.NONCE_WINDOW:
                existing = self._find(seen[0])
                if existing is not None:
                    self.nonce_hits += 1
                    return self._json(self._public(existing), 200, headers)
        message = self._create(channel_id, payload, author=self._bot_user(), via="bot", files=files)
        if nonce is not None:
            self._nonces[key] = (message["id"], self.clock())
        return self._json(message, 200, headers)

    async def _list(self, request: web.Request) -> web.StreamResponse:
        channel_id = request.match_info["channel_id"]
        denied = await self._admit(request) or self._channel_error(channel_id, sending=False)
        if denied is not None:
            return denied
        limit = max(1, min(int(request.query.get("limit", "50")), 100))
        found = [self._public(m) for m in reversed(self._messages) if m["channel_id"] == channel_id]
        return self._json(found[:limit])

    # -- webhooks -----------------------------------------------------------------------

    async def _execute(self, request: web.Request) -> web.StreamResponse:
        webhook_id = request.match_info["webhook_id"]
        if webhook_id == self.application_id:
            return await self.interactions.followup(request)
        hook = self._webhooks.get(webhook_id)
        if hook is None or hook.revoked or hook.token != request.match_info["webhook_token"]:
            return self._error(404, 10015, "Unknown Webhook")
        if hook.channel_id not in self._channels:
            return self._error(404, 10003, "Unknown Channel")
        limited, headers = self._throttle(f"webhook:{hook.id}")
        if limited is not None:
            return limited
        body = await self._body(request)
        if body is None:
            return self._error(400, 50109, "The request body contains invalid JSON.")
        payload, files = body
        problem = DiscordLimits.check(payload, has_files=bool(files))
        if problem is not None:
            return self._json(problem, 400, headers)
        ignored = []
        if interactive_components(payload):
            # Not an application-owned webhook: Discord ignores its components, or refuses
            # interactive ones when asked to send components (?with_components=true).
            if request.query.get("with_components", "").lower() in {"true", "1"}:
                return self._error(400, 50035, "Interactive components need an app webhook")
            payload = {k: v for k, v in payload.items() if k != "components"}
            ignored = ["components_ignored"]
        author = {
            "id": hook.id,
            "username": payload.get("username") or "Paperboy webhook",
            "discriminator": "0000",
            "avatar": None,
            "bot": True,
        }
        message = self._create(
            hook.channel_id,
            payload,
            author=author,
            via="webhook",
            files=files,
            extra={"webhook_id": hook.id},
        )
        self._messages[-1]["warnings"] += ignored
        if request.query.get("wait", "").lower() in {"true", "1"}:
            return self._json(message, 200, headers)
        return web.Response(status=204, headers=headers)


class FakeDiscordApp(FakeDiscord):
    """FakeDiscord plus the application info `Client.login` reads (GET
    /oauth2/applications/@me), so a discord.py client logs in and a Discord front-end
    starts (its gateway then finds no gateway and keeps retrying, as when Discord's gateway
    is down)."""

    def _add_routes(self, app: web.Application) -> None:
        super()._add_routes(app)
        app.router.add_get(f"/api/v{self.API_VERSION}/oauth2/applications/@me", self._application)

    async def _application(self, request: web.Request) -> web.StreamResponse:
        denied = self._unauthorized(request)
        if denied is not None:
            return denied
        return self._json(
            {
                "id": self.application_id,
                "name": "Paperboy",
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": self._bot_user(),
                "verify_key": "0" * 64,
                "flags": 0,
                "team": None,
                "summary": "",
            }
        )
