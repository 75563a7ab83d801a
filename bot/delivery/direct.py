"""Direct messages (issue 19: personal alerts): what a delivery that can message one person
offers, and the refusal that pauses them.

A delivery that can message a person has `open_dm(user_id) -> channel id` (Slack
`conversations.open`, Discord `POST /users/@me/channels`); the digest then posts there with
its ordinary `send`. One that can tell a person something only they see in a channel has
`tell(channel_id, user_id, text) -> bool` (Slack `chat.postEphemeral`; Discord cannot post
ephemerally outside an interaction, so a Discord user is told at their next /papers
command instead).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from bot.errors import DeliveryError


class DirectMessageRefused(DeliveryError):
    """The platform refuses to message this person (they left the workspace, are
    deactivated, are a bot, block DMs): permanent, and not the operator's fault. `reason`
    says it in words for the person and `paperboy channels` ("you block direct messages
    from the bot (Discord 50007)")."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message, permanent=True)
        self.reason = reason


@runtime_checkable
class OpensDirectMessages(Protocol):
    async def open_dm(self, user_id: str) -> str:
        """The id of the direct-message channel with `user_id`. Raises DirectMessageRefused
        when the platform refuses that person, DeliveryError (or RetryLater) otherwise."""
        ...


@runtime_checkable
class TellsPrivately(Protocol):
    async def tell(self, channel_id: str, user_id: str, text: str) -> bool:
        """Show `text` to `user_id` only, in `channel_id`; False when that could not be
        done (not in the channel any more, channel gone). Never raises DeliveryError."""
        ...
