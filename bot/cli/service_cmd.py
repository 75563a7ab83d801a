"""The long-running service and the state it works from: `paperboy run` (the service),
`paperboy status` (what was fetched and posted, and what is failing), `paperboy channels`
(each channel's effective profile and next digest) and `paperboy sync-commands` (register
the /papers slash commands with Discord)."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime

import click
from sqlalchemy.exc import SQLAlchemyError

from bot.cli.common import EXIT_CONFIG, EXIT_FAILURE, Context, fail, pass_ctx, run_async
from bot.errors import ConfigError, PaperboyError, StoreError
from bot.models import Profile
from bot.store.db import describe
from bot.store.profile_rules import format_profile


@click.command()
@pass_ctx
def run(ctx: Context) -> None:
    """Run the service: fetch on schedule, post each channel's digest at its local time,
    answer /papers in Slack and Discord (whichever are configured). Stops cleanly on
    SIGTERM or Ctrl-C. Logs are JSON lines on stderr, secrets redacted."""
    from bot.logs import configure_logging, settings_secrets
    from bot.runner import serve

    settings = ctx.settings
    configure_logging(settings.log_level, secrets=settings_secrets(settings))
    try:
        code = asyncio.run(serve(settings))
    except (StoreError, SQLAlchemyError) as e:  # as the other commands: one line, no SQL
        fail(describe(e), EXIT_FAILURE)
    except PaperboyError as e:
        fail(str(e), EXIT_FAILURE)
    sys.exit(code)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="The status as one JSON object.")
@pass_ctx
def status(ctx: Context, as_json: bool) -> None:
    """Last fetch and result per source, last digest and result per channel, and what is
    failing. Exit status 1 when something is failing."""
    from bot.status import collect_status, format_status

    with ctx.app(read_only=True) as app:
        report = collect_status(app, check_database=True)
    if as_json:
        click.echo(json.dumps(report.as_json(), ensure_ascii=False))
    else:
        click.echo(format_status(report))
    if report.failing:
        sys.exit(EXIT_FAILURE)


@click.command()
@pass_ctx
def channels(ctx: Context) -> None:
    """Each channel's effective profile (configuration merged with changes from chat).

    Read-only: an existing database is left unchanged (the configuration is merged as the
    next writing command will apply it, without storing it).
    """
    with ctx.app(read_only=True) as app:
        profiles = app.channel_profiles()
        report = app.seed_report
        now = app.clock()
    if report.not_in_config:
        click.echo(f"({len(report.not_in_config)} channel(s) exist only from chat changes)")
    if not profiles:
        click.echo("no channels: add some under 'channels:' in the configuration")
    for i, profile in enumerate(profiles):
        if i:
            click.echo("")
        click.echo(format_profile(profile, next_digest=_next_digest(profile, now)))


def _next_digest(profile: Profile, now: datetime) -> str:
    """When the channel's next scheduled digest is posted: weekday, local time, zone."""
    from bot.schedule import next_fire
    from bot.service import wants_digest
    from handlers.common import when

    if not wants_digest(profile):
        return "none (the channel follows no topics or authors)"
    fire = next_fire(profile, now)
    if fire is None:
        return "none (the schedule never fires)"
    return when(fire, profile)


@click.command("sync-commands")
@click.option("--guild", "guild_id", type=int, metavar="ID", help="Only this server (at once).")
@pass_ctx
def sync_commands_cmd(ctx: Context, guild_id: int | None) -> None:
    """Register the /papers slash commands with Discord, in one server or globally (global
    commands may take an hour to appear). Run it after installing or upgrading: Discord
    limits command creations per day, so Paperboy never syncs by itself."""
    from bot.chat.discord_app import sync_commands

    settings = ctx.settings
    if settings.discord.bot_token is None or not settings.discord.bot_token.get_secret_value():
        fail("discord.bot_token is not set: configure the Discord bot's token", EXIT_CONFIG)
    try:
        names = run_async(lambda: sync_commands(settings.discord, guild_id=guild_id))
    except ConfigError as e:
        fail(str(e), EXIT_CONFIG)
    except PaperboyError as e:
        fail(str(e), EXIT_FAILURE)
    where = f"server {guild_id}" if guild_id is not None else "all servers (may take an hour)"
    click.echo(f"synced {len(names)} command(s) to {where}:")
    for name in names:
        click.echo(f"  {name}")
