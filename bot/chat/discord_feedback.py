"""Discord feedback: the digest's "More like this" / "Not for us" buttons and 👍/👎 reactions.

The buttons' custom_ids are `paperboy:more:<ref>` / `paperboy:less:<ref>`
(bot.pipeline.render.discord_embeds.feedback_id). `FeedbackButton` is a
discord.ui.DynamicItem registered on the client, so a button works on any message
whenever it was posted, across restarts: no view is kept per message. A click is deferred
privately at once (Discord wants an answer within 3 s), the vote taken
(bot.chat.feedback.vote_from_button) and the private answer edited in. A 👍/👎 reaction
(any skin tone; MESSAGE_REACTION_ADD, the `guild_reactions` intent) counts when the message
carries exactly one paper, and removing it (MESSAGE_REACTION_REMOVE) withdraws that vote,
not one the person gave since by a button or command; the bot's and other bots' reactions
are ignored.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Sequence
from typing import Any

import aiohttp
import discord

from bot.chat.discord_replies import answer, defer_answer
from bot.chat.feedback import (
    FAILED,
    NOT_IN_A_CHANNEL,
    VIA_REACTION,
    discord_vote,
    vote_from_button,
)
from bot.logs import redact
from bot.models import Vote
from bot.pipeline.render.discord_embeds import FEEDBACK_PREFIX, LESS, MORE
from handlers.render import discord_reply
from handlers.reply import Reply
from handlers.services import Services

log = logging.getLogger("bot.chat.discord_app")  # the Discord front-end's one logger name

# Any reference after the vote reaches the callback, which says clearly when it is damaged.
TEMPLATE = re.compile(
    rf"{re.escape(FEEDBACK_PREFIX)}(?P<vote>{MORE}|{LESS}):(?P<ref>.*)", re.DOTALL
)
VOTES: dict[str, Vote] = {MORE: 1, LESS: -1}


class DiscordFeedback:
    """Takes the votes of button clicks and reactions for the client it is attached to."""

    def __init__(self, services: Services, *, secrets: Sequence[str] = ()) -> None:
        self._services = services
        self._secrets = list(secrets)

    async def clicked(self, interaction: discord.Interaction, ref: str, vote: Vote) -> None:
        """Answer a feedback click privately: the vote taken, or why it was not."""
        message = interaction.message
        if interaction.guild_id is None or interaction.channel_id is None or message is None:
            await self._answer(interaction, Reply(NOT_IN_A_CHANNEL, error=True))
            return
        await defer_answer(interaction, ephemeral=True)
        channel = f"discord:{interaction.channel_id}"
        user = str(interaction.user.id)
        try:
            reply = await vote_from_button(
                self._services.teach, channel, user, str(message.id), ref, vote
            )
        except Exception as e:
            detail = "".join(traceback.format_exception(e))
            secrets = [*self._secrets, interaction.token]
            log.error("feedback click in %s failed: %s", channel, redact(detail, secrets))
            reply = Reply(FAILED, error=True)
        await self._answer(interaction, reply)

    async def _answer(self, interaction: discord.Interaction, reply: Reply) -> None:
        try:
            await answer(interaction, discord_reply(reply))
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as e:
            log.warning(
                "feedback answer in channel %s not delivered: %s",
                interaction.channel_id,
                e.__class__.__name__,
            )

    async def reacted(self, event: discord.RawReactionActionEvent, bot_id: int | None) -> None:
        """Count a 👍/👎 added to a message as a vote (Teach.on_message decides whether the
        message carries exactly one paper)."""
        vote = discord_vote(event.emoji.name if event.emoji.is_unicode_emoji() else None)
        if vote is None or event.guild_id is None or event.user_id == bot_id:
            return
        if event.member is not None and event.member.bot:
            return
        channel = f"discord:{event.channel_id}"
        user, message = str(event.user_id), str(event.message_id)
        try:
            given = await self._services.teach.on_message(
                channel, user, message, vote, VIA_REACTION
            )
        except Exception as e:
            detail = "".join(traceback.format_exception(e))
            log.error("reaction in %s not counted: %s", channel, redact(detail, self._secrets))
            return
        if given is not None:
            log.info("reaction in %s counted: %+d on %s", channel, vote, given.paper.key)

    async def unreacted(self, event: discord.RawReactionActionEvent, bot_id: int | None) -> None:
        """Withdraw the vote of a 👍/👎 taken back (Teach.on_unreact: only the vote that
        reaction gave, on a message carrying exactly one paper). Discord sends no member
        with a removal; another bot's reaction never gave a vote, so none is withdrawn."""
        vote = discord_vote(event.emoji.name if event.emoji.is_unicode_emoji() else None)
        if vote is None or event.guild_id is None or event.user_id == bot_id:
            return
        channel = f"discord:{event.channel_id}"
        user, message = str(event.user_id), str(event.message_id)
        try:
            gone = await self._services.teach.on_unreact(channel, user, message, vote)
        except Exception as e:
            detail = "".join(traceback.format_exception(e))
            log.error(
                "reaction removed in %s not withdrawn: %s", channel, redact(detail, self._secrets)
            )
            return
        if gone is not None:
            log.info("reaction in %s withdrawn: %+d on %s", channel, vote, gone.paper_key)


class FeedbackButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=TEMPLATE):
    """A "More like this" / "Not for us" button of any digest message, rebuilt from its
    custom_id at each click (nothing is kept per message, so restarts lose nothing)."""

    def __init__(self, item: discord.ui.Button[Any], vote: Vote, ref: str) -> None:
        super().__init__(item)
        self.vote = vote
        self.ref = ref

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> FeedbackButton:
        if not isinstance(item, discord.ui.Button):
            raise TypeError(f"a feedback custom_id on a {type(item).__name__}, not a button")
        return cls(item, VOTES[match["vote"]], match["ref"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        votes = getattr(interaction.client, "votes", None)
        if not isinstance(votes, DiscordFeedback):
            log.error("feedback click on a client without feedback: not answered")
            return
        await votes.clicked(interaction, self.ref, self.vote)
