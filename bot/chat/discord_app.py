"""The Discord front-end of `/papers`: the client, its login, the gateway it runs in the
background, and the on-demand sync of the command definitions.

The client serves the `/papers` group (bot.chat.discord_commands) through `Papers`
(bot.chat.discord_replies), which dispatches to handlers/, and the digest's feedback
buttons and 👍/👎 reactions (bot.chat.discord_feedback). `start_discord` logs in (a bad
token fails the start) and runs the gateway, which reconnects on its own;
`sync_commands` registers the commands with Discord and never runs at start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import discord
from discord import app_commands

from bot.chat.discord_commands import Frontend, PapersTree, papers_group
from bot.chat.discord_feedback import DiscordFeedback, FeedbackButton
from bot.chat.discord_replies import Dispatch, Papers, Suggest
from bot.delivery.discord import DEFAULT_API, use_api_base
from bot.errors import ConfigError, PaperboyError
from bot.logs import redact
from bot.settings import DiscordSettings
from handlers.commands import dispatch as handle_command
from handlers.commands import topic_suggestions
from handlers.reply import TypedCall
from handlers.services import Services

log = logging.getLogger(__name__)


class PaperboyClient(discord.Client):
    """The bot's Discord client: guild and reaction events only (no message content), a
    command tree serving /papers through `frontend`, and with `feedback` the digest's
    feedback buttons (a DynamicItem: they work on messages posted before any restart) and
    👍/👎 reactions (added: a vote; removed: that vote withdrawn). Commands are synced on
    demand, never here."""

    def __init__(
        self,
        frontend: Frontend,
        *,
        application_id: int | None = None,
        secrets: Sequence[str] = (),
        shard: tuple[int, int] | None = None,  # (shard_id, shard_count) for a sharded bot
        feedback: DiscordFeedback | None = None,
    ) -> None:
        intents = discord.Intents(guilds=True, guild_reactions=True)
        options: dict[str, Any] = {"intents": intents}
        if application_id is not None:  # else learnt at login
            options["application_id"] = application_id
        if shard is not None:
            options["shard_id"], options["shard_count"] = shard
        super().__init__(**options)
        self.tree = PapersTree(self, secrets=secrets)
        self.tree.add_command(papers_group(frontend))
        self.votes = feedback  # the buttons' and reactions' handler, not the store
        if feedback is not None:
            self.add_dynamic_items(FeedbackButton)

    async def on_raw_reaction_add(self, event: discord.RawReactionActionEvent) -> None:
        if self.votes is not None:
            await self.votes.reacted(event, self.user.id if self.user else None)

    async def on_raw_reaction_remove(self, event: discord.RawReactionActionEvent) -> None:
        if self.votes is not None:
            await self.votes.unreacted(event, self.user.id if self.user else None)


def discord_client(
    settings: DiscordSettings,
    services: Services,
    *,
    dispatch: Dispatch = handle_command,
    suggest: Suggest = topic_suggestions,
) -> PaperboyClient:
    """The client serving /papers, the feedback buttons and reactions with `services` (not
    logged in yet)."""
    papers = Papers(
        services, manager_role=settings.manager_role, dispatch=dispatch, suggest=suggest
    )
    shard = None
    if settings.shard_id is not None and settings.shard_count is not None:
        shard = (settings.shard_id, settings.shard_count)
    secrets = _secrets(settings)
    return PaperboyClient(
        papers,
        application_id=_application_id(settings),
        secrets=secrets,
        shard=shard,
        feedback=DiscordFeedback(services, secrets=secrets),
    )


def _token(settings: DiscordSettings) -> str:
    token = settings.bot_token.get_secret_value() if settings.bot_token is not None else ""
    if not token:
        raise ConfigError("discord.bot_token is not set (the Discord bot's token)")
    return token


def _secrets(settings: DiscordSettings) -> list[str]:
    return [settings.bot_token.get_secret_value()] if settings.bot_token is not None else []


def _application_id(settings: DiscordSettings) -> int | None:
    value = (settings.application_id or "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise ConfigError(
            f"discord.application_id: expected the numeric application id, not {value!r}"
        )
    return int(value)


def _use_api(settings: DiscordSettings) -> None:
    if settings.api_url.rstrip("/") != DEFAULT_API:
        use_api_base(settings.api_url)


async def _login(client: discord.Client, token: str) -> None:
    """Log in over HTTP (token check, application id); no gateway. Closes the client and
    raises ConfigError (token rejected) or PaperboyError (Discord unreachable) on failure."""
    try:
        await client.login(token)
    except discord.LoginFailure:
        await client.close()
        raise ConfigError("discord.bot_token: Discord rejected the token") from None
    except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as e:
        await client.close()
        raise PaperboyError(f"could not log in to Discord: {e.__class__.__name__}") from None


async def sync_commands(settings: DiscordSettings, *, guild_id: int | None) -> list[str]:
    """Register /papers with Discord: in one server (`guild_id`, at once) or globally (may
    take an hour to show). Discord allows 200 command creations a day per server, so this
    runs on demand only. Returns the synced commands, e.g. "/papers search".

    Raises ConfigError (no or rejected token) or PaperboyError (refused, unreachable).
    """
    token = _token(settings)
    _use_api(settings)
    client = PaperboyClient(
        _NotServing(), application_id=_application_id(settings), secrets=_secrets(settings)
    )
    await _login(client, token)
    guild = discord.Object(id=guild_id) if guild_id is not None else None
    if guild is not None:
        client.tree.copy_global_to(guild=guild)  # the same /papers, registered in one server
    where = f"server {guild_id}" if guild_id is not None else "all servers"
    try:
        synced = await client.tree.sync(guild=guild)
    except app_commands.CommandSyncFailure as e:
        raise PaperboyError(f"Discord refused the command definitions: {e.text}") from None
    except discord.Forbidden:
        raise PaperboyError(
            f"Discord refused the sync to {where}: invite the bot with the "
            "applications.commands scope"
        ) from None
    except discord.HTTPException as e:
        raise PaperboyError(f"Discord failed the sync to {where}: {e.status} {e.text}") from None
    except (aiohttp.ClientError, TimeoutError) as e:
        raise PaperboyError(f"Discord unreachable: {e.__class__.__name__}") from None
    finally:
        await client.close()
    names: list[str] = []
    for command in synced:
        subcommands = [
            o.name for o in command.options if isinstance(o, app_commands.AppCommandGroup)
        ]
        names += [f"/{command.name} {s}" for s in subcommands] or [f"/{command.name}"]
    return names


class _NotServing:
    """The frontend of a client that only syncs command definitions."""

    async def run(
        self,
        interaction: discord.Interaction,
        call: TypedCall,
        *,
        defer: bool,
        ephemeral: bool = True,
    ) -> None:
        raise RuntimeError("this client only syncs commands")

    async def suggest(
        self, interaction: discord.Interaction, prefix: str, *, mine: bool
    ) -> list[app_commands.Choice[str]]:
        return []


@dataclass(slots=True)
class RunningDiscord:
    """The gateway client running in the background; `close()` stops it."""

    client: PaperboyClient
    task: asyncio.Task[None]

    async def close(self) -> None:
        await self.client.close()
        self.task.cancel()  # a reconnect backoff may be sleeping
        await asyncio.gather(self.task, return_exceptions=True)


async def start_discord(
    settings: DiscordSettings,
    services: Services,
    *,
    dispatch: Dispatch = handle_command,
    suggest: Suggest = topic_suggestions,
) -> RunningDiscord:
    """Log in (a bad token fails here, as ConfigError) and run the gateway in a background
    task that serves /papers with `services` and reconnects on its own."""
    token = _token(settings)
    _use_api(settings)
    client = discord_client(settings, services, dispatch=dispatch, suggest=suggest)
    await _login(client, token)
    task = asyncio.create_task(client.connect(reconnect=True), name="paperboy-discord-gateway")
    secrets = _secrets(settings)

    def report(done: asyncio.Task[None]) -> None:
        if not done.cancelled() and (error := done.exception()) is not None:
            log.error("Discord gateway stopped: %s", redact(repr(error), secrets))

    task.add_done_callback(report)
    return RunningDiscord(client, task)
