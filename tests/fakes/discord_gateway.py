"""Gateway events of the fake Discord: button clicks (INTERACTION_CREATE, type 3) and
reactions (MESSAGE_REACTION_ADD, MESSAGE_REACTION_REMOVE) handed to a discord.py client as
its gateway does.

discord.py's gateway decodes each DISPATCH and calls ``ConnectionState.parsers[event](d)``;
`FakeGateway.dispatch` makes that same call, so everything from the parser on (view store,
dynamic items, ``on_raw_reaction_add``) is the library's own. Payloads are built from the
messages the fake holds, as Discord builds them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import discord

if TYPE_CHECKING:
    from .discord import FakeDiscord

VIEW_AND_SEND = (1 << 10) | (1 << 11)
# Task names discord.py gives the work a dispatch starts (events, views, dynamic items).
_TASKS = ("discord.py: ", "discord-ui-")


class FakeGateway:
    """Dispatch gateway events to clients. `click` presses a button of a stored message
    (ValueError when the message has no such button, as a Discord client cannot press
    one); `forge` adds a component to the message copy the interaction carries, to play a
    payload real Discord would not send. `react` adds a reaction, `unreact` removes it. All
    return the payload and wait until the client has finished what the event started."""

    GUILD: ClassVar[str] = "1300000000000000001"
    USER: ClassVar[str] = "1400000000000000007"

    def __init__(self, host: FakeDiscord) -> None:
        self._host = host

    @staticmethod
    async def dispatch(client: discord.Client, event: str, data: Mapping[str, Any]) -> None:
        """Hand `data` to the client's parser for `event` and wait for the tasks it starts."""
        before = set(asyncio.all_tasks())
        client._connection.parsers[event](data)
        for _ in range(10):  # a task may start others (a dynamic item, then its callback)
            started = {
                t
                for t in asyncio.all_tasks() - before
                if t.get_name().startswith(_TASKS) and t is not asyncio.current_task()
            }
            if not started:
                return
            before |= started
            await asyncio.gather(*started, return_exceptions=True)

    def _stored(self, message_id: str) -> dict[str, Any]:
        stored = self._host._find(message_id)
        if stored is None:
            raise ValueError(f"no message {message_id}")
        return self._host._public(stored)

    def _member(self, user: str, permissions: int, *, bot: bool = False) -> dict[str, Any]:
        return {
            "user": {
                "id": user,
                "username": f"user{user[-4:]}",
                "discriminator": "0",
                "global_name": None,
                "avatar": None,
                "bot": bot,
            },
            "roles": [],
            "joined_at": "2024-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "nick": None,
            "avatar": None,
            "premium_since": None,
            "permissions": str(permissions),
        }

    def interaction(
        self,
        message_id: str,
        custom_id: str,
        *,
        user: str = USER,
        forge: bool = False,
        permissions: int = VIEW_AND_SEND,
    ) -> dict[str, Any]:
        """The INTERACTION_CREATE payload (type 3, a button) for pressing `custom_id` on
        message `message_id`; registered with the fake, so its callback is accepted."""
        message = self._stored(message_id)
        buttons = [
            c.get("custom_id")
            for row in message.get("components") or []
            for c in row.get("components") or []
        ]
        if forge:
            forged = {"type": 2, "style": 2, "label": "forged", "custom_id": custom_id}
            message["components"] = [
                *message["components"][:4],
                {"type": 1, "components": [forged]},
            ]
        elif custom_id not in buttons:
            raise ValueError(f"message {message_id} has no button {custom_id!r}")
        channel = str(message["channel_id"])
        interaction_id, token = self._host.interactions.add(channel)
        return {
            "id": interaction_id,
            "application_id": self._host.application_id,
            "type": 3,
            "token": token,
            "version": 1,
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": 10_485_760,
            "app_permissions": str(VIEW_AND_SEND),
            "authorizing_integration_owners": {"0": self.GUILD},
            "context": 0,
            "guild_id": self.GUILD,
            "guild_locale": "en-US",
            "guild": {"id": self.GUILD, "locale": "en-US", "features": []},
            "channel_id": channel,
            "channel": {
                "id": channel,
                "type": 0,
                "guild_id": self.GUILD,
                "name": "ml-papers",
                "position": 0,
                "permissions": str(permissions),
                "nsfw": False,
                "parent_id": None,
                "flags": 0,
                "last_message_id": None,
                "rate_limit_per_user": 0,
                "topic": None,
            },
            "member": self._member(user, permissions),
            "message": message,
            "data": {"custom_id": custom_id, "component_type": 2},
        }

    async def click(
        self, client: discord.Client, message_id: str, custom_id: str, **kwargs: Any
    ) -> dict[str, Any]:
        """Press `custom_id` on `message_id` (see `interaction`) and wait for the client."""
        payload = self.interaction(message_id, custom_id, **kwargs)
        await self.dispatch(client, "INTERACTION_CREATE", payload)
        return payload

    async def react(
        self,
        client: discord.Client,
        message_id: str,
        emoji: str,
        *,
        user: str = USER,
        bot: bool = False,
    ) -> dict[str, Any]:
        """`user` adds the unicode `emoji` to message `message_id` (MESSAGE_REACTION_ADD)."""
        message = self._stored(message_id)
        payload = {
            "user_id": user,
            "channel_id": str(message["channel_id"]),
            "message_id": message_id,
            "guild_id": self.GUILD,
            "member": self._member(user, VIEW_AND_SEND, bot=bot),
            "emoji": {"id": None, "name": emoji},
            "message_author_id": message["author"]["id"],
            "burst": False,
            "burst_colors": [],
            "type": 0,
        }
        await self.dispatch(client, "MESSAGE_REACTION_ADD", payload)
        return payload

    async def unreact(
        self, client: discord.Client, message_id: str, emoji: str, *, user: str = USER
    ) -> dict[str, Any]:
        """`user` removes the unicode `emoji` from message `message_id`
        (MESSAGE_REACTION_REMOVE: as Discord sends it, without the member)."""
        message = self._stored(message_id)
        payload = {
            "user_id": user,
            "channel_id": str(message["channel_id"]),
            "message_id": message_id,
            "guild_id": self.GUILD,
            "emoji": {"id": None, "name": emoji},
            "burst": False,
            "type": 0,
        }
        await self.dispatch(client, "MESSAGE_REACTION_REMOVE", payload)
        return payload
