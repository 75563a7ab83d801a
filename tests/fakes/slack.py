"""A fake Slack speaking real HTTP: Web API methods, incoming webhooks and response_urls.

Point ``AsyncWebClient(token=fake.token, base_url=fake.url)`` at it (``url`` ends with
``/api/`` because slack_sdk joins method names with urljoin).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import count
from typing import Any, ClassVar

from aiohttp import web

from .faults import FaultPlan
from .server import Clock, FakeServer, TokenBucket, whole_seconds
from .slack_blocks import BlockKit, Rejection
from .slack_dms import SlackDMs
from .slack_events import SlackAppRequests
from .slack_files import SlackFiles
from .slack_hooks import SlackHooks, flag, json_field


@dataclass
class _Channel:
    member: bool = True
    archived: bool = False


_PRIVATE = frozenset({"channel", "flags", "via", "token", "unfurl_links", "unfurl_media",
                      "link_names", "parse", "attachments", "reply_broadcast"})  # fmt: skip


class FakeSlack(FakeServer):
    """Slack's Web API, incoming webhooks and response_urls, enforcing what Slack enforces.

    Web API (``POST /api/<method>``, form or JSON body, or GET with query parameters):
    ``auth.test``, ``chat.postMessage``, ``conversations.history``, ``chat.getPermalink``;
    anything else answers ``unknown_method``. Auth: ``Authorization: Bearer <token>`` (or a
    form ``token``); missing → ``not_authed``, unknown → ``invalid_auth``, revoked → the
    error given to `revoke`. Errors are HTTP 200 ``{"ok": false, "error": ...}`` as Slack
    sends them. Channels: unknown or deleted → ``channel_not_found``, bot not a member →
    ``not_in_channel``, archived → ``is_archived``. Messages are validated by `BlockKit`.

    429 (fault or the real per-channel limit of `enforce_rate`): ``Retry-After`` in whole
    seconds (slack_sdk's retry handler does ``int()`` on it) and ``{"ok": false, "error":
    "ratelimited"}``. 5xx faults answer a JSON error body.

    Opt-in (off by default, so tests stay fast): `latency`, seconds every Web API call
    waits before answering (a network's round trip). `created` holds the clock time of
    each accepted message (same order as `messages()`).

    Incoming webhooks (`add_webhook`) and response URLs (`response_url`): see `SlackHooks`.
    What Slack sends to the app (signed button clicks, reaction events): `app_requests`,
    a `SlackAppRequests`.
    File uploads (``files.getUploadURLExternal``, the upload URL, ``files.completeUploadExternal``,
    ``files.info``) and the image blocks showing them: `files`, a `SlackFiles`.
    """

    TEAM_ID: ClassVar[str] = "T0FAKE0001"
    BOT_USER_ID: ClassVar[str] = "U0FAKEBOT1"
    BOT_ID: ClassVar[str] = "B0FAKEBOT1"
    HISTORY_MAX_LIMIT: ClassVar[int] = 999
    WEBHOOK: ClassVar[str] = "webhook"
    RESPONSE_URL: ClassVar[str] = "response_url"

    def __init__(
        self,
        *,
        tokens: Iterable[str] = ("xoxb-fake-token",),
        channels: Iterable[str] = (),
        faults: FaultPlan | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(faults=faults, clock=clock)
        self._tokens: list[str] = list(tokens)
        self._revoked: dict[str, str] = {}
        self._channels: dict[str, _Channel] = {c: _Channel() for c in channels}
        self._messages: list[dict[str, Any]] = []
        self.hooks = SlackHooks(self)
        self.app_requests = SlackAppRequests(self)
        self.files = SlackFiles(self)  # files.getUploadURLExternal & co (slack_files.py)
        self._ts = count(100, 100)
        self._bucket: TokenBucket | None = None
        self.rate_limited: int = 0  # 429s from the real per-channel limit (not faults)
        self.latency = 0.0  # seconds each Web API call waits before answering (opt-in)
        self.created: list[float] = []  # clock time of each accepted message
        self.dms = SlackDMs(self)  # conversations.open, chat.postEphemeral (slack_dms)

    # -- setup --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Web API base URL, ending with ``/`` as AsyncWebClient needs."""
        return f"{self.origin}/api/"

    @property
    def token(self) -> str:
        """The first valid bot token."""
        return self._tokens[0]

    def add_token(self, token: str) -> None:
        self._tokens.append(token)
        self._revoked.pop(token, None)

    def revoke(self, token: str, *, error: str = "invalid_auth") -> None:
        """Later calls with `token` answer ``{"ok": false, "error": error}``."""
        self._revoked[token] = error

    def add_channel(self, channel_id: str, *, member: bool = True) -> None:
        self._channels[channel_id] = _Channel(member=member)

    def delete_channel(self, channel_id: str) -> None:
        self._channels.pop(channel_id, None)

    def archive_channel(self, channel_id: str) -> None:
        self._channels[channel_id].archived = True

    def enforce_rate(self, per_second: float = 1.0, burst: int = 1) -> None:
        """Answer 429 when a channel gets messages faster than `per_second` (token bucket
        of `burst`, on the fake's clock). Covers chat.postMessage and webhooks."""
        self._bucket = TokenBucket(per_second, burst, self.clock)

    def add_webhook(self, channel: str = "C0WEBHOOK1") -> str:
        """A new incoming-webhook URL posting to `channel` (created if unknown)."""
        self._channels.setdefault(channel, _Channel())
        return self.hooks.add_webhook(channel)

    def revoke_webhook(self, url: str) -> None:
        self.hooks.revoke(url)

    def response_url(self, channel: str | None = None) -> str:
        """A new response_url (as a slash command payload carries), for `channel`."""
        return self.hooks.response_url(channel)

    # -- recordings ---------------------------------------------------------------------

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Accepted messages, oldest first: ts, channel, text, blocks, thread_ts, metadata,
        unfurl_links, unfurl_media, link_names, parse, via (chat.postMessage / webhook),
        token (None for webhooks), flags (e.g. ``missing_fallback_text``)."""
        return [dict(m) for m in self._messages if channel is None or m["channel"] == channel]

    def responses(self, url: str | None = None) -> list[dict[str, Any]]:
        """Everything POSTed to response_urls: url, channel, response_type, text, blocks,
        replace_original, delete_original, thread_ts."""
        return self.hooks.responses(url)

    @property
    def faults_injected(self) -> dict[str, int]:
        return dict(self.faults.injected)

    # -- HTTP plumbing ------------------------------------------------------------------

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/services/{team}/{bot}/{secret}", self.hooks.webhook)
        app.router.add_post("/actions/{team}/{id}/{secret}", self.hooks.respond)
        app.router.add_post("/upload/v1/{secret}", self.files.upload)

    def _route_name(self, request: web.Request) -> str:
        if request.path.startswith("/api/"):
            return request.match_info.get("method", request.path)
        if request.path.startswith("/upload/"):
            return SlackFiles.UPLOAD_ROUTE
        return self.WEBHOOK if request.path.startswith("/services/") else self.RESPONSE_URL

    def _rate_limited(self, request: web.Request, retry_after: float) -> web.StreamResponse:
        headers = {"Retry-After": whole_seconds(retry_after)}
        if request.path.startswith("/api/"):
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers=headers
            )
        return web.Response(status=429, text="rate_limited", headers=headers)

    def _server_error(self, request: web.Request, status: int) -> web.StreamResponse:
        error = {500: "fatal_error", 503: "service_unavailable"}.get(status, "internal_error")
        if request.path.startswith("/api/"):
            return web.json_response({"ok": False, "error": error}, status=status)
        return web.Response(status=status, text=error)

    @staticmethod
    def _fail(error: str, messages: Iterable[str] = ()) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error": error}
        if messages:
            body["response_metadata"] = {"messages": list(messages)}
        return web.json_response(body)

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.body_exists:
            if request.content_type == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
            else:
                form = await request.post()
                params.update({k: v for k, v in form.items() if isinstance(v, str)})
        return params

    def _auth(self, request: web.Request, params: Mapping[str, Any]) -> tuple[str, str | None]:
        """(token, the error for it or None when it is valid)."""
        header = request.headers.get("Authorization", "")
        token = header[len("Bearer ") :].strip() if header.startswith("Bearer ") else None
        token = token or params.get("token")
        if not token:
            return "", "not_authed"
        if token in self._revoked:
            return token, self._revoked[token]
        return token, None if token in self._tokens else "invalid_auth"

    def _channel_error(self, channel: object, *, need_member: bool = True) -> str | None:
        state = self._channels.get(channel) if isinstance(channel, str) else None
        if state is None:
            return "channel_not_found"
        if need_member and not state.member:
            return "not_in_channel"
        return None

    def _next_ts(self) -> str:
        n = next(self._ts)
        return f"{1_700_000_000 + n // 1_000_000}.{n % 1_000_000:06d}"

    # -- Web API ------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        try:
            params = await self._params(request)
        except ValueError:
            return self._fail("invalid_json")
        token, error = self._auth(request, params)
        if error is not None:
            return self._fail(error)
        if method == "auth.test":
            return web.json_response(
                {
                    "ok": True,
                    "url": "https://fake.slack.com/",
                    "team": "Fake Team",
                    "user": "paperboy",
                    "team_id": self.TEAM_ID,
                    "user_id": self.BOT_USER_ID,
                    "bot_id": self.BOT_ID,
                    "is_enterprise_install": False,
                }
            )
        if method == "chat.postMessage":
            return self._post_message(params, token)
        if method == "conversations.history":
            return self._history(params)
        if method == "chat.getPermalink":
            return self._permalink(params)
        if method.startswith("files."):
            return self.files.api(method, params, token)
        if method in SlackDMs.METHODS:
            return self.dms.handle(method, params)
        return self._fail("unknown_method")

    def _post_message(self, params: dict[str, Any], token: str) -> web.StreamResponse:
        channel = params.get("channel")
        error = self._channel_error(channel)
        if error is None and self._channels[str(channel)].archived:
            error = "is_archived"
        if error is not None:
            return self._fail(error)
        wait = self._throttle(str(channel))
        if wait is not None:
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": whole_seconds(wait)},
            )
        try:
            message, rejection = self._accept(
                params, str(channel), via="chat.postMessage", token=token
            )
        except ValueError:
            return self._fail("invalid_blocks_format")
        if rejection is not None:
            return self._fail(rejection.error, rejection.messages)
        public = {k: v for k, v in message.items() if k not in _PRIVATE and v is not None}
        return web.json_response(
            {"ok": True, "channel": channel, "ts": message["ts"], "message": public}
        )

    def _throttle(self, channel: str) -> float | None:
        if self._bucket is None:
            return None
        wait = self._bucket.take(channel)
        if wait <= 0:
            return None
        self.rate_limited += 1
        return wait

    def _accept(
        self, params: Mapping[str, Any], channel: str | None, *, via: str, token: str | None = None
    ) -> tuple[dict[str, Any], Rejection | None]:
        """Validate and (if valid) record a message; raises ValueError on malformed JSON."""
        blocks = json_field(params.get("blocks"))
        attachments = json_field(params.get("attachments"))
        metadata = json_field(params.get("metadata"))
        text = params.get("text")
        rejection = BlockKit.check_message(
            text=text, blocks=blocks, attachments=attachments, metadata=metadata
        )
        if rejection is None:  # image blocks showing uploaded files (slack_files.py)
            rejection = self.files.check_blocks(blocks)
        flags = ["missing_fallback_text"] if blocks and not text else []
        message: dict[str, Any] = {
            "type": "message",
            "ts": "",
            "channel": channel,
            "text": text if text is not None else "",
            "blocks": blocks,
            "attachments": attachments,
            "thread_ts": params.get("thread_ts"),
            "reply_broadcast": flag(params.get("reply_broadcast")),
            "metadata": metadata,
            "unfurl_links": flag(params.get("unfurl_links")),
            "unfurl_media": flag(params.get("unfurl_media")),
            "link_names": flag(params.get("link_names")),
            "parse": params.get("parse"),
            "user": self.BOT_USER_ID,
            "bot_id": self.BOT_ID,
            "via": via,
            "token": token,
            "flags": flags,
        }
        if rejection is None:
            message["ts"] = self._next_ts()
            self._messages.append(message)
            self.created.append(self.clock())
        return message, rejection

    def _history(self, params: Mapping[str, Any]) -> web.StreamResponse:
        channel = params.get("channel")
        error = self._channel_error(channel)
        if error is not None:
            return self._fail(error)
        with_metadata = bool(flag(params.get("include_all_metadata")))
        inclusive = bool(flag(params.get("inclusive")))
        oldest, latest = float(params.get("oldest") or 0), float(params.get("latest") or 1e12)
        limit = min(int(params.get("limit") or 100), self.HISTORY_MAX_LIMIT)
        start = int(str(params.get("cursor") or "0").removeprefix("offset:"))
        found = []
        for m in reversed(self._messages):
            ts = float(m["ts"])
            in_window = oldest <= ts <= latest if inclusive else oldest < ts < latest
            is_reply = m["thread_ts"] not in (None, m["ts"]) and not m["reply_broadcast"]
            if m["channel"] == channel and in_window and not is_reply:
                keep = {"type", "ts", "text", "blocks", "user", "bot_id", "thread_ts"}
                if with_metadata:
                    keep.add("metadata")
                found.append({k: v for k, v in m.items() if k in keep and v is not None})
        page = found[start : start + limit]
        more = start + limit < len(found)
        return web.json_response(
            {
                "ok": True,
                "messages": page,
                "has_more": more,
                "pin_count": 0,
                "response_metadata": {"next_cursor": f"offset:{start + limit}" if more else ""},
            }
        )

    def _permalink(self, params: Mapping[str, Any]) -> web.StreamResponse:
        channel, ts = params.get("channel"), params.get("message_ts")
        error = self._channel_error(channel, need_member=False)
        if error is not None:
            return self._fail(error)
        if not any(m["channel"] == channel and m["ts"] == ts for m in self._messages):
            return self._fail("message_not_found")
        link = f"https://fake.slack.com/archives/{channel}/p{str(ts).replace('.', '')}"
        return web.json_response({"ok": True, "channel": channel, "permalink": link})
