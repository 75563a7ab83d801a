"""The Discord /papers group is generated from the CommandSpec registry: its subcommands,
typed options and autocomplete are the registry's, and a call hands the typed values to
the handler as they are (no text in between)."""

from __future__ import annotations

from typing import Any

import discord
import pytest
from discord import app_commands

from bot.chat.discord_app import PaperboyClient
from bot.chat.discord_commands import papers_group
from handlers.registry import SPECS
from handlers.reply import TypedCall
from handlers.spec import MAX_LIMIT

TYPES = {
    "arg": discord.AppCommandOptionType.string,
    "limit": discord.AppCommandOptionType.integer,
    "share": discord.AppCommandOptionType.boolean,
    "me": discord.AppCommandOptionType.boolean,
    "channel_posts": discord.AppCommandOptionType.boolean,
}


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[TypedCall, bool, bool]] = []

    async def run(
        self, interaction: Any, call: TypedCall, *, defer: bool, ephemeral: bool = True
    ) -> None:
        self.calls.append((call, defer, ephemeral))

    async def suggest(self, interaction: Any, prefix: str, *, mine: bool) -> list[Any]:
        return [app_commands.Choice(name=f"{prefix}:{mine}", value=prefix)]


def test_discord_group_equals_the_registry() -> None:
    group = papers_group(Recorder())
    assert [c.name for c in group.commands] == [s.name for s in SPECS]
    for spec, command in zip(SPECS, group.commands, strict=True):
        assert isinstance(command, app_commands.Command)
        assert command.description == spec.summary
        assert [p.name for p in command.parameters] == [o.name for o in spec.options]
        for option, param in zip(spec.options, command.parameters, strict=True):
            assert param.description == option.description
            assert param.type == TYPES[option.role]
            assert param.required == option.required
            assert param.autocomplete == (option.suggest is not None)
            if option.role == "limit":
                assert (param.min_value, param.max_value) == (1, MAX_LIMIT)


def test_the_synced_payload_is_the_group() -> None:
    client = PaperboyClient(Recorder(), application_id=1)
    (papers,) = [c.to_dict(client.tree) for c in client.tree.get_commands()]
    assert papers["name"] == "papers" and papers["dm_permission"] is False
    assert [o["name"] for o in papers["options"]] == [s.name for s in SPECS]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
async def test_a_call_hands_the_typed_values_over(spec: Any) -> None:
    recorder = Recorder()
    (command,) = [c for c in papers_group(recorder).commands if c.name == spec.name]
    assert isinstance(command, app_commands.Command)
    values = {o.name: "a--b" for o in spec.options if o.role == "arg"}
    await command.callback(None, **values)  # type: ignore[arg-type]
    ((call, defer, ephemeral),) = recorder.calls
    assert call == TypedCall(spec.name, values)
    assert defer == spec.defer and ephemeral


async def test_share_makes_the_deferral_public_and_autocomplete_is_the_specs() -> None:
    recorder = Recorder()
    commands = {c.name: c for c in papers_group(recorder).commands}
    search = commands["search"]
    assert isinstance(search, app_commands.Command)
    await search.callback(None, query="moe", results=10, share=True)  # type: ignore[arg-type]
    assert recorder.calls == [
        (TypedCall("search", {"query": "moe", "results": 10, "share": True}), True, False)
    ]
    for name, mine in (("subscribe", False), ("unsubscribe", True)):
        command = commands[name]
        assert isinstance(command, app_commands.Command)
        complete = command._params["topic"].autocomplete
        assert complete is not None
        (choice,) = await complete(None, "mo")  # type: ignore[arg-type]
        assert choice.name == f"mo:{mine}"
