"""Interaction callbacks, follow-ups and message edits of the fake Discord (slash replies)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from aiohttp import web

from .discord_limits import DiscordLimits

if TYPE_CHECKING:
    from .discord import FakeDiscord

EPHEMERAL = 1 << 6
LOADING = 1 << 7


@dataclass
class _Interaction:
    id: str
    token: str
    channel_id: str
    created: float
    acked: bool = False
    original: str | None = None
    messages: list[str] = field(default_factory=list)


class Interactions:
    """The interaction side of `FakeDiscord`, with Discord's deadlines on the fake's clock.

    ``POST /interactions/{id}/{token}/callback`` must come within `ACK_DEADLINE` seconds
    of the interaction (else 404 code 10062 "Unknown interaction") and only once (else
    400 code 40060). Types 4 (message) and 5 (deferred, "thinking") create the original
    response; with ``?with_response=1`` (discord.py ≥ 2.5 always sends it) the answer is
    the callback-response JSON, else 204. Follow-ups ``POST /webhooks/{application_id}/
    {token}`` and ``GET``/``PATCH .../messages/@original`` need an acknowledged
    interaction (else 404 code 10015) and work for `TOKEN_TTL` seconds (then 401 code
    50027). Bodies are checked by `DiscordLimits`. `log` records every callback,
    follow-up and edit.
    """

    ACK_DEADLINE: ClassVar[float] = 3.0
    TOKEN_TTL: ClassVar[float] = 15 * 60.0
    CALLBACK_TYPES: ClassVar[frozenset[int]] = frozenset({1, 4, 5, 6, 7, 8, 9, 10, 12})

    def __init__(self, host: FakeDiscord) -> None:
        self._host = host
        self._by_id: dict[str, _Interaction] = {}
        self._by_token: dict[str, _Interaction] = {}
        self.log: list[dict[str, Any]] = []

    def add(self, channel_id: str) -> tuple[str, str]:
        interaction_id = self._host._snowflake()
        token = f"aW50ZXJhY3Rpb246{interaction_id}"
        record = _Interaction(interaction_id, token, channel_id, self._host.clock())
        self._by_id[interaction_id] = record
        self._by_token[token] = record
        return interaction_id, token

    @property
    def callbacks(self) -> list[dict[str, Any]]:
        return [entry for entry in self.log if entry["kind"] == "callback"]

    def add_routes(self, app: web.Application, api: str) -> None:
        app.router.add_post(
            f"{api}/interactions/{{interaction_id}}/{{token}}/callback", self.callback
        )
        path = f"{api}/webhooks/{{webhook_id}}/{{webhook_token}}/messages/{{message_id}}"
        app.router.add_get(path, self.message)
        app.router.add_patch(path, self.message)

    def _author(self) -> tuple[dict[str, Any], dict[str, Any]]:
        app_id = self._host.application_id
        return self._host._bot_user(), {"webhook_id": app_id, "application_id": app_id}

    def _live(self, token: str) -> tuple[_Interaction | None, web.Response | None]:
        record = self._by_token.get(token)
        if record is None or not record.acked:
            return None, self._host._error(404, 10015, "Unknown Webhook")
        if self._host.clock() - record.created > self.TOKEN_TTL:
            return None, self._host._error(401, 50027, "Invalid Webhook Token")
        return record, None

    async def callback(self, request: web.Request) -> web.StreamResponse:
        host = self._host
        record = self._by_id.get(request.match_info["interaction_id"])
        if (
            record is None
            or record.token != request.match_info["token"]
            or host.clock() - record.created > self.ACK_DEADLINE
        ):
            return host._error(404, 10062, "Unknown interaction")
        if record.acked:
            return host._error(400, 40060, "Interaction has already been acknowledged.")
        body = await host._body(request)
        if body is None:
            return host._error(400, 50109, "The request body contains invalid JSON.")
        payload, files = body
        kind, data = payload.get("type"), payload.get("data") or {}
        if kind not in self.CALLBACK_TYPES:
            errors = {"type": {"_errors": [{"code": "BASE_TYPE_CHOICES", "message": "Invalid"}]}}
            return host._json(
                {"code": 50035, "message": "Invalid Form Body", "errors": errors}, 400
            )
        if kind in (4, 7):
            problem = DiscordLimits.check(data, has_files=bool(files))
            if problem is not None:
                return host._json(problem, 400)
        record.acked = True
        flags = int(data.get("flags") or 0) | (LOADING if kind == 5 else 0)
        message = None
        if kind in (4, 5):
            author, extra = self._author()
            message = host._create(
                record.channel_id,
                {**data, "flags": flags},
                author=author,
                via="interaction",
                files=files,
                extra=extra,
            )
            record.original = message["id"]
            record.messages.append(message["id"])
        self.log.append(
            {
                "kind": "callback",
                "interaction_id": record.id,
                "type": kind,
                "data": data,
                "message_id": message["id"] if message else None,
            }
        )
        if request.query.get("with_response", "").lower() not in {"1", "true"}:
            return web.Response(status=204)
        answer: dict[str, Any] = {
            "interaction": {
                "id": record.id,
                "type": 2,
                "response_message_id": message["id"] if message else None,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(flags & EPHEMERAL),
            }
        }
        if message is not None:
            answer["resource"] = {"type": kind, "message": message}
        return host._json(answer)

    async def followup(self, request: web.Request) -> web.StreamResponse:
        host = self._host
        record, denied = self._live(request.match_info["webhook_token"])
        if record is None:
            return denied or host._error(404, 10015, "Unknown Webhook")
        body = await host._body(request)
        if body is None:
            return host._error(400, 50109, "The request body contains invalid JSON.")
        payload, files = body
        problem = DiscordLimits.check(payload, has_files=bool(files))
        if problem is not None:
            return host._json(problem, 400)
        author, extra = self._author()
        message = host._create(
            record.channel_id, payload, author=author, via="followup", files=files, extra=extra
        )
        record.messages.append(message["id"])
        self.log.append(
            {
                "kind": "followup",
                "interaction_id": record.id,
                "data": payload,
                "message_id": message["id"],
            }
        )
        if request.query.get("wait", "").lower() in {"true", "1"}:
            return host._json(message)
        return web.Response(status=204)

    async def message(self, request: web.Request) -> web.StreamResponse:
        """GET or PATCH a message sent through a webhook or an interaction token."""
        host = self._host
        webhook_id = request.match_info["webhook_id"]
        token, wanted = request.match_info["webhook_token"], request.match_info["message_id"]
        if webhook_id == host.application_id:
            record, denied = self._live(token)
            if record is None:
                return denied or host._error(404, 10015, "Unknown Webhook")
            target = record.original if wanted == "@original" else wanted
            owned = target in record.messages
            interaction_id: str | None = record.id
        else:
            hook = host._webhooks.get(webhook_id)
            if hook is None or hook.revoked or hook.token != token:
                return host._error(404, 10015, "Unknown Webhook")
            target = wanted
            stored_hook = host._find(wanted) if wanted != "@original" else None
            owned = stored_hook is not None and stored_hook.get("webhook_id") == hook.id
            interaction_id = None
        stored = host._find(target) if target and owned else None
        if stored is None:
            return host._error(404, 10008, "Unknown Message")
        if request.method == "GET":
            return host._json(host._public(stored))
        body = await host._body(request)
        if body is None:
            return host._error(400, 50109, "The request body contains invalid JSON.")
        payload, files = body
        merged = {
            "content": payload.get("content", stored["content"]),
            "embeds": payload.get("embeds", stored["embeds"]),
            "allowed_mentions": payload.get("allowed_mentions"),
        }
        problem = DiscordLimits.check(merged, has_files=bool(files or stored["attachments"]))
        if problem is not None:
            return host._json(problem, 400)
        stored["content"] = merged["content"] or ""
        stored["embeds"] = [{"type": "rich", **e} for e in merged["embeds"] or []]
        if "allowed_mentions" in payload:
            stored["allowed_mentions"] = payload["allowed_mentions"]
        stored["flags"] = int(stored["flags"]) & ~LOADING
        if files:  # new attachments replace the message's (discord_files.py records them)
            stored["attachments"] = host.files.attachments(stored["id"], files)
        stored["edited_timestamp"] = host._stamp()
        self.log.append(
            {
                "kind": "edit",
                "interaction_id": interaction_id,
                "data": payload,
                "message_id": stored["id"],
            }
        )
        return host._json(host._public(stored))
