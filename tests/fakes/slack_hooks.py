"""Slack's incoming webhooks and slash-command response_urls, as the fake serves them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import count
from typing import TYPE_CHECKING, Any, ClassVar

from aiohttp import web

from .server import whole_seconds
from .slack_blocks import BlockKit

if TYPE_CHECKING:
    from .slack import FakeSlack


@dataclass
class _Hook:
    channel: str | None
    created: float
    uses: int = 0
    revoked: bool = False


class SlackHooks:
    """Incoming webhooks and response_urls of `FakeSlack`.

    Webhooks (``POST /services/T…/B…/secret``, JSON or form ``payload``): 200 ``ok``;
    unknown or revoked → 404 ``no_service``; deleted channel → 404
    ``channel_not_found``; archived → 410 ``channel_is_archived``; bad JSON → 400
    ``invalid_payload``; a message `BlockKit` refuses → 400 with its error code as text
    (``invalid_blocks``, ``msg_too_long``, ``no_text``); over the channel's rate → 429
    with ``Retry-After``. Accepted messages join the channel's messages (via "webhook").

    Response URLs (``POST /actions/T…/id/secret``, JSON): usable `MAX_USES` times within
    `TTL` seconds of creation (then 404 ``used_url`` / ``expired_url``); unknown → 404
    ``invalid_url``; the body (response_type, text, blocks, replace_original,
    delete_original, thread_ts) is validated like a message and recorded.
    """

    MAX_USES: ClassVar[int] = 5
    TTL: ClassVar[float] = 30 * 60.0

    def __init__(self, host: FakeSlack) -> None:
        self._host = host
        self._hooks: dict[str, _Hook] = {}
        self._responses: list[dict[str, Any]] = []
        self._ids = count(1)

    def add_webhook(self, channel: str) -> str:
        n = next(self._ids)
        path = f"/services/{self._host.TEAM_ID}/B{n:08d}/whsecret{n:016d}"
        self._hooks[path] = _Hook(channel, self._host.clock())
        return self._host.origin + path

    def revoke(self, url: str) -> None:
        self._hooks[url.removeprefix(self._host.origin)].revoked = True

    def response_url(self, channel: str | None) -> str:
        n = next(self._ids)
        path = f"/actions/{self._host.TEAM_ID}/{n:010d}/rusecret{n:016d}"
        self._hooks[path] = _Hook(channel, self._host.clock())
        return self._host.origin + path

    def responses(self, url: str | None = None) -> list[dict[str, Any]]:
        return [dict(r) for r in self._responses if url is None or r["url"] == url]

    @staticmethod
    async def _json_body(request: web.Request) -> dict[str, Any] | None:
        try:
            if request.content_type == "application/json":
                body = await request.json()
            else:
                body = json.loads(str((await request.post()).get("payload", "")))
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    async def webhook(self, request: web.Request) -> web.StreamResponse:
        host = self._host
        hook = self._hooks.get(request.path)
        if hook is None or hook.revoked or not request.path.startswith("/services/"):
            return web.Response(status=404, text="no_service")
        body = await self._json_body(request)
        if body is None:
            return web.Response(status=400, text="invalid_payload")
        channel = str(hook.channel)
        state = host._channels.get(channel)
        if state is None:
            return web.Response(status=404, text="channel_not_found")
        if state.archived:
            return web.Response(status=410, text="channel_is_archived")
        wait = host._throttle(channel)
        if wait is not None:
            headers = {"Retry-After": whole_seconds(wait)}
            return web.Response(status=429, text="rate_limited", headers=headers)
        try:
            _, rejection = host._accept(body, channel, via="webhook")
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        if rejection is not None:
            return web.Response(status=400, text=rejection.error)
        return web.Response(text="ok")

    async def respond(self, request: web.Request) -> web.StreamResponse:
        hook = self._hooks.get(request.path)
        if hook is None or not request.path.startswith("/actions/"):
            return web.Response(status=404, text="invalid_url")
        if self._host.clock() - hook.created > self.TTL:
            return web.Response(status=404, text="expired_url")
        if hook.uses >= self.MAX_USES:
            return web.Response(status=404, text="used_url")
        body = await self._json_body(request)
        if body is None:
            return web.Response(status=400, text="invalid_payload")
        try:
            blocks = json_field(body.get("blocks"))
        except ValueError:
            return web.Response(status=400, text="invalid_blocks_format")
        if not flag(body.get("delete_original")):
            rejection = BlockKit.check_message(text=body.get("text"), blocks=blocks)
            rejection = rejection or self._host.files.check_blocks(blocks)
            if rejection is not None:
                return web.Response(status=400, text=rejection.error)
        hook.uses += 1
        self._responses.append(
            {
                "url": self._host.origin + request.path,
                "channel": hook.channel,
                "response_type": body.get("response_type", "ephemeral"),
                "text": body.get("text"),
                "blocks": blocks,
                "replace_original": flag(body.get("replace_original")),
                "delete_original": flag(body.get("delete_original")),
                "thread_ts": body.get("thread_ts"),
            }
        )
        return web.json_response({"ok": True})


def json_field(value: object) -> Any:
    """Form-encoded requests carry blocks/metadata as JSON strings; JSON bodies as values.
    Raises ValueError on malformed JSON."""
    if isinstance(value, str):
        return json.loads(value) if value.strip() else None
    return value


def flag(value: object) -> bool | None:
    """A boolean parameter as Slack reads it: true/false, "true"/"1"/"false"/"0"."""
    if value is None or isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true"}
