"""What the fake Slack sends to an app: signed `block_actions` clicks and Events API events.

`SlackAppRequests` plays Slack's side of interactivity and event subscriptions for one app:
`connect` gives it the app's request URL and signing secret, then `click` presses a button
of a message the fake holds (the payload built from the stored message, as Slack builds it)
and `react` / `unreact` add a reaction to a message and remove it. Each request is signed
(``v0:{timestamp}:{body}`` HMAC-SHA256) and posted over real HTTP; the answer's status and
body come back with the response_url the click carried, so a test reads what the app
answered on it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import count
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode

import aiohttp

if TYPE_CHECKING:
    from .slack import FakeSlack


@dataclass(frozen=True)
class AppAnswer:
    """The app's HTTP answer to one request, and the response_url the request carried."""

    status: int
    body: str
    response_url: str | None = None


class SlackAppRequests:
    """Slack's requests to the app connected with `connect`.

    `click` refuses (ValueError) to press a button the message does not have, as Slack's
    client cannot; `value=` overrides what the pressed button sends, to play a forged or
    stale payload (Slack signs whatever it sends: the app must check the value itself).
    """

    APP_ID: ClassVar[str] = "A0PAPERBOY"
    VERIFICATION_TOKEN: ClassVar[str] = "legacy-verification-token"

    def __init__(self, host: FakeSlack) -> None:
        self._host = host
        self._url: str | None = None
        self._secret = ""
        self._ids = count(1)
        self.sent: list[dict[str, Any]] = []  # every payload posted, oldest first

    def connect(self, url: str, signing_secret: str) -> None:
        """Send to `url` (the app's /slack/events), signing with `signing_secret`."""
        self._url, self._secret = url, signing_secret

    def _message(self, channel: str, ts: str) -> dict[str, Any]:
        for message in self._host.messages(channel):
            if message["ts"] == ts:
                return message
        raise ValueError(f"no message {ts} in {channel}")

    async def click(
        self,
        channel: str,
        ts: str,
        action_id: str,
        *,
        user: str = "U0MEMBER01",
        block_id: str | None = None,
        value: str | None = None,
        age: int = 0,
    ) -> AppAnswer:
        """Press the button `action_id` (in block `block_id`, else the first such button)
        of message `ts` in `channel`; `age` seconds makes the signature that old."""
        message = self._message(channel, ts)
        button = self._button(message, action_id, block_id)
        n = next(self._ids)
        response_url = self._host.response_url(channel)
        action = {
            "type": button["type"],
            "action_id": action_id,
            "block_id": button["block_id"],
            "text": button.get("text"),
            "value": button.get("value") if value is None else value,
            "action_ts": f"{time.time():.6f}",
        }
        public = {k: message[k] for k in ("type", "ts", "text", "blocks", "user", "bot_id")}
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user, "username": "someone", "name": "someone", "team_id": self._team},
            "api_app_id": self.APP_ID,
            "token": self.VERIFICATION_TOKEN,
            "container": {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel,
                "is_ephemeral": False,
            },
            "trigger_id": f"{n}.{n}.fake",
            "team": {"id": self._team, "domain": "fake"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel, "name": "ml-papers"},
            "message": public,
            "state": {"values": {}},
            "response_url": response_url,
            "actions": [action],
        }
        body = urlencode({"payload": json.dumps(payload)})
        return await self._post(
            payload, body, "application/x-www-form-urlencoded", age, response_url
        )

    async def react(
        self,
        channel: str,
        ts: str,
        reaction: str,
        *,
        user: str = "U0MEMBER01",
        age: int = 0,
    ) -> AppAnswer:
        """`user` adds `reaction` (a name such as "+1" or "thumbsup::skin-tone-2") to message
        `ts`: a `reaction_added` event as the Events API delivers it."""
        return await self._reaction("reaction_added", channel, ts, reaction, user, age)

    async def unreact(
        self,
        channel: str,
        ts: str,
        reaction: str,
        *,
        user: str = "U0MEMBER01",
        age: int = 0,
    ) -> AppAnswer:
        """`user` removes `reaction` from message `ts`: a `reaction_removed` event (Slack
        sends it whether or not the reaction was there; the payload is the same)."""
        return await self._reaction("reaction_removed", channel, ts, reaction, user, age)

    async def _reaction(
        self, kind: str, channel: str, ts: str, reaction: str, user: str, age: int
    ) -> AppAnswer:
        message = self._message(channel, ts)
        n = next(self._ids)
        now = time.time()
        payload = {
            "token": self.VERIFICATION_TOKEN,
            "team_id": self._team,
            "api_app_id": self.APP_ID,
            "event": {
                "type": kind,
                "user": user,
                "reaction": reaction,
                "item_user": message["user"],
                "item": {"type": "message", "channel": channel, "ts": ts},
                "event_ts": f"{now:.6f}",
            },
            "type": "event_callback",
            "event_id": f"Ev{n:010d}",
            "event_time": int(now),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self._team,
                    "user_id": self._host.BOT_USER_ID,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
        return await self._post(payload, json.dumps(payload), "application/json", age, None)

    @property
    def _team(self) -> str:
        return self._host.TEAM_ID

    @staticmethod
    def _button(message: Mapping[str, Any], action_id: str, block_id: str | None) -> dict[str, Any]:
        for block in message.get("blocks") or []:
            if block.get("type") != "actions":
                continue
            if block_id is not None and block.get("block_id") != block_id:
                continue
            for element in block.get("elements") or []:
                if element.get("action_id") == action_id:
                    return {**element, "block_id": block.get("block_id", "")}
        raise ValueError(f"message {message['ts']} has no button {action_id} in {block_id}")

    async def _post(
        self,
        payload: dict[str, Any],
        body: str,
        content_type: str,
        age: int,
        response_url: str | None,
    ) -> AppAnswer:
        if self._url is None:
            raise RuntimeError("connect() the app first: no request URL")
        timestamp = int(time.time()) - age
        base = f"v0:{timestamp}:{body}".encode()
        signature = "v0=" + hmac.new(self._secret.encode(), base, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(timestamp),
            "X-Slack-Signature": signature,
        }
        self.sent.append(payload)
        async with (
            aiohttp.ClientSession() as session,
            session.post(self._url, data=body.encode(), headers=headers) as resp,
        ):
            return AppAnswer(resp.status, await resp.text(), response_url)
