"""Discord interactions in and answers out: a `/papers` call becomes a CommandRequest,
goes to handlers/, and its reply is sent back in whatever state the interaction is in.

`Papers` is the front-end the command callbacks call (bot.chat.discord_commands.Frontend):
anything that reads the store is deferred first (Discord wants an acknowledgement within
3 s), with the answer's visibility (public only for a shared search). `answer` sends a
reply as the response, by editing the deferred loading message, or as a follow-up.
Topic autocomplete answers within AUTOCOMPLETE_SECONDS or not at all.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import discord
from discord import app_commands

from bot.delivery.discord_files import with_files
from bot.models import Attachment
from handlers.commands import dispatch as handle_command
from handlers.commands import topic_suggestions
from handlers.registry import BY_NAME
from handlers.render import DiscordReply, discord_reply
from handlers.reply import CommandRequest, Reply, TypedCall
from handlers.services import Services

log = logging.getLogger("bot.chat.discord_app")  # the Discord front-end's one logger name

Dispatch = Callable[[CommandRequest, Services], Awaitable[Reply]]

MANAGE_RULE = "changing this channel's topics needs the Manage Channels permission"
NOT_IN_A_CHANNEL = (
    "/papers works in server channels: each channel follows its own topics. "
    "Use it in a channel of a server where Paperboy is installed."
)
SOMETHING_WRONG = "Something went wrong on our side; try again."
POSTED_TO_CHANNEL = "Posted to the channel."
ANSWERED_PRIVATELY = "Answered privately."
AUTOCOMPLETE_SECONDS = 2.0  # Discord drops an autocomplete answer after 3 s
MAX_CHOICES = 25  # Discord: at most 25 autocomplete choices ...
MAX_CHOICE_CHARS = 100  # ... with names and values of 1-100 characters
_EPHEMERAL = "paperboy.deferred_ephemeral"  # interaction.extras: how the answer was deferred
_ANSWERED = "paperboy.answered"  # interaction.extras: the deferred answer was given


class Suggest(Protocol):
    """handlers.commands.topic_suggestions: topics for autocomplete, best first."""

    def __call__(
        self, services: Services, channel_ref: str, prefix: str, *, mine: bool
    ) -> Awaitable[list[str]]: ...


def can_manage(interaction: discord.Interaction, manager_role: str | None) -> bool:
    """Manage Channels (Discord's resolved permissions in this channel) or the configured
    role, given by name (case-insensitive) or id."""
    perms = interaction.permissions
    if perms.manage_channels or perms.administrator:
        return True
    member = interaction.user
    if not manager_role or not isinstance(member, discord.Member):
        return False
    wanted = manager_role.strip()
    if wanted.isdigit():
        return int(wanted) in member._roles  # the ids Discord sent, cached guild or not
    return any(role.name.casefold() == wanted.casefold() for role in member.roles)


def manage_rule(interaction: discord.Interaction, manager_role: str | None) -> str:
    """What may change the channel's topics, for a refusal: the role by name when known."""
    if not manager_role:
        return MANAGE_RULE
    name = manager_role
    if manager_role.isdigit() and interaction.guild is not None:
        role = interaction.guild.get_role(int(manager_role))
        name = role.name if role is not None else f"id {manager_role}"
    return f"{MANAGE_RULE} or the “{name}” role"


async def defer_answer(interaction: discord.Interaction, *, ephemeral: bool) -> None:
    """Acknowledge now (a "thinking" answer, private or not); `answer` edits it in later."""
    await interaction.response.defer(ephemeral=ephemeral, thinking=True)
    interaction.extras[_EPHEMERAL] = ephemeral


def _files(files: Sequence[Attachment]) -> list[discord.File]:
    """discord.py's files (sent as ``files[n]`` with ``attachments[n].description``, the
    alt text); new ones at each send, as discord.py reads them once."""
    return [
        discord.File(io.BytesIO(f.content), filename=f.filename, description=f.alt.strip() or None)
        for f in files
    ]


async def answer(
    interaction: discord.Interaction, message: DiscordReply, files: Sequence[Attachment] = ()
) -> None:
    """Send `message` as the interaction's answer, whatever state the interaction is in.

    `files` (a Reply's, e.g. the trend chart) go with the answer as attachments (one
    multipart request), each image shown in an embed by ``attachment://<filename>``
    (bot.delivery.discord_files), with the answer's visibility.

    Not yet acknowledged: the response itself. Deferred: the loading message is edited
    (Discord keeps the visibility chosen when deferring, so a public answer to a private
    deferral becomes a note there plus a public follow-up, and a private answer to a public
    deferral a note plus an ephemeral follow-up). Already answered: a follow-up.
    """
    shown = with_files({"embeds": message.embeds}, files).get("embeds") if files else None
    embeds = [discord.Embed.from_dict(e) for e in shown or message.embeds]
    nobody = discord.AllowedMentions.none()
    if files:
        await _answer_with_files(interaction, message, embeds, files)
        return
    if not interaction.response.is_done():
        await interaction.response.send_message(
            message.content, embeds=embeds, ephemeral=message.ephemeral, allowed_mentions=nobody
        )
        return
    deferred_ephemeral = interaction.extras.get(_EPHEMERAL)
    if deferred_ephemeral is None or interaction.extras.get(_ANSWERED):
        await interaction.followup.send(
            message.content, embeds=embeds, ephemeral=message.ephemeral, allowed_mentions=nobody
        )
        return
    if bool(deferred_ephemeral) != message.ephemeral:
        # Deferred the other way: a private answer (an error, "slow down") to a publicly
        # deferred search leaves the channel only a note, and a public answer to a privately
        # deferred command tells the caller it was posted; the answer is a follow-up.
        note = POSTED_TO_CHANNEL if deferred_ephemeral else ANSWERED_PRIVATELY
        await interaction.edit_original_response(content=note, embeds=[], allowed_mentions=nobody)
        interaction.extras[_ANSWERED] = True
        await interaction.followup.send(
            message.content, embeds=embeds, ephemeral=message.ephemeral, allowed_mentions=nobody
        )
        return
    await interaction.edit_original_response(
        content=message.content, embeds=embeds, allowed_mentions=nobody
    )
    interaction.extras[_ANSWERED] = True


async def _answer_with_files(
    interaction: discord.Interaction,
    message: DiscordReply,
    embeds: list[discord.Embed],
    files: Sequence[Attachment],
) -> None:
    """`answer` for a reply with files: the same states, each send carrying the files
    (an edited deferral gets them as ``attachments``)."""
    nobody = discord.AllowedMentions.none()
    if not interaction.response.is_done():
        await interaction.response.send_message(
            message.content,
            embeds=embeds,
            files=_files(files),
            ephemeral=message.ephemeral,
            allowed_mentions=nobody,
        )
        return
    deferred_ephemeral = interaction.extras.get(_EPHEMERAL)
    if deferred_ephemeral is not None and not interaction.extras.get(_ANSWERED):
        if bool(deferred_ephemeral) == message.ephemeral:
            await interaction.edit_original_response(
                content=message.content,
                embeds=embeds,
                attachments=_files(files),
                allowed_mentions=nobody,
            )
            interaction.extras[_ANSWERED] = True
            return
        note = POSTED_TO_CHANNEL if deferred_ephemeral else ANSWERED_PRIVATELY
        await interaction.edit_original_response(content=note, embeds=[], allowed_mentions=nobody)
        interaction.extras[_ANSWERED] = True
    await interaction.followup.send(
        message.content,
        embeds=embeds,
        files=_files(files),
        ephemeral=message.ephemeral,
        allowed_mentions=nobody,
    )


class Papers:
    """Turns a /papers interaction into a CommandRequest, dispatches it and answers.

    Anything that reads the store is deferred first (Discord wants an acknowledgement
    within 3 s); the deferral's visibility is the answer's: public only for a shared search.
    """

    def __init__(
        self,
        services: Services,
        *,
        manager_role: str | None = None,
        dispatch: Dispatch = handle_command,
        suggest: Suggest = topic_suggestions,
    ) -> None:
        self._services = services
        self._manager_role = manager_role
        self._dispatch = dispatch
        self._suggest = suggest

    def request(self, interaction: discord.Interaction, call: TypedCall) -> CommandRequest:
        channel = interaction.channel
        spec = BY_NAME.get(call.name)
        return CommandRequest(
            platform="discord",
            channel_id=str(interaction.channel_id),
            user_id=str(interaction.user.id),
            text=spec.text(call.values) if spec is not None else call.name,
            can_manage=can_manage(interaction, self._manager_role),
            manage_rule=manage_rule(interaction, self._manager_role),
            channel_name=getattr(channel, "name", None),
            typed=call,
        )

    async def run(
        self,
        interaction: discord.Interaction,
        call: TypedCall,
        *,
        defer: bool,
        ephemeral: bool = True,
    ) -> None:
        if interaction.guild_id is None or interaction.channel_id is None:
            await answer(interaction, discord_reply(Reply(NOT_IN_A_CHANNEL, error=True)))
            return
        request = self.request(interaction, call)
        if defer:
            await defer_answer(interaction, ephemeral=ephemeral)
        reply = await self._dispatch(request, self._services)
        await answer(interaction, discord_reply(reply), reply.files)

    async def suggest(
        self, interaction: discord.Interaction, prefix: str, *, mine: bool
    ) -> list[app_commands.Choice[str]]:
        if interaction.channel_id is None:
            return []
        ref = f"discord:{interaction.channel_id}"
        if mine and getattr(interaction.namespace, "me", None):  # the caller's own topics
            ref = f"user:discord:{interaction.user.id}"
        try:
            async with asyncio.timeout(AUTOCOMPLETE_SECONDS):
                topics = await self._suggest(self._services, ref, prefix, mine=mine)
        except TimeoutError:
            log.warning("topic autocomplete in %s took over %ss", ref, AUTOCOMPLETE_SECONDS)
            return []
        shown = dict.fromkeys(t[:MAX_CHOICE_CHARS] for t in topics if t.strip())
        return [app_commands.Choice(name=t, value=t) for t in list(shown)[:MAX_CHOICES]]
