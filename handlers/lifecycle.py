"""Pausing and resuming a channel's digests from chat: /papers pause, /papers resume. Only
those who may manage the channel run them (spec permission). Nothing is lost while paused:
the first digest after resuming covers the papers since the channel's last one."""

from __future__ import annotations

from bot.schedule import next_fire
from bot.store import aio
from bot.store.profiles import ChannelStateError
from handlers.common import ensure_profile, error, now, when
from handlers.reply import CommandRequest, Reply
from handlers.services import Services
from handlers.spec import ME, Command, CommandSpec


def _no_argument(command: Command) -> Command | Reply:
    if command.arg.strip():
        return error(
            f"/papers {command.name} takes nothing after it.",
            f"It {command.name}s this channel's digests: /papers {command.name}",
        )
    return command


async def pause(command: Command, request: CommandRequest, services: Services) -> Reply:
    def change() -> bool:
        ensure_profile(request, services)
        return services.profiles.pause(request.platform, request.channel_id, now=now(services))

    try:
        changed = await aio.run(change)
    except ChannelStateError as e:
        return error(f"This channel can't be paused: {e}.")
    head = "This channel's digests are paused." if changed else "This channel is already paused."
    return Reply(
        head,
        (
            "No digest is posted until /papers resume; the first one after it covers the "
            "papers since the last digest, so nothing is lost. /papers still works here.",
        ),
    )


async def resume(command: Command, request: CommandRequest, services: Services) -> Reply:
    def change() -> bool:
        ensure_profile(request, services)
        return services.profiles.resume(request.platform, request.channel_id, now=now(services))

    try:
        changed = await aio.run(change)
        profile = await aio.run(ensure_profile, request, services)
    except ChannelStateError as e:
        return error(f"This channel can't be resumed: {e}.")
    head = "This channel's digests are back on." if changed else "This channel is not paused."
    upcoming = next_fire(profile, now(services))
    lines = [f"Next digest: {when(upcoming, profile)}"] if upcoming else []
    if changed:
        lines.append("It covers the papers since the last digest; nothing is posted twice.")
    return Reply(head, tuple(lines))


SPECS = (
    CommandSpec(
        "pause",
        pause,
        summary="Stop this channel's digests until /papers resume",
        usage="pause",
        help="pause — stop this channel's digests until /papers resume (nothing is lost)",
        options=(ME,),
        permission="manage",
        check=_no_argument,
    ),
    CommandSpec(
        "resume",
        resume,
        summary="Start this channel's digests again (nothing lost)",
        usage="resume",
        help="resume — post this channel's digests again, from where they stopped",
        options=(ME,),
        permission="manage",
        check=_no_argument,
    ),
)
