"""The CommandSpec registry is the one definition of each /papers subcommand: the text
parser, the help, the Slack manifest and the permission checks follow it (the Discord
group: tests/chat/test_discord_commands.py). Each test fails when one of them drifts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from bot.app import App, build_app
from bot.settings import CommandSettings, Settings
from handlers.commands import HANDLERS, dispatch, read_command
from handlers.manifest import DESCRIPTION, slack_manifest
from handlers.parse import SUBCOMMANDS, parse_command
from handlers.registry import BY_NAME, HELP_LINES, SPECS
from handlers.reply import CommandRequest, TypedCall
from handlers.services import Services
from handlers.spec import MAX_LIMIT, Command, UsageError, usage_hint

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "config" / "slack-manifest.yaml"
CHANNEL = "C0SPEC"
# A valid value for each text option, by option name.
EXAMPLES = {
    "query": "mixture of experts",
    "topic": "speech recognition",
    "term": "survey",
    "cron": "0 9 * * mon-fri",
    "timezone": "Europe/Berlin",
    "paper": "2401.04088",
    "when": "fri 16:00",  # /papers weekly
}


def _values(name: str) -> dict[str, str | int | bool | None]:
    return {o.name: EXAMPLES[o.name] for o in BY_NAME[name].options if o.role == "arg"}


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    settings = Settings(database=str(tmp_path / "p.db"), commands=CommandSettings(per_minute=0))
    app: App = build_app(settings, clock=lambda: datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    yield app.services()
    app.close()


def test_committed_slack_manifest_is_generated_from_the_registry() -> None:
    """Regenerate with: python -m handlers.manifest > config/slack-manifest.yaml"""
    assert MANIFEST.read_text(encoding="utf-8") == slack_manifest()
    (papers,) = yaml.safe_load(slack_manifest())["features"]["slash_commands"]
    assert papers["description"] == DESCRIPTION
    assert papers["usage_hint"] == usage_hint(SPECS)
    for spec in SPECS:
        assert spec.usage in papers["usage_hint"]


def test_text_parser_reads_exactly_the_registered_subcommands() -> None:
    assert tuple(s.name for s in SPECS) == SUBCOMMANDS
    assert set(HANDLERS) == set(SUBCOMMANDS)
    for spec in SPECS:
        assert HANDLERS[spec.name] is spec.handler
        assert parse_command(f"{spec.name.upper()} x").name == spec.name
    assert parse_command("moe").name == "search"


def test_help_names_every_subcommand() -> None:
    shown = "\n".join(HELP_LINES)
    assert HELP_LINES[:-1] == tuple(f"/papers {s.help}" for s in SPECS if s.help is not None)
    for spec in SPECS:
        if spec.name not in {"search", "help"}:  # search: "/papers <words>"; help: itself
            assert f"{spec.name} <" in shown or f"/papers {spec.name} " in shown, spec.name


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_typed_values_give_the_command_their_text_gives(name: str) -> None:
    """For plain values, a typed call and its /papers text mean the same command."""
    spec = BY_NAME[name]
    values: dict[str, str | int | bool | None] = dict(_values(name))
    for option in spec.options:
        if option.role == "limit":
            values[option.name] = 10
        elif option.role == "share":
            values[option.name] = True
    assert spec.command(values) == parse_command(spec.text(values))
    assert spec.command({}) == Command(name)


def test_typed_values_are_taken_as_typed_not_parsed_for_flags() -> None:
    subscribe = BY_NAME["subscribe"]
    assert subscribe.command({"topic": "--share —top 3 a--b"}) == Command(
        "subscribe", "--share —top 3 a--b"
    )
    assert subscribe.command({"topic": "  moe\u200b \u202e x "}).arg == "moe x"
    with pytest.raises(UsageError):
        BY_NAME["search"].command({"query": "moe", "results": MAX_LIMIT + 1})
    request = CommandRequest("discord", "1", "2", "ignored", typed=TypedCall("nope", {}))
    with pytest.raises(UsageError):
        read_command(request)


async def test_typed_topic_with_dashes_is_followed_as_typed(services: Services) -> None:
    call = TypedCall("subscribe", {"topic": "a--b --share"})
    request = CommandRequest("discord", CHANNEL, "U1", "subscribe a--b --share", typed=call)
    reply = await dispatch(request, services)
    assert not reply.error and not reply.public
    profile = services.profiles.get("discord", CHANNEL)
    assert profile is not None and profile.topics == ("a--b --share",)


@pytest.mark.parametrize("name", SUBCOMMANDS)
async def test_permission_is_enforced_as_the_spec_says(name: str, services: Services) -> None:
    call = TypedCall(name, _values(name))
    request = CommandRequest(
        "discord", CHANNEL, "U1", name, can_manage=False, manage_rule="RULE", typed=call
    )
    reply = await dispatch(request, services)
    refused = reply.error and "RULE" in reply.title
    assert refused == (BY_NAME[name].permission == "manage"), reply.title
    if refused:
        assert services.profiles.get("discord", CHANNEL) is None


def test_handlers_stay_platform_neutral() -> None:
    """handlers/ describes the commands; only bot/chat speaks Slack or Discord."""
    for path in sorted((ROOT / "handlers").glob("*.py")):
        for line in path.read_text(encoding="utf-8").splitlines():
            words = line.split()
            if words[:1] in (["import"], ["from"]) and len(words) > 1:
                module = words[1].split(".")[0]
                assert module not in {"discord", "slack_bolt", "slack_sdk"}, (path.name, line)
