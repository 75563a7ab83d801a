"""The long-running service and the state it works from: `paperboy run` (the service),
`paperboy status` (what was fetched and posted, and what is failing), `paperboy channels`
(each channel's origin, state, effective profile and next digest; `pause`, `resume`,
`remove` and `move` a channel) and `paperboy sync-commands` (register the /papers slash
commands with Discord)."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime

import click
from sqlalchemy.exc import SQLAlchemyError

from bot.cli.common import EXIT_CONFIG, EXIT_FAILURE, Context, fail, pass_ctx, run_async
from bot.errors import ConfigError, PaperboyError, StoreError
from bot.models import PLATFORMS, Profile
from bot.store.db import describe
from bot.store.profile_rules import (
    PAUSED,
    REMOVED,
    ChannelEntry,
    format_profile,
    is_person_ref,
    split_ref,
)
from bot.store.profiles import ChannelStateError, UnknownChannelError


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


@click.group(invoke_without_command=True)
@click.pass_context
def channels(click_ctx: click.Context) -> None:
    """Each channel's origin (configuration or chat), state (active, paused, removed) and
    effective profile (configuration merged with changes from chat); `pause`, `resume`,
    `remove` or `move` one.

    The listing is read-only: an existing database is left unchanged (the configuration is
    merged as the next writing command will apply it, without storing it).
    """
    if click_ctx.invoked_subcommand is None:
        _list_channels(click_ctx.find_object(Context))


def _list_channels(ctx: Context | None) -> None:
    assert ctx is not None
    with ctx.app(read_only=True) as app:
        entries = app.profiles.preview(app.settings.profiles()).channels
        now = app.clock()
    channels = [e for e in entries if not e.person]
    persons = [e for e in entries if e.person]
    if not channels:
        click.echo("no channels: add some under 'channels:' in the configuration")
    for i, entry in enumerate(channels):
        if i:
            click.echo("")
        click.echo(_describe(entry, now))
    if persons:  # apart: one person's own alerts (by DM), shown only to the operator
        click.echo(f"\npersonal alerts by direct message ({len(persons)}):")
        for entry in persons:
            click.echo("")
            click.echo(_describe(entry, now))


def _describe(entry: ChannelEntry, now: datetime) -> str:
    profile, state = entry.profile, entry.describe()
    if entry.state == REMOVED:
        head = f"{profile.ref} ({profile.name})" if profile.name else profile.ref
        how = (
            "put it back in the configuration"
            if entry.origin == "config" and entry.state_by == "config"
            else f"paperboy channels resume {profile.ref}"
        )
        return f"{head} — {state}\n  no digests; its profile and posted history are kept ({how})"
    if entry.state == PAUSED:
        upcoming = f"none (paused: paperboy channels resume {profile.ref})"
    else:
        upcoming = _next_digest(profile, now)
    return format_profile(profile, next_digest=upcoming, state=state)


def _ref(text: str, known: list[ChannelEntry]) -> tuple[str, str]:
    """PLATFORM:ID, or an ID that names one known channel, as (platform, channel id)."""
    if is_person_ref(text):  # a person's own alerts: user:slack:U1
        return split_ref(text)
    platform, sep, channel_id = text.partition(":")
    if sep and platform in PLATFORMS and channel_id:
        return platform, channel_id
    named = [e.profile for e in known if e.profile.channel_id == text]
    if len(named) == 1:
        return named[0].platform, named[0].channel_id
    refs = ", ".join(e.ref for e in known) or "none"
    fail(f"{text!r} is not a channel: give PLATFORM:ID (known: {refs})", EXIT_CONFIG)


def _name(ref: tuple[str, str], text: str, known: list[ChannelEntry]) -> str:
    """How the shell names `ref`: its stored ref (a person's `user:<platform>:<id>`, however
    it was typed), or as typed when nothing has it."""
    for entry in known:
        if (entry.profile.platform, entry.profile.channel_id) == ref:
            return entry.ref
    return text if is_person_ref(text) else f"{ref[0]}:{ref[1]}"


def _change(ctx: Context, ref_text: str, action: str) -> None:
    """Pause, resume or remove one channel or person (after applying the configuration).
    A person is named by their `user:` ref in every message, as the commands take it."""
    with ctx.app() as app:
        ref = _ref(ref_text, app.profiles.channels())
        name = _name(ref, ref_text, app.profiles.channels())
        change = {"pause": app.profiles.pause, "resume": app.profiles.resume}.get(
            action, app.profiles.remove
        )
        try:
            changed = change(*ref, now=app.clock())
        except UnknownChannelError:
            known = ", ".join(e.ref for e in app.profiles.channels()) or "none"
            what = "person" if is_person_ref(name) else "channel"
            fail(f"no {what} {name} (known: {known})", EXIT_CONFIG)
        except (ChannelStateError, ValueError) as e:
            fail(str(e), EXIT_CONFIG)
        entry = app.profiles.entry(*ref)
        name = entry.ref if entry is not None else name
        configured = {p.ref for p in app.settings.profiles()}
        now = app.clock()
    assert entry is not None
    if not changed:
        click.echo(f"{name} already was {entry.state}")
        return
    if action == "pause":
        click.echo(
            f"{name} paused: no digests until `paperboy channels resume {name}`; the first "
            "digest after it covers the papers since its last one (nothing is lost)"
        )
    elif action == "resume":
        click.echo(
            f"{name} resumed: next digest {_next_digest(entry.profile, now)}, covering the "
            "papers since its last one (nothing it was sent is posted again)"
        )
    else:
        click.echo(
            f"{name} removed: no more digests; its profile and posted history are kept "
            f"(`paperboy channels resume {name}` brings it back, nothing posted twice)"
        )
        if name in configured:
            click.echo(
                f"note: {name} is still in the configuration ({ctx.settings.source_file}); "
                "it stays removed until resumed: delete it there too"
            )


@channels.command("pause")
@click.argument("ref", metavar="PLATFORM:ID")
@pass_ctx
def pause_cmd(ctx: Context, ref: str) -> None:
    """No digests for the channel (scheduled or `paperboy digest`) until `resume`."""
    _change(ctx, ref, "pause")


@channels.command("resume")
@click.argument("ref", metavar="PLATFORM:ID")
@pass_ctx
def resume_cmd(ctx: Context, ref: str) -> None:
    """Digests again for a paused channel (or one removed with `remove`): the first covers
    the papers since its last digest; nothing is posted twice."""
    _change(ctx, ref, "resume")


@channels.command("remove")
@click.argument("ref", metavar="PLATFORM:ID")
@pass_ctx
def remove_cmd(ctx: Context, ref: str) -> None:
    """No more digests for the channel; its profile and posted history are kept."""
    _change(ctx, ref, "remove")


@channels.command("move")
@click.argument("old", metavar="OLD")
@click.argument("new", metavar="NEW")
@pass_ctx
def move_cmd(ctx: Context, old: str, new: str) -> None:
    """Give channel OLD the id NEW (PLATFORM:ID each; a Slack channel converted, a Discord
    channel recreated), with its profile, posted ledger, digest runs and feedback: nothing
    already sent is posted again. Rename it in the configuration first when it is there."""
    with ctx.app() as app:
        known = app.profiles.channels()
        old_ref = _ref(old, known)
        platform, sep, channel_id = new.partition(":")
        if not (sep and platform in PLATFORMS and channel_id):
            fail(f"NEW {new!r}: give PLATFORM:ID (platforms: {', '.join(PLATFORMS)})", EXIT_CONFIG)
        old_name = _name(old_ref, old, known)
        if old_name in {p.ref for p in app.settings.profiles()}:
            fail(
                f"{old_name} is still in the configuration ({ctx.settings.source_file}): "
                f"change its id to {new} there first, then move it",
                EXIT_CONFIG,
            )
        try:
            entry = app.profiles.move(old_ref, (platform, channel_id), now=app.clock())
        except UnknownChannelError:
            refs = ", ".join(e.ref for e in known) or "none"
            fail(f"no channel {old_name} (known: {refs})", EXIT_CONFIG)
        except (ChannelStateError, ValueError) as e:
            fail(str(e), EXIT_CONFIG)
    click.echo(
        f"moved {old_name} to {entry.ref} with its profile, posted history, digest runs and "
        f"feedback ({entry.describe()}); nothing already posted is posted again"
    )


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
