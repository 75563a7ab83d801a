"""Every /papers subcommand, in the order help and the Slack usage hint list them.

Adding a subcommand is one CommandSpec next to its handler and one entry here; the text
parser, the help, the Discord group and the Slack manifest follow from this list."""

from __future__ import annotations

from handlers import feedback, lifecycle, overview, profile, search, trends, weekly, why
from handlers.reply import CommandRequest, Reply
from handlers.services import Services
from handlers.spec import Command, CommandSpec, help_lines


async def help_command(command: Command, request: CommandRequest, services: Services) -> Reply:
    return Reply("Paperboy brings research papers to this channel.", HELP_LINES)


HELP = CommandSpec(
    "help", help_command, summary="What /papers can do", usage="help", help=None, defer=False
)
SPECS: tuple[CommandSpec, ...] = (
    *search.SPECS,
    *profile.SPECS,
    overview.LIST,
    *profile.EXCLUSIONS,
    overview.DIGEST,
    profile.SCHEDULE,
    weekly.SPEC,
    *lifecycle.SPECS,
    why.SPEC,
    trends.SPEC,
    *feedback.SPECS,
    HELP,
)
BY_NAME = {spec.name: spec for spec in SPECS}
SUBCOMMANDS = tuple(BY_NAME)
HELP_LINES = help_lines(SPECS)
