"""The `/papers` app_commands group and its command tree.

`papers_group` builds one subcommand per CommandSpec of the registry, with the spec's typed
options and autocomplete, whose callbacks call a `Frontend` (bot.chat.discord_replies.Papers
when serving). `PapersTree` logs a command that fails (secrets and the interaction token
redacted) and tells the user it was our fault.
"""

from __future__ import annotations

import inspect
import logging
import traceback
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Protocol

import aiohttp
import discord
from discord import app_commands

from bot.chat.discord_replies import SOMETHING_WRONG, answer
from bot.logs import redact
from handlers.registry import SPECS
from handlers.render import discord_reply
from handlers.reply import Reply, TypedCall
from handlers.spec import MAX_LIMIT, CommandSpec, Option

log = logging.getLogger("bot.chat.discord_app")  # the Discord front-end's one logger name

GROUP_DESCRIPTION = "Research papers for this channel: search, topics, digests"


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


_TYPES: dict[str, Any] = {
    "arg": str,
    "limit": app_commands.Range[int, 1, MAX_LIMIT],
    "share": bool,
    "me": bool,  # --me (handlers.personal)
    "channel_posts": bool,  # --include-channel-posts
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
