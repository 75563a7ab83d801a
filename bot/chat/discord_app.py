"""The Discord front-end: `/papers` as an app_commands group whose calls go to handlers/."""

from __future__ import annotations

import asyncio
import inspect
import logging
import traceback
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import discord
from discord import app_commands

from bot.delivery.discord import DEFAULT_API, use_api_base
from bot.errors import ConfigError, PaperboyError
from bot.logs import redact
from bot.settings import DiscordSettings
from handlers.commands import dispatch as handle_command
from handlers.commands import topic_suggestions
from handlers.registry import BY_NAME, SPECS
from handlers.render import DiscordReply, discord_reply
from handlers.reply import CommandRequest, Reply, TypedCall
from handlers.services import Services
from handlers.spec import MAX_LIMIT, CommandSpec, Option

log = logging.getLogger(__name__)

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
GROUP_DESCRIPTION = "Research papers for this channel: search, topics, digests"


class Suggest(Protocol):
    """handlers.commands.topic_suggestions: topics for autocomplete, best first."""

    def __call__(
        self, services: Services, channel_ref: str, prefix: str, *, mine: bool
    ) -> Awaitable[list[str]]: ...


class Frontend(Protocol):
    """What the command callbacks call: run a subcommand with its typed options for an
    interaction, answer an autocomplete."""

    async def run(
        self,
        interaction: discord.Interaction,
        call: TypedCall,
        *,
        defer: bool,
        ephemeral: bool = True,
    ) -> None: ...

    async def suggest(
        self, interaction: discord.Interaction, prefix: str, *, mine: bool
    ) -> list[app_commands.Choice[str]]: ...


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


async def answer(interaction: discord.Interaction, message: DiscordReply) -> None:
    """Send `message` as the interaction's answer, whatever state the interaction is in.

    Not yet acknowledged: the response itself. Deferred: the loading message is edited
    (Discord keeps the visibility chosen when deferring, so a public answer to a private
    deferral becomes a note there plus a public follow-up, and a private answer to a public
    deferral a note plus an ephemeral follow-up). Already answered: a follow-up.
    """
    embeds = [discord.Embed.from_dict(e) for e in message.embeds]
    nobody = discord.AllowedMentions.none()
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
            await interaction.response.defer(ephemeral=ephemeral, thinking=True)
            interaction.extras[_EPHEMERAL] = ephemeral
        reply = await self._dispatch(request, self._services)
        await answer(interaction, discord_reply(reply))

    async def suggest(
        self, interaction: discord.Interaction, prefix: str, *, mine: bool
    ) -> list[app_commands.Choice[str]]:
        if interaction.channel_id is None:
            return []
        ref = f"discord:{interaction.channel_id}"
        try:
            async with asyncio.timeout(AUTOCOMPLETE_SECONDS):
                topics = await self._suggest(self._services, ref, prefix, mine=mine)
        except TimeoutError:
            log.warning("topic autocomplete in %s took over %ss", ref, AUTOCOMPLETE_SECONDS)
            return []
        shown = dict.fromkeys(t[:MAX_CHOICE_CHARS] for t in topics if t.strip())
        return [app_commands.Choice(name=t, value=t) for t in list(shown)[:MAX_CHOICES]]


_TYPES: dict[str, Any] = {
    "arg": str,
    "limit": app_commands.Range[int, 1, MAX_LIMIT],
    "share": bool,
}


def _subcommand(spec: CommandSpec, frontend: Frontend) -> app_commands.Command[Any, ..., None]:
    """`/papers <spec.name>` with the spec's typed options; its values go to the handler
    as they are (a TypedCall). A "share" option makes the deferral public when set."""
    shares = [o.name for o in spec.options if o.role == "share"]

    async def callback(interaction: discord.Interaction, /, **values: Any) -> None:
        ephemeral = not any(values.get(name) for name in shares)
        call = TypedCall(spec.name, values)
        await frontend.run(interaction, call, defer=spec.defer, ephemeral=ephemeral)

    def parameter(option: Option) -> inspect.Parameter:
        kind = _TYPES[option.role]
        default: Any = inspect.Parameter.empty
        if not option.required:
            default = False if option.role == "share" else None
            kind = kind if option.role == "share" else kind | None
        return inspect.Parameter(
            option.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=kind
        )

    interaction = inspect.Parameter(
        "interaction", inspect.Parameter.POSITIONAL_ONLY, annotation=discord.Interaction
    )
    parameters = [interaction, *(parameter(o) for o in spec.options)]
    callback.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    callback.__qualname__ = callback.__name__ = spec.name  # a function, not a method
    callback.__discord_app_commands_param_description__ = {  # type: ignore[attr-defined]
        o.name: o.description for o in spec.options
    }
    command: app_commands.Command[Any, ..., None] = app_commands.Command(
        name=spec.name, description=spec.summary, callback=callback
    )
    for option in spec.options:
        if option.suggest is not None:
            mine = option.suggest == "channel"
            command.autocomplete(option.name)(_suggester(frontend, mine=mine))
    return command


def _suggester(
    frontend: Frontend, *, mine: bool
) -> Callable[[discord.Interaction, str], Coroutine[Any, Any, list[app_commands.Choice[str]]]]:
    async def suggest(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await frontend.suggest(interaction, current, mine=mine)

    suggest.__qualname__ = suggest.__name__  # a function, not a method
    return suggest


def papers_group(frontend: Frontend, specs: Sequence[CommandSpec] = SPECS) -> app_commands.Group:
    """`/papers …`: one subcommand per CommandSpec of the registry, typed options and
    autocomplete as the specs declare them."""
    group = app_commands.Group(name="papers", description=GROUP_DESCRIPTION, guild_only=True)
    for spec in specs:
        group.add_command(_subcommand(spec, frontend))
    return group


class PapersTree(app_commands.CommandTree[discord.Client]):
    """The command tree; a command that fails is logged (secrets and the interaction token
    redacted) and the user is told it was our fault: privately, unless the answer was
    already deferred as a shared one."""

    def __init__(self, client: discord.Client, *, secrets: Sequence[str] = ()) -> None:
        super().__init__(client)
        self._secrets = list(secrets)

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError, /
    ) -> None:
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        name = interaction.command.qualified_name if interaction.command else "?"
        detail = "".join(traceback.format_exception(cause))
        log.error(
            "/%s failed in channel %s: %s",
            name,
            interaction.channel_id,
            redact(detail, [*self._secrets, interaction.token]),
        )
        try:
            await answer(interaction, discord_reply(Reply(SOMETHING_WRONG, error=True)))
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as e:
            log.warning("/%s: could not tell the user either: %s", name, e.__class__.__name__)


class PaperboyClient(discord.Client):
    """The bot's Discord client: guild events only (no message content), and a command
    tree serving /papers through `frontend`. Commands are synced on demand, never here."""

    def __init__(
        self,
        frontend: Frontend,
        *,
        application_id: int | None = None,
        secrets: Sequence[str] = (),
        shard: tuple[int, int] | None = None,  # (shard_id, shard_count) for a sharded bot
    ) -> None:
        intents = discord.Intents(guilds=True)
        options: dict[str, Any] = {"intents": intents}
        if application_id is not None:  # else learnt at login
            options["application_id"] = application_id
        if shard is not None:
            options["shard_id"], options["shard_count"] = shard
        super().__init__(**options)
        self.tree = PapersTree(self, secrets=secrets)
        self.tree.add_command(papers_group(frontend))


def discord_client(
    settings: DiscordSettings,
    services: Services,
    *,
    dispatch: Dispatch = handle_command,
    suggest: Suggest = topic_suggestions,
) -> PaperboyClient:
    """The client serving /papers with `services` (not logged in yet)."""
    papers = Papers(
        services, manager_role=settings.manager_role, dispatch=dispatch, suggest=suggest
    )
    shard = None
    if settings.shard_id is not None and settings.shard_count is not None:
        shard = (settings.shard_id, settings.shard_count)
    return PaperboyClient(
        papers, application_id=_application_id(settings), secrets=_secrets(settings), shard=shard
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
