"""FakeSlack's direct messages (issue 19): `conversations.open` and `chat.postEphemeral`,
answering as Slack documents them.

- ``conversations.open`` with ``users=<one user id>`` returns that user's DM channel
  (``D…``, the same every time), which ``chat.postMessage`` and ``conversations.history``
  then accept; refusals as in Slack's method reference: an unknown user
  ``user_not_found``, a deactivated one ``user_disabled``, a bot user ``cannot_dm_bot``,
  one the bot may not see ``user_not_visible``; no ``users`` and no ``channel``
  ``invalid_arguments``.
- ``chat.postEphemeral`` (channel, user, text) records a message only that user sees;
  ``channel_not_found`` / ``not_in_channel`` / ``is_archived`` as for posts, an unknown
  user ``user_not_found``, a user who is not a member of the channel
  ``user_not_in_channel``, no text ``no_text``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from .slack import FakeSlack

ACTIVE, DEACTIVATED, BOT, HIDDEN = "active", "deactivated", "bot", "hidden"
_REFUSAL = {DEACTIVATED: "user_disabled", BOT: "cannot_dm_bot", HIDDEN: "user_not_visible"}


@dataclass
class SlackDMs:
    """The users the fake knows and their DM channels; `ephemerals` what was shown to one
    user only ({"channel", "user", "text"})."""

    fake: FakeSlack
    users: dict[str, str] = field(default_factory=dict)  # user id -> ACTIVE, DEACTIVATED…
    members: dict[str, set[str]] = field(default_factory=dict)  # channel -> users in it
    channels: dict[str, str] = field(default_factory=dict)  # user id -> D channel
    ephemerals: list[dict[str, str]] = field(default_factory=list)
    opened: int = 0  # conversations.open calls answered ok

    METHODS = ("conversations.open", "chat.postEphemeral")

    def add_user(self, user_id: str, *, state: str = ACTIVE, channels: Iterable[str] = ()) -> None:
        """A user (ACTIVE, DEACTIVATED, BOT or HIDDEN), member of `channels`."""
        self.users[user_id] = state
        for channel in channels:
            self.members.setdefault(channel, set()).add(user_id)

    def set_state(self, user_id: str, state: str) -> None:
        self.users[user_id] = state

    def dm_of(self, user_id: str) -> str | None:
        return self.channels.get(user_id)

    def messages_to(self, user_id: str) -> list[dict[str, Any]]:
        """The messages posted in `user_id`'s DM channel."""
        dm = self.channels.get(user_id)
        return [] if dm is None else self.fake.messages(dm)

    def handle(self, method: str, params: Mapping[str, Any]) -> web.Response:
        if method == "conversations.open":
            return self._open(params)
        return self._ephemeral(params)

    def _open(self, params: Mapping[str, Any]) -> web.Response:
        users = str(params.get("users") or "")
        if not users:
            return self.fake._fail(
                "channel_not_found" if params.get("channel") else "invalid_arguments"
            )
        if "," in users:
            return self.fake._fail("method_not_supported_for_channel_type")
        state = self.users.get(users)
        if state is None:
            return self.fake._fail("user_not_found")
        if state in _REFUSAL:
            return self.fake._fail(_REFUSAL[state])
        dm = self.channels.get(users)
        if dm is None:
            dm = self.channels[users] = f"D{len(self.channels) + 1:08d}"
            self.fake.add_channel(dm)
        self.opened += 1
        return web.json_response({"ok": True, "channel": {"id": dm}})

    def _ephemeral(self, params: Mapping[str, Any]) -> web.Response:
        channel, user = params.get("channel"), str(params.get("user") or "")
        error = self.fake._channel_error(channel)
        if error is None and self.fake._channels[str(channel)].archived:
            error = "is_archived"
        if error is not None:
            return self.fake._fail(error)
        if user not in self.users:
            return self.fake._fail("user_not_found")
        members = self.members.get(str(channel))
        if members is not None and user not in members:
            return self.fake._fail("user_not_in_channel")
        text = str(params.get("text") or "")
        if not text and not params.get("blocks"):
            return self.fake._fail("no_text")
        self.ephemerals.append({"channel": str(channel), "user": user, "text": text})
        return web.json_response({"ok": True, "message_ts": self.fake._next_ts()})
