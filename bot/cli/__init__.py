"""The `paperboy` command: parse arguments, build the app, run one command, set the exit status.

This package assembles the `cli` group from one module per kind of command, and `main` is
its console-script entry point (`paperboy`, and `python -m bot`):

- `common`: exit statuses, `fail`, the lazily built settings and app (`Context`)
- `ingest_cmd`: `ingest`
- `digest_cmd`: `digest`, `cycle`
- `relevance_cmd`: `match`, `eval relevance`
- `search_cmd`: `search` (the archive search of /papers, from the shell)
- `feedback_cmd`: `feedback` (a channel's votes from the shell)
- `service_cmd`: `run`, `status`, `channels`, `sync-commands`
- `database_cmd`: `migrate-db`
"""

from __future__ import annotations

import click

from bot import __version__
from bot.cli import learn_cmd  # noqa: F401  (registers `eval feedback`)
from bot.cli.common import CONFIG_HELP, Context, PaperboyGroup
from bot.cli.database_cmd import migrate_db
from bot.cli.digest_cmd import cycle, digest
from bot.cli.feedback_cmd import feedback_cmd
from bot.cli.ingest_cmd import ingest
from bot.cli.relevance_cmd import eval_group, match_cmd
from bot.cli.search_cmd import search_cmd
from bot.cli.service_cmd import channels, run, status, sync_commands_cmd


@click.group(cls=PaperboyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="paperboy")
@click.option(
    "--config",
    "config",
    metavar="FILE",
    help=CONFIG_HELP,
)
@click.pass_context
def cli(ctx: click.Context, config: str | None) -> None:
    """Paperboy brings the day's research papers into Slack and Discord channels."""
    ctx.obj = Context(config)


for _command in (
    ingest,
    cycle,
    digest,
    channels,
    match_cmd,
    search_cmd,
    feedback_cmd,
    eval_group,
    migrate_db,
    sync_commands_cmd,
    run,
    status,
):
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="paperboy")
