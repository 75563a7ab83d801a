"""FakeDiscord's direct messages (issue 19): Create DM (``POST /users/@me/channels``
with ``{"recipient_id": …}``) and the refusal of a user who blocks DMs.

- Create DM returns the user's DM channel (type 1, the same every time) that
  ``POST /channels/{id}/messages`` then accepts; an unknown user is 404 code 10013
  ("Unknown User"), a body without ``recipient_id`` 400 code 50035.
- A user who blocks DMs from the bot (`add_user(…, accepts_dms=False)`) gets a DM
  channel, but posting there is 403 code 50007 "Cannot send messages to this user", as
  Discord answers it (discord.py reports ``Forbidden: 403 (error code: 50007)``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from .discord import FakeDiscord


@dataclass
class DiscordDMs:
    """The users the fake knows and their DM channels."""

    fake: FakeDiscord
    users: dict[str, bool] = field(default_factory=dict)  # user id -> accepts DMs
    channels: dict[str, str] = field(default_factory=dict)  # user id -> DM channel id
    refused: int = 0  # posts answered 403 50007

    def add_user(self, user_id: str | int, *, accepts_dms: bool = True) -> None:
        self.users[str(user_id)] = accepts_dms

    def messages_to(self, user_id: str | int) -> list[dict[str, Any]]:
        dm = self.channels.get(str(user_id))
        return [] if dm is None else self.fake.messages(dm)

    def add_routes(self, app: web.Application, api: str) -> None:
        app.router.add_post(f"{api}/users/@me/channels", self._create_dm)

    def refusal(self, channel_id: str) -> web.Response | None:
        """403 50007 for a post to the DM channel of a user who blocks DMs."""
        for user, dm in self.channels.items():
            if dm == channel_id and not self.users.get(user, True):
                self.refused += 1
                return self.fake._error(403, 50007, "Cannot send messages to this user")
        return None

    async def _create_dm(self, request: web.Request) -> web.StreamResponse:
        denied = await self.fake._admit(request)
        if denied is not None:
            return denied
        try:
            body = json.loads(await request.read() or b"{}")
        except ValueError:
            return self.fake._error(400, 50109, "The request body contains invalid JSON.")
        recipient = str(body.get("recipient_id") or "") if isinstance(body, dict) else ""
        if not recipient:
            return self.fake._error(400, 50035, "Invalid Form Body")
        if recipient not in self.users:
            return self.fake._error(404, 10013, "Unknown User")
        dm = self.channels.get(recipient)
        if dm is None:
            dm = self.channels[recipient] = self.fake._snowflake()
            self.fake.add_channel(dm)
        recipients = [{"id": recipient, "username": f"user{recipient[-4:]}", "bot": False}]
        return self.fake._json({"id": dm, "type": 1, "recipients": recipients})
